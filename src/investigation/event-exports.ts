import { Inject, Injectable, Logger } from '@nestjs/common';
import { EXPORT_FORMAT_VERSION, formatExportEntry, formatExportHeader } from '@audit/ledger';
import { Readable } from 'node:stream';
import { readableLog } from '../access';
import { Principal } from '../access';
import { CheckpointSigner } from '../ledger';
import { UnknownLogError } from '../ledger';
import { LogStore } from '../ledger';
import { SigningKey } from '../ledger';
import { Clock, CLOCK, ReadReplica, type ReadFrom, type ReadTarget } from '../platform';
import { CosignedCheckpoints, type CosignedCheckpoint } from '../witness';
import { csvRow } from './csv';
import { ExportQuery, SearchPosition, withheldFilterRecord } from './event-query';
import { EventSearchStore, StoredEvent } from './event-search.store';
import { SearchProjector } from './search-projector';
import { eventView } from './event-view';
import { inclusionProofs } from './inclusion-proofs';
import { leafMatchesFilter } from './projection-quarantine';

/** Whether a quarantined entry's leaf matches the filter; a leaf that does not even parse is listed, not exported. */
function leafMatches(leaf: Buffer, filter: ExportQuery['filter']): boolean {
  try {
    return leafMatchesFilter(JSON.parse(leaf.toString('utf8')), filter);
  } catch {
    return false;
  }
}

/** Entries read, proven and written per step: bounds memory whatever the export's size. */
const PAGE = 1000;

/** Quarantined entries an export accounts for at most (their leaves are read at once). */
const QUARANTINE_READ = 1000;

const CSV_COLUMNS = [
  'index',
  'id',
  'recordedAt',
  'occurredAt',
  'source',
  'type',
  'category',
  'actorType',
  'actorId',
  'targetType',
  'targetId',
  'outcome',
  'subject',
  'context',
  'personal',
  'leafHash',
];

/** A streaming export: its content type, a file name, and the stream. */
export interface ExportStream {
  readonly contentType: string;
  readonly fileName: string;
  readonly stream: Readable;
  /** Which server the entries are read from (`x-audit-read-from`); absent where several exports are joined. */
  readonly readFrom?: ReadFrom;
}

/**
 * Exports of one log (docs/api.md "Exports"): the entries matching a filter, oldest first, below
 * a checkpoint signed for the export, each with its leaf bytes, personal data (or the erased
 * marker) and inclusion proof; NDJSON that the offline verifier checks, or CSV for spreadsheets.
 * Streamed page by page as the client reads: memory stays flat whatever the export's size.
 */
@Injectable()
export class EventExports {
  private readonly logger = new Logger(EventExports.name);

  constructor(
    private readonly store: LogStore,
    private readonly search: EventSearchStore,
    private readonly projector: SearchProjector,
    private readonly signer: CheckpointSigner,
    private readonly key: SigningKey,
    private readonly cosigned: CosignedCheckpoints,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly replica: ReadReplica,
  ) {}

  /** Prepares the export (checkpoint, count) and returns its stream; nothing is read until it is consumed. */
  async open(principal: Principal, query: ExportQuery): Promise<ExportStream> {
    const log = readableLog(query.filter.tenant, principal);
    const head = await this.store.tenantScoped(principal.tenants, (sql) => this.store.head(log, sql));
    if (!head) throw new UnknownLogError();
    const checkpoint = await this.checkpointFor(log, head.size, query.quorum === true);
    await this.projector.catchUp([log]);
    // The read replica once it has replayed the checkpoint and the catch-up (it only moves on, so
    // every later page finds them too), else the primary for the whole export.
    const caught = await this.replica.caughtUp();
    const {
      value: { count, quarantined, extra },
      from,
    } = await this.replica.within(caught, (on) =>
      this.store.tenantScoped(
        principal.tenants,
        async (sql) => {
          // Quarantined entries have no read-model row for the filter to select: the service matches
          // their leaves itself, so one that matches is exported (leaf and proof) like the rest, and
          // the header lists every one in range either way: a poisoned entry cannot hide itself.
          const leaves = await this.search.quarantinedLeaves(sql, log, checkpoint.size, query.filter, QUARANTINE_READ);
          // A personal filter is matched in the ledger's search index, which an entry has whether or
          // not the read model could project it.
          const extra = await this.search.personalMatches(
            sql,
            log,
            leaves.filter((q) => leafMatches(q.leaf, query.filter)).map((q) => q.index),
            query.filter,
          );
          return {
            count: (await this.search.exportCount(sql, query.filter, checkpoint.size)) + extra.length,
            quarantined: leaves.map((q) => q.index),
            extra,
          };
        },
        { on },
      ),
    );
    const on = from === 'replica' ? caught : this.replica.onPrimary;
    const pages = this.pages(principal, query, checkpoint.size, extra, on);
    const lines =
      query.format === 'csv'
        ? this.csv(pages)
        : this.ndjson(
            pages,
            formatExportHeader({
              v: EXPORT_FORMAT_VERSION,
              log,
              checkpoint: checkpoint.note,
              key: this.key.verifierKey,
              count,
              filter: withheldFilterRecord(query.filter),
              exportedAt: this.clock.now().toISOString(),
              quarantined,
              ...(checkpoint.quorumMet !== null
                ? { witnessed: { quorumMet: checkpoint.quorumMet, cosigners: checkpoint.cosigners } }
                : {}),
            }),
          );
    const stream = Readable.from(lines, { objectMode: false, highWaterMark: 1 << 16 });
    stream.on('error', (e) => this.logger.error(`export of log ${log} failed: ${e.message}`));
    return {
      contentType: query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
      fileName: `audit-${log}-${checkpoint.size}.${query.format}`,
      stream,
      readFrom: from,
    };
  }

