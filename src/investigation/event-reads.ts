import { Injectable } from '@nestjs/common';
import { CheckpointSigner } from '../ledger';
import { LogStore, type Sql } from '../ledger';
import { readableLog } from '../access';
import { Principal, mayReadLog } from '../access';
import { SearchQuery, encodeCursor } from './event-query';
import { EventSearchStore, type StoredEvent } from './event-search.store';
import { SearchProjector } from './search-projector';
import { EventView, eventView } from './event-view';
import { inclusionProofs } from './inclusion-proofs';
import { EventNotFoundError } from './investigation.errors';
import { ReadReplica, type ReadFrom, type ReadTarget } from '../platform';

/** A read's answer, and the server it was read from (`x-audit-read-from`). */
export interface Served<T> {
  readonly value: T;
  readonly from: ReadFrom;
}

/** The read replica had not replayed the log up to the checkpoint a read cites. */
class ReplicaBehindError extends Error {}

export interface SearchPage {
  readonly items: EventView[];
  /** The cursor of the next (older) page, or null when this page is the last. */
  readonly nextCursor: string | null;
  /** Whether quarantined entries (no read-model row, so no filter applies) lie in the search's range. */
  readonly incomplete: boolean;
  /** Those entries, by log name and index (the first QUARANTINE_LISTED); empty when complete. */
  readonly quarantined: { readonly log: string; readonly index: number }[];
}

/** Quarantined entries a page lists at most; `GET /v1/logs/{log}/quarantine` lists them all. */
export const QUARANTINE_LISTED = 1000;

/** The type of an entry that corrects another's personal data (src/privacy), naming it as its target. */
const CORRECTION_TYPE = 'audit.correction';

/**
 * One entry with its proof of inclusion in a signed checkpoint of its log, and its leaf bytes
 * (standard base64) so that a client can hash them itself: SHA-256(0x00 ‖ leaf) is `leafHash`.
 */
export type EventWithProof = EventView & {
  readonly leaf: string;
  readonly inclusion: { readonly size: number; readonly checkpoint: string; readonly proof: string[] };
  /** Once its personal data is erased: when, and by which deletion request. */
  readonly erased?: { readonly at: string; readonly by: string | null };
};

/**
 * Search and single-entry reads for investigators. Every read runs tenant-scoped (the database
 * shows only the caller's tenants), on the search read model joined to the leaves, after bringing
 * the read model of the logs it reads up to date: a search sees every acknowledged entry.
 */
@Injectable()
export class EventReads {
  constructor(
    private readonly store: LogStore,
    private readonly search: EventSearchStore,
    private readonly projector: SearchProjector,
    private readonly signer: CheckpointSigner,
    private readonly replica: ReadReplica,
  ) {}

  /**
   * One page of entries matching the query, newest first. Without a tenant filter it searches
   * every tenant of the caller. Keyset paging on (recordedAt, log, index): an entry appended
   * while a caller pages never shifts the pages, and none is skipped or repeated.
   *
   * The read model is caught up on the primary; the page is read on the read replica once it has
   * replayed that (and every entry acknowledged before), else on the primary.
   */
  async find(principal: Principal, query: SearchQuery): Promise<Served<SearchPage>> {
    if (query.filter.tenant !== undefined) readableLog(query.filter.tenant, principal);
    const logs = principal.tenants.includes('*') ? null : principal.tenants;
    await this.projector.catchUp(query.filter.tenant !== undefined ? [query.filter.tenant] : logs);
    const on = await this.replica.caughtUp();
    const {
      value: { rows, quarantined },
      from,
    } = await this.replica.within(on, (target) =>
      this.store.tenantScoped(
        principal.tenants,
        async (sql) => ({
          // One more than the page: whether a next page exists, without counting.
          rows: await this.search.search(sql, query.filter, logs, query.after, query.limit + 1),
          // Every page of the search names them, whatever its filters: a quarantined entry has no row
          // to filter, so it may match, and must not vanish unseen (it could be the one that matters).
          quarantined: await this.search.quarantinedIn(
            sql,
            query.filter.tenant !== undefined ? [query.filter.tenant] : logs,
            query.filter,
            QUARANTINE_LISTED,
          ),
        }),
        { on: target },
      ),
    );
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    const value: SearchPage = {
      items: page.map(eventView),
      nextCursor:
        rows.length > query.limit
          ? encodeCursor(query.filter, { recordedAt: last.recordedAt, log: last.log, index: last.index })
          : null,
      incomplete: quarantined.length > 0,
      quarantined,
    };
    return { value, from };
  }

