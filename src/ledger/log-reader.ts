import { Injectable } from '@nestjs/common';
import {
  TILE_WIDTH,
  assembleTile,
  consistencyProofRanges,
  encodeEntryBundle,
  entryBundleLeafRange,
  entryBundleServableForSize,
  hashRanges,
  inclusionProofRanges,
  nodeIdsForRanges,
  parseTilePath,
  tileNodeIds,
  tileServableForSize,
} from '@audit/ledger';
import { BeyondLogError, NoCheckpointError, NoSuchTileError, UnknownLogError } from './ledger.errors';
import type { ReadTarget } from '../platform';
import { LogHead, LogStore, Sql } from './log-store';

export interface InclusionProof {
  readonly index: number;
  readonly size: number;
  readonly leafHash: string;
  readonly proof: string[];
}

export interface ConsistencyProof {
  readonly from: number;
  readonly size: number;
  readonly proof: string[];
}

/** A tile or entry bundle, and whether it can never change (full) and may be cached for good. */
export interface TileData {
  readonly bytes: Buffer;
  readonly immutable: boolean;
}

/**
 * Whether a LogReader read failed because the server it ran on does not hold the log up to what
 * was asked: a standby behind its primary fails so where the primary may answer.
 */
export function lacksEntries(error: unknown): boolean {
  return error instanceof BeyondLogError || error instanceof NoSuchTileError || error instanceof UnknownLogError;
}

/**
 * Serves what an outside verifier needs from stored nodes: checkpoints, proofs, hash tiles and
 * entry bundles, for any tree size up to the committed head (so a proof is available as soon as
 * the append is acknowledged). Every read runs scoped to the caller's `tenants` (`['*']` for
 * all): a log outside them is unknown to the database too, even if a route forgot to check.
 * Proofs and tiles take `on`, the server to read (the primary when not given): a standby that
 * holds the log below the asked size answers as the primary would, and one that does not says so
 * with BeyondLogError, NoSuchTileError or UnknownLogError (docs/architecture.md "Read replicas").
 */
@Injectable()
export class LogReader {
  constructor(private readonly store: LogStore) {}

  async latestCheckpoint(log: string, tenants: readonly string[]): Promise<string> {
    return this.store.tenantScoped(tenants, async (sql) => {
      const checkpoint = await this.store.latestCheckpoint(log, sql);
      if (!checkpoint) {
        if (!(await this.store.head(log, sql))) throw new UnknownLogError();
        throw new NoCheckpointError();
      }
      return checkpoint.note;
    });
  }

  async inclusionProof(
    log: string,
    index: number,
    size: number,
    tenants: readonly string[],
    on?: ReadTarget,
  ): Promise<InclusionProof> {
    return this.store.tenantScoped(
      tenants,
      async (sql) => {
        const head = await this.headOf(log, sql);
        if (size > head.size) throw new BeyondLogError(`size ${size} is beyond the log's ${head.size} entries`);
        if (index >= size) throw new BeyondLogError(`index ${index} is not below size ${size}`);
        const ranges = inclusionProofRanges(index, size);
        const lookup = await this.store.nodeLookup(log, [...nodeIdsForRanges(ranges), { level: 0, index }], sql);
        return {
          index,
          size,
          leafHash: lookup({ level: 0, index }).toString('base64'),
          proof: hashRanges(ranges, lookup).map((h) => h.toString('base64')),
        };
      },
      { on },
    );
  }

  async consistencyProof(
    log: string,
    from: number,
    size: number,
    tenants: readonly string[],
    on?: ReadTarget,
  ): Promise<ConsistencyProof> {
    return this.store.tenantScoped(
      tenants,
      async (sql) => {
        const head = await this.headOf(log, sql);
        if (size > head.size) throw new BeyondLogError(`size ${size} is beyond the log's ${head.size} entries`);
        if (from > size) throw new BeyondLogError(`from ${from} is larger than size ${size}`);
        const ranges = consistencyProofRanges(from, size);
        const lookup = await this.store.nodeLookup(log, nodeIdsForRanges(ranges), sql);
        return { from, size, proof: hashRanges(ranges, lookup).map((h) => h.toString('base64')) };
      },
      { on },
    );
  }

  /** The tile or entry bundle at `path` (`tile/...`), or UnknownLogError/BeyondLogError. */
  async tile(log: string, path: string, tenants: readonly string[], on?: ReadTarget): Promise<TileData> {
    const parsed = parseTilePath(path);
    return this.store.tenantScoped(
      tenants,
      async (sql) => {
        const head = await this.headOf(log, sql);
        if (parsed.kind === 'entries') {
          if (!entryBundleServableForSize(parsed.index, parsed.width, head.size)) throw new NoSuchTileError();
          const { start, end } = entryBundleLeafRange(parsed.index, parsed.width);
          return {
            bytes: encodeEntryBundle(await this.store.leaves(log, start, end, sql)),
            immutable: parsed.width === TILE_WIDTH,
          };
        }
        if (!tileServableForSize(parsed.tile, head.size)) throw new NoSuchTileError();
        const ids = tileNodeIds(parsed.tile);
        const lookup = await this.store.nodeLookup(log, ids, sql);
        return { bytes: assembleTile(ids.map(lookup), parsed.tile.width), immutable: parsed.tile.width === TILE_WIDTH };
      },
      { on },
    );
  }

  private async headOf(log: string, sql: Sql): Promise<LogHead> {
    const head = await this.store.head(log, sql);
    if (!head) throw new UnknownLogError();
    return head;
  }
}
