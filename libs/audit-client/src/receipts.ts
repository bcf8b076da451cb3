import {
  Checkpoint,
  canonicalJson,
  decodeLeaf,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
  type LedgerEntry,
  type NoteVerifier,
} from '@audit/ledger';
import { WireEvent, categoryOf } from './audit-event';
import { Acknowledgement } from './transport';

/** Something that must not pass unnoticed: a receipt that does not check, an event refused for good. */
export interface AuditAlarm {
  readonly kind: 'receipt_mismatch' | 'proof_failed' | 'checkpoint_inconsistent' | 'dead_letter';
  readonly log?: string;
  readonly index?: number;
  /** What was wrong, without the event's data. */
  readonly reason: string;
}

/** Where alarms go. The default writes one line to stderr: an alarm is never silent. */
export type AlarmHandler = (alarm: AuditAlarm) => void;

export const stderrAlarm: AlarmHandler = (alarm) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'audit alarm', ...alarm })}\n`);
};

const BASE64_HASH = /^[A-Za-z0-9+/]{43}=$/;

function nonEmpty(value: unknown): unknown {
  return value !== null && typeof value === 'object' && Object.keys(value).length === 0 ? undefined : value;
}

function same(a: unknown, b: unknown): boolean {
  return canonicalJson(nonEmpty(a) ?? null) === canonicalJson(nonEmpty(b) ?? null);
}

/**
 * What is wrong with `ack` as the receipt of `sent` (empty when nothing): the leaf hash must be
 * SHA-256(0x00 ‖ leaf), and the leaf's members what was sent, at the place the answer names.
 * Personal data is in the leaf only as `{subject, digest}` under a salt the service chose: the
 * subject must match and the digest be a SHA-256, and a leaf must carry none when none was sent.
 * `source`: the emitter's principal name, when the caller knows it.
 */
export function receiptProblems(sent: WireEvent, ack: Acknowledgement, source?: string): string[] {
  let leaf: Buffer;
  let entry: LedgerEntry;
  try {
    leaf = Buffer.from(ack.leaf, 'base64');
    if (leaf.toString('base64') !== ack.leaf) return ['leaf is not standard base64'];
    entry = decodeLeaf(leaf);
  } catch (error) {
    return [`leaf does not decode: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  const check = (ok: boolean, member: string) => {
    if (!ok) problems.push(`${member} differs`);
  };
  check(leafHash(leaf).toString('base64') === ack.leafHash, 'leafHash');
  check(entry.log === ack.log && entry.log === sent.tenant, 'log');
  check(entry.index === ack.index, 'index');
  check(entry.id === ack.id, 'id');
  check(entry.recordedAt === ack.recordedAt, 'recordedAt');
  if (source !== undefined) check(entry.source === source, 'source');
  check(entry.type === sent.type, 'type');
  check(entry.category === categoryOf(sent), 'category');
  check(same(entry.actor, sent.actor), 'actor');
  check(same(entry.target, sent.target), 'target');
  check(entry.outcome === (sent.outcome ?? 'unknown'), 'outcome');
  check(entry.occurredAt === sent.occurredAt, 'occurredAt');
  check(same(entry.context, sent.context), 'context');
  if (sent.personal === undefined) check(entry.personal === undefined, 'personal');
  else
    check(
      entry.personal?.subject === sent.personal.subject && BASE64_HASH.test(entry.personal?.digest ?? ''),
      'personal',
    );
  return problems;
}

/** A receipt to prove later: the log, index and leaf hash of an acknowledged event. */
export interface Receipt {
  readonly log: string;
  readonly index: number;
  readonly leafHash: string;
}

export interface ReceiptVerifierOptions {
  readonly baseUrl: string;
  /** A key that may read the log's proofs (`logs:read`, the investigator role, for the tenant). */
  readonly readKey: string;
  /** The log's verifier key, pinned: `<name>+<hex key hash>+<base64 key>` (from `GET /v1/logs/{log}/key`, checked out of band). */
  readonly verifierKey: string;
  /** The service's AUDIT_LOG_ORIGIN: a log's checkpoint origin is `<prefix>/<log>`. */
  readonly originPrefix: string;
  readonly onAlarm?: AlarmHandler;
  readonly fetch?: typeof fetch;
}

/** The outcome of one proof: `pending` when the latest checkpoint does not cover the entry yet. */
export type ProofOutcome = 'verified' | 'pending' | 'failed';

/**
 * Proves receipts with the log's own evidence: a checkpoint signed by the pinned key, an
 * inclusion proof of the leaf against it, and, for each log, consistency of every new checkpoint
 * with the latest one verified before (the client is its own small witness: a log that rewrote
 * or forked its history since raises `checkpoint_inconsistent`). Every failure raises the alarm.
 */