  /**
   * The checkpoint an export is cut at, with the witnesses' cosignatures stored for it so far:
   * everything committed when the export starts (a checkpoint signed for it if need be), or, with
   * `quorum`, the latest checkpoint whose cosignatures met the witness policy's quorum
   * (NoQuorumCheckpointError when none has yet).
   */
  private async checkpointFor(log: string, headSize: number, quorum: boolean): Promise<CosignedCheckpoint> {
    if (quorum) return this.cosigned.latestWithQuorum(log);
    const checkpoint = await this.signer.checkpointCovering(log, headSize);
    if (!checkpoint) throw new Error(`log ${log} could not be checkpointed for an export`);
    return this.cosigned.withCosignatures(log, checkpoint.note, checkpoint.size);
  }

  /**
   * The matching entries below `size`, a page at a time, each with its proof. The next page is
   * read while this one is formatted and sent, so the database and the stream work side by side;
   * at most two pages are held.
   */
  private async *pages(
    principal: Principal,
    query: ExportQuery,
    size: number,
    extra: readonly number[],
    on: ReadTarget,
  ): AsyncGenerator<{ events: StoredEvent[]; proofs: string[][] }> {
    // A short transaction per page: a slow reader holds no connection between pages. A replica
    // that stops answering hands the rest to the primary (which holds at least as much).
    const read = async (after: SearchPosition | null) =>
      (
        await this.replica.within(on, (target) =>
          this.store.tenantScoped(
            principal.tenants,
            async (sql) => {
              const events = await this.search.exportPage(sql, query.filter, size, after, PAGE, extra);
              const proofs = await inclusionProofs(
                this.store,
                sql,
                query.filter.tenant,
                size,
                events.map((e) => e.index),
              );
              return { events, proofs };
            },
            { on: target },
          ),
        )
      ).value;
    let next: ReturnType<typeof read> | null = read(null);
    try {
      while (next) {
        const page: Awaited<ReturnType<typeof read>> = await next;
        const last = page.events[page.events.length - 1];
        next =
          page.events.length < PAGE ? null : read({ recordedAt: last.recordedAt, log: last.log, index: last.index });
        if (page.events.length > 0) yield page;
      }
    } finally {
      // A consumer that stops early (the client went away) leaves a read in flight: let it end quietly.
      next?.catch(() => undefined);
    }
  }

  private async *ndjson(
    pages: AsyncGenerator<{ events: StoredEvent[]; proofs: string[][] }>,
    header: string,
  ): AsyncGenerator<string> {
    yield header;
    for await (const { events, proofs } of pages) {
      let chunk = '';
      events.forEach((event, i) => {
        const personal = event.personal;
        chunk += formatExportEntry({
          index: event.index,
          leaf: event.leaf.toString('base64'),
          proof: proofs[i],
          ...(personal
            ? {
                personal:
                  personal.erased || personal.salt === null
                    ? { erased: true as const }
                    : { data: personal.data as Record<string, never>, salt: personal.salt.toString('base64') },
              }
            : {}),
        });
      });
      yield chunk;
    }
  }

  private async *csv(pages: AsyncGenerator<{ events: StoredEvent[]; proofs: string[][] }>): AsyncGenerator<string> {
    yield csvRow(CSV_COLUMNS);
    for await (const { events } of pages) {
      let chunk = '';
      for (const event of events) {
        const view = eventView(event) as unknown as Record<string, unknown> & {
          actor: { type: string; id: string };
          target?: { type: string; id: string };
          personal?: { subject: string; data?: unknown; erased?: true };
        };
        chunk += csvRow([
          String(view.index),
          String(view.id),
          String(view.recordedAt),
          String(view.occurredAt),
          String(view.source),
          String(view.type),
          String(view.category),
          view.actor.type,
          view.actor.id,
          view.target?.type ?? '',
          view.target?.id ?? '',
          String(view.outcome),
          view.personal?.subject ?? '',
          view.context === undefined ? '' : JSON.stringify(view.context),
          view.personal === undefined ? '' : view.personal.erased ? 'erased' : JSON.stringify(view.personal.data),
          String(view.leafHash),
        ]);
      }
      yield chunk;
    }
  }
}
