import { v7 as uuidv7 } from 'uuid';
import { WireEvent } from '../audit-event';
import { AlarmHandler, receiptProblems, stderrAlarm } from '../receipts';
import { BackoffPolicy, DEFAULT_BACKOFF, backoffDelay, decide, parseRetryAfter } from '../retry-policy';
import { Acknowledgement, HttpTransport, Outgoing, SendResult, TransportOptions } from '../transport';

interface Rows<T> {
  readonly rows: T[];
  readonly rowCount?: number | null;
}

/** A `pg` client checked out of a pool. */
export interface RelayConnection {
  query<T = unknown>(text: string, params?: unknown[]): Promise<Rows<T>>;
  release(error?: Error | boolean): void;
}

/** A `pg` Pool (only `connect` is used). */
export interface RelayPool {
  connect(): Promise<RelayConnection>;
}

export interface OutboxRelayOptions extends TransportOptions {
  /** Rows per request (at most 1,000). Default 100. */
  readonly batchSize?: number;
  /** Wait when the outbox is empty, ms. Default 200. */
  readonly idleMs?: number;
  readonly backoff?: BackoffPolicy;
  readonly onAlarm?: AlarmHandler;
  /** The emitter's principal name, to check each leaf's `source`. */
  readonly source?: string;
  /** Called with the acknowledgements of each committed send (for example to prove them later with a ReceiptVerifier). */
  readonly onAcknowledged?: (acks: readonly Acknowledgement[]) => void;
  readonly random?: () => number;
}

/** What one pass did. `retryAfterMs`: the service asked to wait (or was unreachable). */
export interface RelayPass {
  readonly sent: number;
  readonly dead: number;
  readonly retry: boolean;
  readonly retryAfterMs?: number;
}

interface OutboxRow {
  id: string;
  idempotency_key: string;
  event: WireEvent;
}

/**
 * Sends the outbox to the audit service. Each pass claims the oldest rows with FOR UPDATE SKIP
 * LOCKED in a transaction (so several relays of one emitter never send a row at the same time),
 * sends them under their own idempotency keys, and deletes them in that transaction once they are
 * acknowledged. A crash anywhere leaves the rows in place, to be sent again: the service answers a
 * resend with the original entry. A batch the service refuses for good is split: each row is sent
 * alone, and a row refused for good (a 4xx other than 408 and 429) moves to `audit_outbox_dead`
 * with the answer, and the alarm is raised. The relay keeps no global order: the service orders
 * entries by arrival.
 */