export class ReceiptVerifier {
  private readonly verifier: NoteVerifier;
  private readonly fetch: typeof fetch;
  private readonly alarm: AlarmHandler;
  private readonly latest = new Map<string, Checkpoint>();

  constructor(private readonly options: ReceiptVerifierOptions) {
    this.verifier = parseVerifierKey(options.verifierKey);
    this.fetch = options.fetch ?? fetch;
    this.alarm = options.onAlarm ?? stderrAlarm;
  }

  /** The latest checkpoint verified for `log`, if any. */
  latestCheckpoint(log: string): Checkpoint | undefined {
    return this.latest.get(log);
  }

  /** Fetches, verifies and remembers the log's latest checkpoint. Throws (after the alarm) when it does not verify. */
  async checkpoint(log: string): Promise<Checkpoint> {
    const text = await this.get(log, '/checkpoint', 'text');
    let cp: Checkpoint;
    try {
      cp = openCheckpoint(text as string, this.verifier, `${this.options.originPrefix}/${log}`);
    } catch (error) {
      throw this.raise({ kind: 'proof_failed', log, reason: `checkpoint: ${(error as Error).message}` });
    }
    const before = this.latest.get(log);
    if (before !== undefined) {
      try {
        if (cp.size < before.size) throw new Error(`size went back from ${before.size} to ${cp.size}`);
        const proof =
          cp.size === before.size
            ? []
            : (
                (await this.get(log, `/proof/consistency?from=${before.size}&size=${cp.size}`, 'json')) as {
                  proof: string[];
                }
              ).proof.map((h) => Buffer.from(h, 'base64'));
        verifyConsistency(before.size, cp.size, proof, before.rootHash, cp.rootHash);
      } catch (error) {
        if (error instanceof FetchError) throw error;
        throw this.raise({ kind: 'checkpoint_inconsistent', log, reason: (error as Error).message });
      }
    }
    if (before === undefined || cp.size > before.size) this.latest.set(log, cp);
    return cp;
  }

  /** Proves `receipt` against the log's latest checkpoint. */
  async verify(receipt: Receipt): Promise<ProofOutcome> {
    let cp: Checkpoint;
    try {
      cp = await this.checkpoint(receipt.log);
    } catch (error) {
      if (error instanceof ReceiptAlarm) return 'failed';
      // A log whose first checkpoint is not signed yet answers 404 `no_checkpoint`: the
      // receipt is simply not provable yet.
      if (error instanceof FetchError && error.code === 'no_checkpoint') return 'pending';
      throw error;
    }
    if (cp.size <= receipt.index) return 'pending';
    try {
      const body = (await this.get(receipt.log, `/proof/inclusion?index=${receipt.index}&size=${cp.size}`, 'json')) as {
        leafHash: string;
        proof: string[];
      };
      if (body.leafHash !== receipt.leafHash) throw new Error('the proof is for another leaf');
      verifyInclusion(
        receipt.index,
        cp.size,
        Buffer.from(receipt.leafHash, 'base64'),
        body.proof.map((h) => Buffer.from(h, 'base64')),
        cp.rootHash,
      );
      return 'verified';
    } catch (error) {
      if (error instanceof FetchError) throw error;
      this.raise({ kind: 'proof_failed', log: receipt.log, index: receipt.index, reason: (error as Error).message });
      return 'failed';
    }
  }

  private raise(alarm: AuditAlarm): ReceiptAlarm {
    this.alarm(alarm);
    return new ReceiptAlarm(alarm);
  }

  private async get(log: string, path: string, as: 'text' | 'json'): Promise<unknown> {
    const res = await this.fetch(`${this.options.baseUrl}/v1/logs/${encodeURIComponent(log)}${path}`, {
      headers: { authorization: `Bearer ${this.options.readKey}` },
      signal: AbortSignal.timeout(10_000),
    }).catch((error: Error) => {
      throw new FetchError(`could not reach the service: ${error.message}`);
    });
    if (res.status !== 200) {
      const code = await res
        .json()
        .then((body: unknown) => {
          const code = (body as { code?: unknown } | null)?.code;
          return typeof code === 'string' ? code : undefined;
        })
        .catch(() => undefined);
      throw new FetchError(`GET ${path.split('?')[0]} answered ${res.status}${code ? ` ${code}` : ''}`, code);
    }
    return as === 'text' ? res.text() : res.json();
  }
}

/** The service could not be asked (try again later); not evidence of anything wrong with the log. */
export class FetchError extends Error {
  constructor(
    message: string,
    /** The error code the service answered, when it answered one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Thrown after an alarm was raised. */
export class ReceiptAlarm extends Error {
  constructor(readonly alarm: AuditAlarm) {
    super(`audit alarm: ${alarm.kind}: ${alarm.reason}`);
  }
}
