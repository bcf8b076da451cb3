import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { IDS, Ids, MetricsService } from '../platform';
import { AppendPressure } from './append-pressure';
import { AppendPlan, AppendedEntry, EventToAppend, PLAN_CHUNK, planAppendInTurns } from './append-plan';
import { IdempotencyConflictError, SequencerUnavailableError, UnprocessableEntryError } from './ledger.errors';
import { ClaimRow, LogAppend, LogHead, LogStore, Sql } from './log-store';
import { MirrorCheck } from './mirror-check';
import { PersonalSearch } from './personal-search-key';
import { PERSONAL_IV_BYTES, SealedPersonalData, sealPersonal } from './personal-data-reader';
import { LogKeys, SubjectKeys } from './subject-keys';
import { AppendKind } from './mirror-agreement';
import { classifyStatementFailure, describeRefusal } from './statement-failure';

/** Most events one group-commit statement takes; later arrivals wait for the next. */
const MAX_EVENTS_PER_COMMIT = 5000;
/**
 * Most group-commit statements in flight at once. Each takes the queued requests of every log
 * not already in one, so a log waits only for its own previous statement or a free slot, never
 * for another tenant's; few slots keep the statements full (every statement is a round trip
 * and a WAL flush, and under many small requests they were most of the cost). Two gave 14-27%
 * more single events than four, at a lower p99, and batches the same (docs/benchmarks.md).
 */
const MAX_STATEMENTS_IN_FLIGHT = 2;
/** Most times one statement is planned again from fresh heads before its requests get the error. */
const MAX_REPLANS = 20;
/** The longest random wait before a replan, ms. */
const REPLAN_WAIT_MS = 50;
/** A turn of the event loop, between chunks of a statement's sealing. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A change to other tables that must commit with the entries recording it, or not at all (a key
 * revoked, a hold placed). It runs first in the append's transaction and may throw to abort it;
 * it may run again when the transaction is retried.
 */
export type AppendEffect = (sql: Sql) => Promise<void>;