export class OutboxRelay {
  private readonly transport: HttpTransport;
  private readonly alarm: AlarmHandler;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly pool: RelayPool,
    private readonly options: OutboxRelayOptions,
  ) {
    this.transport = new HttpTransport(options);
    this.alarm = options.onAlarm ?? stderrAlarm;
  }

  /** Runs passes until `stop`, backing off (exponential, full jitter, Retry-After) while the service is unavailable. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Ends the loop after the pass in progress (which commits or rolls back as usual). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let wait: number;
      try {
        const pass = await this.runOnce();
        if (pass.retry) {
          failures++;
          wait = backoffDelay(
            failures,
            this.options.backoff ?? DEFAULT_BACKOFF,
            this.options.random,
            pass.retryAfterMs,
          );
        } else {
          failures = 0;
          wait = pass.sent + pass.dead > 0 ? 0 : (this.options.idleMs ?? 200);
        }
      } catch {
        // The emitter's own database failed: the rows are safe there; try again later.
        failures++;
        wait = backoffDelay(failures, this.options.backoff ?? DEFAULT_BACKOFF, this.options.random);
      }
      if (wait > 0 && this.running)
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, wait);
        });
    }
  }

  /** One pass: claim, send, delete on acknowledgement. */
  async runOnce(): Promise<RelayPass> {
    const db = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await db.query('BEGIN');
      const { rows } = await db.query<OutboxRow>(
        'SELECT id, idempotency_key, event FROM audit_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED',
        [this.options.batchSize ?? 100],
      );
      if (rows.length === 0) {
        await db.query('COMMIT');
        return { sent: 0, dead: 0, retry: false };
      }
      const result = await this.transport.send(rows.map(outgoing));
      const decision = this.decision(result);
      if (decision.kind === 'retry') {
        await db.query('ROLLBACK');
        return { sent: 0, dead: 0, retry: true, retryAfterMs: decision.retryAfterMs };
      }
      if (result.kind === 'acknowledged') {
        await this.acknowledge(db, rows, result.results);
        await db.query('COMMIT');
        this.options.onAcknowledged?.(result.results);
        return { sent: rows.length, dead: 0, retry: false };
      }
      // Refused for good: find which rows, one at a time.
      const pass = await this.isolate(db, rows, result);
      await db.query('COMMIT');
      return pass;
    } catch (error) {
      broken = error as Error;
      await db.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      db.release(broken);
    }
  }

  private async isolate(db: RelayConnection, rows: readonly OutboxRow[], refused: SendResult): Promise<RelayPass> {
    let sent = 0;
    let dead = 0;
    const acks: Acknowledgement[] = [];
    for (const row of rows) {
      // A batch of one was refused already; a larger one tells nothing about each of its rows.
      const result = rows.length === 1 ? refused : await this.transport.send([outgoing(row)]);
      const decision = this.decision(result);
      if (decision.kind === 'retry') {
        if (acks.length > 0) this.options.onAcknowledged?.(acks);
        return { sent, dead, retry: true, retryAfterMs: decision.retryAfterMs };
      }
      if (result.kind === 'acknowledged') {
        await this.acknowledge(db, [row], result.results);
        acks.push(...result.results);
        sent++;
        continue;
      }
      const status = result.kind === 'http' ? result.status : 0;
      const answer = result.kind === 'http' ? result.body : null;
      await db.query(
        `WITH moved AS (DELETE FROM audit_outbox WHERE id = $1 RETURNING id, idempotency_key, event, created_at)
         INSERT INTO audit_outbox_dead (id, idempotency_key, event, status, answer, created_at)
         SELECT id, idempotency_key, event, $2, $3::jsonb, created_at FROM moved`,
        [row.id, status, JSON.stringify(answer ?? null)],
      );
      dead++;
      this.alarm({
        kind: 'dead_letter',
        reason: `outbox row ${row.id} refused with ${status}; kept in audit_outbox_dead`,
      });
    }
    if (acks.length > 0) this.options.onAcknowledged?.(acks);
    return { sent, dead, retry: false };
  }

  private decision(result: SendResult): { kind: 'done' | 'retry' | 'permanent'; retryAfterMs?: number } {
    if (result.kind === 'acknowledged') return { kind: 'done' };
    if (result.kind === 'network') return { kind: 'retry' };
    const kind = decide({ kind: 'http', status: result.status });
    return { kind, retryAfterMs: parseRetryAfter(result.retryAfter, Date.now()) };
  }

  private async acknowledge(db: RelayConnection, rows: readonly OutboxRow[], acks: readonly Acknowledgement[]) {
    rows.forEach((row, i) => {
      const problems = receiptProblems(row.event, acks[i], this.options.source);
      if (problems.length > 0)
        this.alarm({ kind: 'receipt_mismatch', log: acks[i]?.log, index: acks[i]?.index, reason: problems.join('; ') });
    });
    await db.query('DELETE FROM audit_outbox WHERE id = ANY($1::bigint[])', [rows.map((row) => row.id)]);
  }
}

function outgoing(row: OutboxRow): Outgoing {
  return { idempotencyKey: row.idempotency_key, event: row.event };
}

/** A dead letter: an event the service refused for good, with its answer. */
export interface DeadLetter {
  readonly id: string;
  readonly event: WireEvent;
  readonly status: number;
  readonly answer: unknown;
  readonly failedAt: Date;
}

/** The dead letters, oldest first. */
export async function listDeadLetters(db: RelayConnection | RelayPool): Promise<DeadLetter[]> {
  const conn = 'release' in db ? db : await db.connect();
  try {
    const { rows } = await conn.query<{
      id: string;
      event: WireEvent;
      status: number;
      answer: unknown;
      failed_at: Date;
    }>('SELECT id, event, status, answer, failed_at FROM audit_outbox_dead ORDER BY id');
    return rows.map((r) => ({ id: r.id, event: r.event, status: r.status, answer: r.answer, failedAt: r.failed_at }));
  } finally {
    if (conn !== db) conn.release();
  }
}

/**
 * Puts dead letter `id` back in the outbox, changed by `fix` (which sees the event as it was
 * sent), under a new idempotency key (a refused request left no claim on the old one). The relay
 * sends it at its next pass. Returns false when there is no such dead letter.
 */
export async function resendDeadLetter(
  pool: RelayPool,
  id: string,
  fix: (event: WireEvent) => WireEvent = (event) => event,
): Promise<boolean> {
  const db = await pool.connect();
  let broken: Error | undefined;
  try {
    await db.query('BEGIN');
    const { rows } = await db.query<{ event: WireEvent }>(
      'DELETE FROM audit_outbox_dead WHERE id = $1 RETURNING event',
      [id],
    );
    if (rows.length === 0) {
      await db.query('ROLLBACK');
      return false;
    }
    await db.query('INSERT INTO audit_outbox (idempotency_key, event) VALUES ($1, $2::jsonb)', [
      uuidv7(),
      JSON.stringify(fix(rows[0].event)),
    ]);
    await db.query('COMMIT');
    return true;
  } catch (error) {
    broken = error as Error;
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    db.release(broken);
  }
}
