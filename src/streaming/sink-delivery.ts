import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { JsonValue, decodeLeaf, parseCheckpoint } from '@audit/ledger';
import { Counter, Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { LogReader, NoCheckpointError, PersonalDataReader, Sql } from '../ledger';
import { APP_CONFIG, AppConfig, CLOCK, Clock, MetricsService } from '../platform';
import { failureMessage, givesUp, retryDelayMs } from './delivery-backoff';
import { StreamedEntry } from './ocsf';
import { RelpUnacknowledgedError } from './relp';
import { hecBatch, ndjsonBatch, syslogFrames, syslogMessages } from './sink-formats';
import { isRelpUrl } from './sink-request';
import { SinkRecord, SinkStore } from './sink.store';
import { sendHttp, sendRelp, sendSyslog } from './sink-transport';

/**
 * The position after a batch `[…, to)` of which the first `acknowledged` of `entries` (those the
 * filters let through, in index order) were delivered: `to` when all were, else the index of the
 * first one not acknowledged, so a resend starts there and repeats nothing acknowledged.
 */
export function positionAfter(entries: readonly StreamedEntry[], acknowledged: number, to: number): number {
  return acknowledged >= entries.length ? to : entries[acknowledged].entry.index;
}

/** What one delivery attempt did. */
export type DeliveryOutcome = 'sent' | 'idle' | 'busy' | 'failed';

/**
 * The delivery worker (the `worker` component): every `pollMs`, each active sink sends its next
 * batch. A batch is the entries of one log from the sink's position up to the latest signed
 * checkpoint (at most `batch`), read from the ledger, never from the ingestion path. It is sent in
 * the transaction that holds the sink's row (`FOR UPDATE SKIP LOCKED`: one process per sink at a
 * time) and its position row; a 2xx (or a syslog write that completed) moves the position in that
 * same transaction, anything else rolls it back: at-least-once, in order per log. Over RELP the
 * position moves past exactly the messages the receiver acknowledged, even when the session then
 * broke.
 */
@Injectable()
export class SinkDelivery implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SinkDelivery.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly retryAt = new Map<string, number>();
  private readonly sent: Counter<'sink'>;
  private readonly failed: Counter<'sink'>;
  private readonly lag: Gauge<'sink'>;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly store: SinkStore,
    private readonly reader: LogReader,
    private readonly personal: PersonalDataReader,
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
    const tick = () => {
      this.running = this.deliverAll()
        .catch((error: unknown) => this.logger.warn(`sink delivery round failed: ${failureMessage(error)}`))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.config.sinks.pollMs);
        });
    };
    this.timer = setTimeout(tick, this.config.sinks.pollMs);
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round: every active sink whose retry time has come sends until it is idle or fails. */
  async deliverAll(): Promise<void> {
    for (const sink of await this.store.all()) {
      if (sink.status !== 'active' || (this.retryAt.get(sink.id) ?? 0) > Date.now()) continue;
      for (let round = 0; round < 20 && this.timer !== undefined; round++)
        if ((await this.deliverOnce(sink.id)) !== 'sent') break;
      const lag = (await this.store.positions(sink)).reduce((sum, p) => sum + p.lag, 0);
      this.lag.set({ sink: sink.id }, lag);
    }
  }

  /** Sends the next batch of one sink, if any. */
  async deliverOnce(id: string): Promise<DeliveryOutcome> {
    let failure: unknown;
    let outcome: DeliveryOutcome = 'idle';
    try {
      outcome = await this.db.transaction(async (manager) => {
        const sql: Sql = (text, params) => manager.query(text, params);
        const [locked] = await sql(`SELECT id FROM sinks WHERE id = $1 AND status = 'active' FOR UPDATE SKIP LOCKED`, [
          id,
        ]);
        if (locked === undefined) return 'busy';
        const sink = (await this.store.find(id, sql)) as SinkRecord;
        for (const { log } of await this.store.logsOf(sink.tenants, sql)) {
          const checkpoint = await this.checkpointOf(log);
          if (checkpoint === null) continue;
          await sql(
            `INSERT INTO sink_positions (sink_id, log, position, updated_at) VALUES ($1, $2, 0, now()) ON CONFLICT DO NOTHING`,
            [id, log],
          );
          const position = await this.store.lockPosition(sql, id, log);
          if (position >= checkpoint.size) continue;
          const to = Math.min(checkpoint.size, position + this.config.sinks.batch);
          const entries = await this.entries(sql, sink, log, position, to);
          let acknowledged = entries.length;
          try {
            if (entries.length > 0) await this.send(sink, entries, checkpoint.note, sql);
          } catch (error) {
            // RELP: what the receiver acknowledged is delivered and must not be sent again; the
            // position moves past it in this transaction, and the failure is still recorded.
            if (!(error instanceof RelpUnacknowledgedError) || error.acknowledged === 0) throw error;
            acknowledged = error.acknowledged;
            failure = error;
          }
          await sql(
            `UPDATE sink_positions SET position = $3, sent = sent + $4, updated_at = now() WHERE sink_id = $1 AND log = $2`,
            [id, log, positionAfter(entries, acknowledged, to), acknowledged],
          );
          this.sent.inc({ sink: id }, acknowledged);
          if (failure !== undefined) return 'failed';
          await sql(
            `UPDATE sinks SET failures = 0, last_error = NULL, last_error_at = NULL WHERE id = $1 AND failures > 0`,
            [id],
          );
          return 'sent';
        }
        return 'idle';
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

  private async checkpointOf(log: string): Promise<{ size: number; note: string } | null> {
    try {
      const note = await this.reader.latestCheckpoint(log, ['*']);
      return { size: parseCheckpoint(note.slice(0, note.indexOf('\n\n') + 1)).size, note };
    } catch (error) {
      if (error instanceof NoCheckpointError) return null;
      throw error;
    }
  }

  /** Entries [from, to) of `log` the sink's filters let through, with personal data only for a sink that carries it. */
  private async entries(sql: Sql, sink: SinkRecord, log: string, from: number, to: number): Promise<StreamedEntry[]> {
    const rows = await sql(
      'SELECT idx, leaf, leaf_hash FROM ledger_entries WHERE log = $1 AND idx >= $2 AND idx < $3 ORDER BY idx',
      [log, from, to],
    );
    const picked = rows
      .map((row) => ({ entry: decodeLeaf(row.leaf as Buffer), leafHash: (row.leaf_hash as Buffer).toString('hex') }))
      .filter(
        ({ entry }) =>
          (sink.categories === null || sink.categories.includes(entry.category)) &&
          (sink.types === null || sink.types.includes(entry.type)),
      );
    if (!sink.personalData || picked.every(({ entry }) => entry.personal === undefined)) return picked;
    const stored = await sql(
      'SELECT log, idx, subject, data, salt, sealed FROM ledger_personal_data WHERE log = $1 AND idx >= $2 AND idx < $3',
      [log, from, to],
    );
    const opened = await this.personal.openViewRows(undefined, stored);
    const byIndex = new Map(stored.map((row, i) => [Number(row.idx), opened[i]]));
    return picked.map((e) =>
      e.entry.personal === undefined
        ? e
        : { ...e, personal: (byIndex.get(e.entry.index)?.data as JsonValue | undefined) ?? null },
    );
  }

  private async send(sink: SinkRecord, entries: StreamedEntry[], checkpoint: string, sql: Sql): Promise<void> {
    const secret = await this.store.secretOf(sink.id, sql);
    const timeoutMs = this.config.sinks.timeoutMs;
    if (sink.kind === 'syslog' && isRelpUrl(sink.url))
      return sendRelp(sink.url, syslogMessages(entries, this.config.logOriginPrefix), timeoutMs);
    if (sink.kind === 'syslog')
      return sendSyslog(sink.url, syslogFrames(entries, this.config.logOriginPrefix), timeoutMs);
    const batch =
      sink.kind === 'ndjson'
        ? ndjsonBatch(entries, checkpoint, secret ?? '', Math.floor(this.clock.now().getTime() / 1000))
        : hecBatch(entries, checkpoint, secret ?? '', this.config.logOriginPrefix);
    return sendHttp(sink.url, batch, timeoutMs);
  }
}