interface Request {
  readonly events: readonly EventToAppend[];
  readonly effect?: AppendEffect;
  readonly resolve: (entries: AppendedEntry[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Serialises appends per log and group-commits them. Requests for one log queue in its lane; a
 * log has at most one statement in flight, and each statement takes everything queued meanwhile
 * in the lanes of every log not in flight, so many concurrent requests, for one tenant or many,
 * cost one commit. Across processes, appends to a log are serialised by its keys: an append
 * planned from a stale head collides on (log, idx) and is replanned, and the (log, idx) and
 * (log, prev) keys make a gap or a fork impossible rather than unlikely.
 */
@Injectable()
export class Sequencer implements BeforeApplicationShutdown {
  private readonly lanes = new Map<string, Request[]>();
  // Logs with a statement in flight, and how many statements are.
  private readonly busy = new Set<string>();
  private statements = 0;
  private readonly inFlight = new Set<Promise<void>>();
  // Heads of the logs this process appended to, as its last commit left them. A stale one (another
  // process appended since) costs one refused statement and a re-read, never a wrong entry.
  private readonly heads = new Map<string, LogHead>();
  private closed = false;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly store: LogStore,
    private readonly metrics: MetricsService,
    @Inject(IDS) private readonly ids: Ids,
    private readonly mirrorCheck: MirrorCheck,
    private readonly keys: SubjectKeys,
    private readonly personalSearch: PersonalSearch,
    private readonly pressure: AppendPressure,
  ) {}

  /**
   * Appends `events` atomically (all or none) and resolves after commit with one acknowledgement
   * per event, in order. Events carrying an idempotency key already used with the same request
   * digest are not appended again: their original acknowledgement is returned. With `effect`, the
   * effect and the entries commit in one transaction that holds the logs' heads.
   * Refused with LedgerBehindMirrorError (nothing written, the effect rolled back) while the
   * database is behind or forked from the checkpoint mirror (mirror-agreement.ts).
   */
  append(events: readonly EventToAppend[], effect?: AppendEffect): Promise<AppendedEntry[]> {
    return this.submit('change', events, effect);
  }

  /**
   * Appends the record of a read, like `append`, but also while the database disagrees with the
   * checkpoint mirror: investigating that must stay possible, and every read stays recorded.
   */
  appendReadRecord(event: EventToAppend): Promise<AppendedEntry[]> {
    return this.submit('read_record', [event]);
  }

  /**
   * Appends the operator's acknowledgement that the database's history supersedes the mirrored
   * one, which must be recorded while appends are refused. Only RollbackAcknowledgement calls it.
   */
  appendRollbackAcknowledgement(event: EventToAppend): Promise<AppendedEntry[]> {
    return this.submit('rollback_acknowledgement', [event]);
  }

  private submit(kind: AppendKind, events: readonly EventToAppend[], effect?: AppendEffect): Promise<AppendedEntry[]> {
    if (this.closed) return Promise.reject(new SequencerUnavailableError('the service is shutting down'));
    if (events.length === 0) return Promise.resolve([]);
    // The first append of a process waits for its first comparison with the mirror.
    if (!this.mirrorCheck.hasChecked) return this.mirrorCheck.settled().then(() => this.admit(kind, events, effect));
    return this.admit(kind, events, effect);
  }

  /**
   * Queues a request the mirror's state lets through. A request with an effect is decided inside
   * its transaction, after the effect, which then rolls back: a change that is refused anyway (a
   * key that exists already, as the bootstrap admin key's at every start) says so first, and a
   * process can start while appends are refused.
   */
  private admit(kind: AppendKind, events: readonly EventToAppend[], effect?: AppendEffect): Promise<AppendedEntry[]> {
    if (this.closed) return Promise.reject(new SequencerUnavailableError('the service is shutting down'));
    const refusal = effect ? null : this.mirrorCheck.refusal(kind);
    if (refusal) return Promise.reject(refusal);
    const guarded: AppendEffect | undefined = effect
      ? async (sql) => {
          await effect(sql);
          const refused = this.mirrorCheck.refusal(kind);
          if (refused) throw refused;
        }
      : undefined;
    const logs = [...new Set(events.map((e) => e.log))];
    return new Promise((resolve, reject) => {
      const request: Request = { events, effect: guarded, resolve, reject };
      if (logs.length === 1 && !guarded) this.enqueue(logs[0], request);
      else this.track(this.commitBatch(logs.sort(), [request], true));
    });
  }

  /**
   * Refuses anything new and resolves once everything accepted before is committed. Runs before
   * the connections close (beforeApplicationShutdown); safe to call more than once.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private enqueue(log: string, request: Request): void {
    let lane = this.lanes.get(log);
    if (!lane) {
      lane = [];
      this.lanes.set(log, lane);
    }
    lane.push(request);
    this.metrics.appendQueuedRequests.inc();
    this.pump();
  }

  /**
   * Starts statements while slots are free, each with the queued requests of the logs not in
   * flight, lanes in the order they filled (a log whose lane empties goes to the back), up to
   * MAX_EVENTS_PER_COMMIT events (at least one request).
   */
  private pump(): void {
    while (this.statements < MAX_STATEMENTS_IN_FLIGHT) {
      const logs: string[] = [];
      const batch: Request[] = [];
      let count = 0;
      for (const [log, lane] of this.lanes) {
        if (this.busy.has(log)) continue;
        const before = batch.length;
        while (lane.length > 0 && (batch.length === 0 || count + lane[0].events.length <= MAX_EVENTS_PER_COMMIT)) {
          const next = lane.shift() as Request;
          batch.push(next);
          count += next.events.length;
        }
        if (batch.length > before) logs.push(log);
        if (lane.length > 0) break; // the statement is full
        this.lanes.delete(log);
      }
      if (batch.length === 0) return;
      this.metrics.appendQueuedRequests.dec(batch.length);
      for (const log of logs) this.busy.add(log);
      this.statements++;
      this.track(
        this.commitBatch(logs.sort(), batch, false).finally(() => {
          for (const log of logs) this.busy.delete(log);
          this.statements--;
          this.pump();
        }),
      );
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    this.pressure.begin();
    void work.finally(() => {
      this.inFlight.delete(work);
      this.pressure.end();
    });
  }

  /**
   * Commits `batch` (to `logs`, in name order), retrying when a head was stale or PostgreSQL asks
   * to; settles every request. Without `lock`: one autocommit statement from the cached heads (the
   * usual case, one round trip). With it (a request to several logs, or with an effect): one
   * transaction that locks the heads in name order. When PostgreSQL refuses a value one request
   * carries, that request fails alone (`isolate`); any other failure is every request's.
   */
  private async commitBatch(logs: readonly string[], batch: Request[], lock: boolean): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const started = process.hrtime.bigint();
      try {
        const { results, refused } = lock
          ? await this.db.transaction('READ COMMITTED', (tx) =>
              this.write((text, params) => tx.query(text, params), logs, batch, true),
            )
          : await this.write(this.store.sql(), logs, batch, false);
        this.metrics.commitSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        let count = 0;
        batch.forEach((request, i) => {
          const error = refused.get(i);
          if (error) request.reject(error);
          else {
            const entries = results.get(i) as AppendedEntry[];
            count += entries.length;
            request.resolve(entries);
          }
        });
        this.metrics.appendBatchSize.observe(count);
        this.metrics.appendedEntries.inc(count);
        return;
      } catch (e) {
        const failure = classifyStatementFailure(e);
        if (failure === 'request_data') return this.isolate(batch, lock, e);
        // Stale, or an outcome that may be unknown (a connection lost after the commit was sent):
        // these logs' heads are read afresh before anything is planned on them again.
        for (const log of logs) this.heads.delete(log);
        this.keys.forget(logs);
        if (failure !== 'stale') {
          batch.forEach((r) => r.reject(e));
          return;
        }
        if (attempt >= MAX_REPLANS) {
          // Never the database's own refusal (it names a constraint, and is not the caller's
          // fault): a 503 the caller retries.
          const busy = new SequencerUnavailableError('other processes keep appending to these logs; retry');
          batch.forEach((r) => r.reject(busy));
          return;
        }
        // Another process keeps moving these heads: its next statement, sent from a head it
        // already knows, beats a replan from a fresh read sent at once. A random wait, longer
        // after each refusal, lets its lane drain and breaks the lockstep. (Locking the heads
        // instead met the other process's statements in deadlocks, a second each: slower still.)
        await sleep(Math.random() * Math.min(2 ** attempt, REPLAN_WAIT_MS));
      }
    }
  }

  /**
   * After PostgreSQL refused a value in `batch`: a lone request is refused with what the database
   * said (422, never the values); a larger batch is split in two halves committed one after the
   * other, so the refusal narrows down to the request that carries the value in about 2·log2(n)
   * statements while every other request commits, in its order. A batch request is one request
   * and stays all or nothing. The refused statement wrote nothing (one autocommit statement, or a
   * rolled-back transaction), so the cached heads still hold, and no idempotency claim of the
   * refused request persists: claims are written in the statement with their entries. The logs of
   * the whole batch stay busy until the halves are done, so nothing queued later overtakes them.
   */
  private async isolate(batch: Request[], lock: boolean, refusal: unknown): Promise<void> {
    if (batch.length === 1) {
      batch[0].reject(new UnprocessableEntryError(describeRefusal(refusal)));
      return;
    }
    const middle = Math.ceil(batch.length / 2);
    for (const half of [batch.slice(0, middle), batch.slice(middle)]) {
      const logs = [...new Set(half.flatMap((request) => request.events.map((event) => event.log)))].sort();
      await this.commitBatch(logs, half, lock);
    }
  }

  private async write(
    sql: Sql,
    logs: readonly string[],
    batch: readonly Request[],
    lock: boolean,
  ): Promise<{ results: Map<number, AppendedEntry[]>; refused: Map<number, Error> }> {
    const heads = new Map<string, LogHead>();
    for (const log of logs)
      heads.set(log, (!lock && this.heads.get(log)) || (await this.store.openHead(sql, log, lock)));
    for (const request of batch) if (request.effect) await request.effect(sql);

    const refused = new Map<number, Error>();
    const duplicates = await this.resolveIdempotency(sql, batch, refused);
    // A repeat of a key whose first use in this batch was refused has nothing to repeat.
    for (const [at, original] of duplicates) {
      if (typeof original === 'string' && refused.has(Number(original.split('/')[0]))) {
        refused.set(Number(at.split('/')[0]), new IdempotencyConflictError(Number(at.split('/')[1])));
      }
    }

    // Plan per log, in request order, skipping refused requests and duplicate events.
    const results = new Map<number, AppendedEntry[]>();
    const slots: { request: number; event: number; log: string; position: number }[] = [];
    const perLog = new Map<string, EventToAppend[]>();
    batch.forEach((request, r) => {
      if (refused.has(r)) return;
      results.set(r, new Array(request.events.length));
      request.events.forEach((event, e) => {
        if (duplicates.has(`${r}/${e}`)) return;
        const list = perLog.get(event.log) ?? [];
        perLog.set(event.log, list);
        slots.push({ request: r, event: e, log: event.log, position: list.length });
        list.push(event);
      });
    });
    // The commit's own wall time, not the injectable clock: `recordedAt` is a fact the ledger
    // records (and retention later reads), which no test clock or skewed port may forge.
    const now = new Date();
    const nextId = () => this.ids.next();
    const plans = new Map<string, AppendPlan>();
    for (const [log, events] of perLog)
      plans.set(log, await planAppendInTurns(heads.get(log) as LogHead, events, now, nextId));
    const claims = new Map<string, ClaimRow[]>();
    for (const slot of slots) {
      const entry = (plans.get(slot.log) as AppendPlan).appended[slot.position];
      (results.get(slot.request) as AppendedEntry[])[slot.event] = entry;
      const event = batch[slot.request].events[slot.event];
      if (event.idempotency) {
        const list = claims.get(slot.log) ?? [];
        claims.set(slot.log, list);
        list.push({
          source: event.source,
          key: event.idempotency.key,
          digest: event.idempotency.digest,
          idx: entry.index,
          id: entry.id,
          leafHash: Buffer.from(entry.leafHash, 'base64'),
          recordedAt: entry.recordedAt,
        });
      }
    }
    for (const [key, original] of duplicates) {
      const [r, e] = key.split('/').map(Number);
      if (!refused.has(r)) {
        const entry = typeof original === 'string' ? this.findInBatch(results, original) : original;
        (results.get(r) as AppendedEntry[])[e] = entry;
      }
    }
    if (plans.size > 0) {
      // Personal data is sealed under its subjects' keys here, before anything is written: one
      // statement for the keys this process has not cached, none when it has them all.
      const subjects = new Map<string, Set<string>>();
      for (const [log, plan] of plans)
        if (plan.personal.length > 0) subjects.set(log, new Set(plan.personal.map((p) => p.subject)));
      const keys = subjects.size > 0 ? await this.keys.forAppend(subjects) : new Map<string, LogKeys>();
      const count = [...plans.values()].reduce((sum, plan) => sum + plan.personal.length, 0);
      const ivs = randomBytes(count * PERSONAL_IV_BYTES);
      let next = 0;
      const appends: LogAppend[] = [];
      for (const [log, plan] of plans) {
        const logKeys = keys.get(log);
        const personal: SealedPersonalData[] = [];
        const search: NonNullable<LogAppend['search']>[number][] = [];
        for (const p of plan.personal) {
          // Sealing is an AES-GCM pass and two HMACs per event: chunked like the planning.
          if (next > 0 && next % PLAN_CHUNK === 0) await nextTurn();
          personal.push(
            sealPersonal(
              logKeys?.keys.get(p.subject) as Buffer,
              log,
              p,
              ivs.subarray(next * PERSONAL_IV_BYTES, ++next * PERSONAL_IV_BYTES),
            ),
          );
          // The search index's rows: HMACs of the emails and addresses in the data, never the values.
          const recordedAt = plan.entries[p.idx - plan.entries[0].idx].recordedAt;
          for (const row of this.personalSearch.rowsFor(p.data)) search.push({ idx: p.idx, recordedAt, ...row });
        }
        appends.push({
          log,
          entries: plan.entries,
          personal,
          search,
          keyEpoch: logKeys?.epoch ?? null,
          claims: claims.get(log) ?? [],
          head: plan.head,
        });
      }
      await this.store.append(sql, appends);
    }
    // Planned heads become the cache only once the statement succeeded; a transaction may still
    // roll back, so its logs are read afresh next time.
    for (const [log, plan] of plans) {
      if (lock) this.heads.delete(log);
      else this.heads.set(log, plan.head);
    }
    return { results, refused };
  }

  /**
   * Finds events whose idempotency key was used before. Same request digest: the event is a
   * duplicate (its original acknowledgement, or for a repeat inside this batch the key of the
   * first occurrence). Another digest: the whole request is refused with a conflict.
   */
  private async resolveIdempotency(
    sql: Sql,
    batch: readonly Request[],
    refused: Map<number, Error>,
  ): Promise<Map<string, AppendedEntry | string>> {
    const duplicates = new Map<string, AppendedEntry | string>();
    const keyed: { r: number; e: number; source: string; key: string; digest: Buffer }[] = [];
    batch.forEach((request, r) =>
      request.events.forEach((event, e) => {
        if (event.idempotency)
          keyed.push({ r, e, source: event.source, key: event.idempotency.key, digest: event.idempotency.digest });
      }),
    );
    if (keyed.length === 0) return duplicates;
    const rows: {
      source: string;
      key: string;
      request_digest: Buffer;
      log: string;
      idx: string;
      id: string;
      leaf_hash: Buffer;
      recorded_at: Date;
      leaf: Buffer;
    }[] = (await sql(
      // The original leaf too, so that a replay answers exactly what the first append answered.
      `SELECT c.*, e.leaf FROM idempotency_keys c JOIN unnest($1::text[], $2::text[]) AS k(source, key) USING (source, key)
         JOIN entries e ON e.log = c.log AND e.idx = c.idx`,
      [keyed.map((k) => k.source), keyed.map((k) => k.key)],
    )) as never;
    const existing = new Map(rows.map((row) => [`${row.source}\u0000${row.key}`, row]));
    const firstInBatch = new Map<string, { digest: Buffer; at: string }>();
    for (const k of keyed) {
      const id = `${k.source}\u0000${k.key}`;
      const row = existing.get(id);
      if (row) {
        if (row.request_digest.equals(k.digest)) {
          duplicates.set(`${k.r}/${k.e}`, {
            id: row.id,
            log: row.log,
            index: Number(row.idx),
            leafHash: row.leaf_hash.toString('base64'),
            recordedAt: row.recorded_at.toISOString(),
            leaf: row.leaf.toString('base64'),
          });
        } else refused.set(k.r, new IdempotencyConflictError(k.e));
        continue;
      }
      const first = firstInBatch.get(id);
      if (!first) firstInBatch.set(id, { digest: k.digest, at: `${k.r}/${k.e}` });
      else if (first.digest.equals(k.digest)) duplicates.set(`${k.r}/${k.e}`, first.at);
      else refused.set(k.r, new IdempotencyConflictError(k.e));
    }
    return duplicates;
  }

  private findInBatch(results: Map<number, AppendedEntry[]>, at: string): AppendedEntry {
    const [r, e] = at.split('/').map(Number);
    return (results.get(r) as AppendedEntry[])[e];
  }
}
