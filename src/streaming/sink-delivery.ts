import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { JsonValue } from '@audit/ledger';
import { Counter, Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { CheckpointSigner, LogStore, PersonalDataReader, Sql } from '../ledger';
import { APP_CONFIG, AppConfig, CLOCK, Clock, MetricsService } from '../platform';
import { failureMessage, givesUp, retryDelayMs } from './delivery-backoff';
import { RelpUnacknowledgedError } from './relp';
import { DeliveryBatch } from './sink-formats';
import { SinkFormatter } from './sink-formatter';
import { isRelpUrl } from './sink-request';
import { SinkRecord, SinkStore } from './sink.store';
import { sendDelivery } from './sink-transport';

/**
 * The position after a batch `[…, to)` of which the first `acknowledged` of `indices` (the entries
 * the filters let through, in index order) were delivered: `to` when all were, else the index of
 * the first one not acknowledged, so a resend starts there and repeats nothing acknowledged.
 */
export function positionAfter(indices: readonly number[], acknowledged: number, to: number): number {
  return acknowledged >= indices.length ? to : indices[acknowledged];
}

/** What one delivery attempt did. */
// What a delivery reads: the entries [f, t) of each log (as text and hex, see `read`), and their
// personal data. Each a range of the primary key per log, never a join PostgreSQL may turn into a
// read of the whole table (it did so for the search projector's ranges at 5 million entries; the
// plan test is sink-delivery.plan.int-spec.ts).
export const DELIVERED_LEAVES = `SELECT e.log, convert_from(e.leaf, 'UTF8') AS leaf, encode(e.leaf_hash, 'hex') AS leaf_hash
  FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r(log, f, t),
  LATERAL (SELECT * FROM ledger_entries e WHERE e.log = r.log AND e.idx >= r.f AND e.idx < r.t OFFSET 0) e
  ORDER BY e.log, e.idx`;
export const DELIVERED_PERSONAL_DATA = `SELECT p.log, p.idx, p.subject, p.data, p.salt, p.sealed
  FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r(log, f, t),
  LATERAL (SELECT * FROM ledger_personal_data p WHERE p.log = r.log AND p.idx >= r.f AND p.idx < r.t OFFSET 0) p`;

export type DeliveryOutcome = 'sent' | 'idle' | 'busy' | 'failed';

/** A log's part of one delivery: entries [from, to) under the checkpoint `note`. */
interface DueRange {
  readonly log: string;
  readonly from: number;
  readonly to: number;
  readonly note: string;
}

/**
 * The delivery worker (the `worker` component). A delivery of a sink sends, for every log it
 * covers that a signed checkpoint holds beyond its position, that log's next batch: the entries
 * from the position up to the latest signed checkpoint (at most `batch`), read from the ledger,
 * never from the ingestion path, one request per log, the logs' requests side by side. It runs in
 * the transaction that holds the sink's row (`FOR UPDATE SKIP LOCKED`: one process per sink at a
 * time) and its position rows; a 2xx (or a syslog write that completed) moves that log's position
 * in that same transaction, anything else leaves it: at-least-once, in order per log. Over RELP
 * the position moves past exactly the messages the receiver acknowledged, even when the session
 * then broke. A sink that sent goes on at once; an idle one waits `pollMs`, or less when this
 * process signs a checkpoint (CheckpointSigner.onSigned).
 */
@Injectable()
export class SinkDelivery implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SinkDelivery.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  // A checkpoint was signed while a round ran: the next round starts at once.
  private woken = false;
  private unlisten: (() => void) | undefined;
  private readonly retryAt = new Map<string, number>();
  private readonly sent: Counter<'sink'>;
  private readonly failed: Counter<'sink'>;
  private readonly lag: Gauge<'sink'>;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly store: SinkStore,
    private readonly ledger: LogStore,
    private readonly personal: PersonalDataReader,
    private readonly signer: CheckpointSigner,
    private readonly formatter: SinkFormatter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    metrics: MetricsService,
  ) {
    const registers = [metrics.registry];
    this.sent = new Counter({
      name: 'audit_sink_sent_total',
      help: 'Entries delivered, per sink',
      labelNames: ['sink'],
      registers,
    });
    this.failed = new Counter({
      name: 'audit_sink_failed_total',
      help: 'Failed deliveries, per sink',
      labelNames: ['sink'],
      registers,
    });
    this.lag = new Gauge({
      name: 'audit_sink_lag_entries',
      help: 'Entries committed but not yet delivered, per sink',
      labelNames: ['sink'],
      registers,
    });
  }

  onModuleInit(): void {
    this.unlisten = this.signer.onSigned(() => this.wake());
    this.timer = setTimeout(this.tick, this.config.sinks.pollMs);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.unlisten?.();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.woken = false;
    this.running = this.deliverAll()
      .catch((error: unknown) => {
        this.logger.warn(`sink delivery round failed: ${failureMessage(error)}`);
        return false;
      })
      .then((more) => {
        if (!this.stopped) this.timer = setTimeout(this.tick, more || this.woken ? 0 : this.config.sinks.pollMs);
      });
  };

  /** A new checkpoint: an idle worker looks at once rather than at its next poll. */
  private wake(): void {
    if (this.stopped) return;
    if (this.timer === undefined) {
      this.woken = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(this.tick, 0);
  }

  /**
   * One round: every active sink whose retry time has come sends until it is idle or fails (or
   * 20 deliveries, so one sink does not hold the others). True when one stopped at that bound.
   */
  async deliverAll(): Promise<boolean> {
    let more = false;
    for (const sink of await this.store.all()) {
      if (sink.status !== 'active' || (this.retryAt.get(sink.id) ?? 0) > Date.now()) continue;
      let outcome: DeliveryOutcome = 'idle';
      for (let round = 0; round < 20 && !this.stopped; round++)
        if ((outcome = await this.deliverOnce(sink.id)) !== 'sent') break;
      if (outcome === 'sent') more = true;
      const lag = (await this.store.positions(sink)).reduce((sum, p) => sum + p.lag, 0);
      this.lag.set({ sink: sink.id }, lag);
    }
    return more;
  }

  /** Sends the next batch of every log of one sink that has one, if any. */
  async deliverOnce(id: string): Promise<DeliveryOutcome> {
    let failure: unknown;
    let outcome: DeliveryOutcome = 'idle';
    try {
      outcome = await this.db.transaction(async (manager) => {
        const sql: Sql = (text, params) => manager.query(text, params);
        const locked = await this.store.lockForDelivery(id, sql);
        if (locked === undefined) return 'busy';
        const { sink, secret } = locked;
        const positions = await this.store.lockPositions(sql, sink);
        const checkpoints = await this.ledger.latestCheckpoints(
          positions.map((p) => p.log),
          sql,
        );
        const due: DueRange[] = [];
        for (const { log, position } of positions) {
          const checkpoint = checkpoints.get(log);
          if (checkpoint === undefined || position >= checkpoint.size) continue;
          const to = Math.min(checkpoint.size, position + this.config.sinks.batch);
          due.push({ log, from: position, to, note: checkpoint.note });
        }
        if (due.length === 0) return 'idle';
        const read = await this.read(sql, sink, due);
        const now = Math.floor(this.clock.now().getTime() / 1000);
        const results = await Promise.all(
          due.map(async (range, i): Promise<{ acknowledged: number; indices: number[]; error?: unknown }> => {
            let indices: number[] = [];
            try {
              const formatted = await this.formatter.format({
                kind: sink.kind,
                relp: isRelpUrl(sink.url),
                ...read[i],
                categories: sink.categories,
                types: sink.types,
                checkpoint: range.note,
                secret: secret ?? '',
                now,
                host: this.config.logOriginPrefix,
              });
              indices = formatted.indices;
              if (indices.length > 0) await sendDelivery(sink.url, formatted.payload, this.config.sinks.timeoutMs);
              return { acknowledged: indices.length, indices };
            } catch (error) {
              // RELP: what the receiver acknowledged is delivered and must not be sent again; the
              // position moves past it in this transaction, and the failure is still recorded.
              return {
                acknowledged: error instanceof RelpUnacknowledgedError ? error.acknowledged : 0,
                indices,
                error,
              };
            }
          }),
        );
        const moves = due.flatMap((range, i) => {
          const { acknowledged, indices, error } = results[i];
          if (error !== undefined && acknowledged === 0) return [];
          return [{ log: range.log, position: positionAfter(indices, acknowledged, range.to), sent: acknowledged }];
        });
        failure = results.find((r) => r.error !== undefined)?.error;
        // Nothing delivered: the transaction rolls back and the failure is recorded after it.
        if (moves.length === 0) throw failure;
        await this.store.advance(sql, id, moves);
        this.sent.inc(
          { sink: id },
          moves.reduce((sum, m) => sum + m.sent, 0),
        );
        if (failure !== undefined) return 'failed';
        if (sink.failures > 0)
          await sql(`UPDATE sinks SET failures = 0, last_error = NULL, last_error_at = NULL WHERE id = $1`, [id]);
        return 'sent';
      });
    } catch (error) {
      failure = error;
    }
    if (failure === undefined) {
      if (outcome === 'sent') this.retryAt.delete(id);
      return outcome;
    }
    await this.recordFailure(id, failureMessage(failure));
    return 'failed';
  }

  private async recordFailure(id: string, message: string): Promise<void> {
    this.failed.inc({ sink: id });
    const [row] = await this.db.query(
      `WITH f AS (UPDATE sinks SET failures = failures + 1, last_error = $2, last_error_at = $3,
         status = CASE WHEN failures + 1 >= $4 THEN 'error' ELSE status END
       WHERE id = $1 RETURNING failures) SELECT failures FROM f`,
      [id, message, this.clock.now(), this.config.sinks.maxFailures],
    );
    const failures = Number(row?.failures ?? 1);
    const { backoffMs, maxBackoffMs, maxFailures } = this.config.sinks;
    this.retryAt.set(id, Date.now() + retryDelayMs(failures, backoffMs, maxBackoffMs, Math.random()));
    this.logger.warn(
      `sink ${id}: ${message} (${failures} in a row${givesUp(failures, maxFailures) ? ', now in error' : ''})`,
    );
  }

  /**
   * Each range's leaves and leaf hashes, from one read, and for a sink that carries personal data
   * the opened personal data of its entries (null where erased). The leaf comes as text and its hash
   * as hex from the server: bytea travels as hex text, twice its size, and was decoded here only
   * to be turned back into text (the leaf) or hex (the hash). Parsing and filtering are the
   * formatter's (formatDelivery), off this thread.
   */
  private async read(
    sql: Sql,
    sink: SinkRecord,
    due: readonly DueRange[],
  ): Promise<Pick<DeliveryBatch, 'leaves' | 'leafHashes' | 'personal'>[]> {
    const ranges = [due.map((r) => r.log), due.map((r) => r.from), due.map((r) => r.to)];
    const rows = await sql(DELIVERED_LEAVES, ranges);
    const byLog = new Map(
      due.map((r) => [
        r.log,
        { leaves: [] as string[], leafHashes: [] as string[], personal: null as Map<number, JsonValue | null> | null },
      ]),
    );
    for (const row of rows) {
      const batch = byLog.get(row.log as string);
      batch?.leaves.push(row.leaf as string);
      batch?.leafHashes.push(row.leaf_hash as string);
    }
    if (sink.personalData) {
      const stored = await sql(DELIVERED_PERSONAL_DATA, ranges);
      const opened = await this.personal.openViewRows(undefined, stored);
      for (const batch of byLog.values()) batch.personal = new Map();
      stored.forEach((row, i) =>
        byLog
          .get(row.log as string)
          ?.personal?.set(Number(row.idx), (opened[i]?.data as JsonValue | undefined) ?? null),
      );
    }
    return due.map((r) => byLog.get(r.log) as Pick<DeliveryBatch, 'leaves' | 'leafHashes' | 'personal'>);
  }
}