  /**
   * The entry with service id `id`, with an inclusion proof against the latest signed checkpoint
   * of its log (one is signed now if none covers the entry yet). A quarantined entry is served
   * from its leaf like any other.
   *
   * Read on the read replica once it has replayed what the primary held when the read began, and
   * the log up to the checkpoint the proof cites (which may be signed for this read); on the
   * primary otherwise.
   */
  async read(principal: Principal, id: string): Promise<Served<EventWithProof>> {
    await this.projector.catchUp(principal.tenants.includes('*') ? null : principal.tenants);
    const on = await this.replica.caughtUp();
    const found = await this.replica.within(on, (target) =>
      this.store.tenantScoped(principal.tenants, (sql) => this.search.byId(sql, id), { on: target }),
    );
    const stored = found.value;
    if (!stored || !mayReadLog(principal, stored.log)) throw new EventNotFoundError();
    const checkpoint = await this.signer.checkpointCovering(stored.log, stored.index + 1);
    // Signing never fails for an entry that is committed; if it did, the proof cannot be given.
    if (!checkpoint) throw new Error(`no checkpoint of log ${stored.log} covers entry ${stored.index}`);
    const proven = (target: ReadTarget) =>
      this.store.tenantScoped(
        principal.tenants,
        async (sql) => {
          // The checkpoint may be newer than what the replica had replayed when it was chosen: the
          // proof needs the log's nodes up to its size.
          if (target.from === 'replica' && ((await this.store.head(stored.log, sql))?.size ?? 0) < checkpoint.size)
            throw new ReplicaBehindError();
          return this.provenAt(sql, stored, id, checkpoint.size);
        },
        { on: target },
      );
    let from = found.from;
    let details: Awaited<ReturnType<typeof proven>>;
    try {
      ({ value: details, from } = await this.replica.within(from === 'replica' ? on : this.replica.onPrimary, proven));
    } catch (e) {
      if (!(e instanceof ReplicaBehindError)) throw e;
      from = 'primary';
      details = await proven(this.replica.onPrimary);
    }
    const { proof, corrections } = details;
    const value: EventWithProof = {
      ...eventView(stored),
      ...(corrections.length > 0 ? { corrections } : {}),
      ...(stored.personal?.erasure ? { erased: stored.personal.erasure } : {}),
      leaf: stored.leaf.toString('base64'),
      inclusion: { size: checkpoint.size, checkpoint: checkpoint.note, proof },
    };
    return { value, from };
  }

  /** The inclusion proof of `stored` in the tree of `size`, and the corrections that name it. */
  private async provenAt(
    sql: Sql,
    stored: StoredEvent,
    id: string,
    size: number,
  ): Promise<{ proof: string[]; corrections: { log: string; index: number }[] }> {
    return {
      proof: (await inclusionProofs(this.store, sql, stored.log, size, [stored.index]))[0],
      // Corrections (privacy: rectification) name the entry they correct as their target; the entry never changes.
      corrections: (
        await this.search.search(
          sql,
          { tenant: stored.log, type: CORRECTION_TYPE, targetType: 'event', target: id },
          [stored.log],
          null,
          QUARANTINE_LISTED,
        )
      ).map((c) => ({ log: c.log, index: c.index })),
    };
  }
}
