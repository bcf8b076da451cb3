import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { consistencyProofRanges, hashRanges, nodeIdsForRanges, signCheckpoint, verifyConsistency } from '@audit/ledger';
import { APP_CONFIG, AppConfig } from '../platform';
import { isConnectionFailure } from '../platform';
import { Dependencies } from '../platform';
import { MetricsService } from '../platform';
import { CheckpointMirror } from './checkpoint-mirror';
import { LedgerBehindMirrorError } from './ledger.errors';
import { CheckpointRow, LogHead, LogStore } from './log-store';
import { MirrorCheck } from './mirror-check';
import { Sequencer } from './sequencer';
import { SigningKey, signersOf } from './signing-key';

/**
 * Logs signed side by side in one tick. Each signature is a dozen awaited reads and writes; under
 * batch ingestion every await waits for a turn of a saturated event loop, so logs signed one after
 * another left most entries unsigned (and unsent to sinks) until the load stopped. A bound, so a
 * deployment of many tenants does not take every connection of the pool at once.
 */
export const SIGN_CONCURRENTLY = 8;

/**
 * Mirror writes of one log the background signer may leave under way before it signs that log
 * again: the mirror trails the database by at most this many checkpoints of a log.
 */
export const MIRROR_WRITES_AHEAD = 4;

/**
 * Signs a checkpoint of every log that grew, within a tick (AUDIT_CHECKPOINT_INTERVAL_MS, 250 ms
 * by default) of its new entries: one signature per checkpoint, never per event. Before signing,
 * the new root is recomputed from stored nodes and proven consistent with the previous
 * checkpoint; a log that fails is not signed and the failure is logged as an error. Nor is a log
 * whose latest checkpoint another key signed (SigningKey refuses such a key at start; this covers
 * processes that started together on logs with no checkpoint yet).
 *
 * The logs that grew are signed concurrently (up to SIGN_CONCURRENTLY at a time), each from the
 * head and latest checkpoint read together; listeners given to `onSigned` (sink delivery, in the
 * same process) hear of every checkpoint this process records, so they need not wait to poll.
 * The background tick does not wait for the checkpoint mirror's file writes (a dozen file system
 * round trips, which took seconds under load): the checkpoint is in the database when the tick
 * goes on, the writes of a log land in order (CheckpointMirror), a log with MIRROR_WRITES_AHEAD
 * writes under way waits, and shutdown and `signPending` wait for them. On-demand signatures
 * (`signNow`, `checkpointCovering`) return once their checkpoint is mirrored.
 */
@Injectable()
export class CheckpointSigner implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(CheckpointSigner.name);
  private timer?: NodeJS.Timeout;
  private tick?: Promise<void>;
  // Logs refused for another key's checkpoint, told once each rather than on every tick.
  private readonly otherKeyTold = new Set<string>();
  private readonly signedListeners = new Set<(log: string, size: number) => void>();
  // Mirror writes the background tick left under way: all of them, and how many per log.
  private readonly mirrorWrites = new Set<Promise<void>>();
  private readonly mirroring = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly store: LogStore,
    private readonly key: SigningKey,
    private readonly mirror: CheckpointMirror,
    private readonly metrics: MetricsService,
    private readonly sequencer: Sequencer,
    private readonly dependencies: Dependencies,
    private readonly mirrorCheck: MirrorCheck,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.components.has('signer')) return;
    this.timer = setInterval(() => {
      if (!this.tick) this.tick = this.signHeads().finally(() => (this.tick = undefined));
    }, this.config.checkpointIntervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.tick;
    // Sign what the last appends added, once they are committed, so a clean shutdown leaves
    // every entry checkpointed.
    await this.sequencer.beforeApplicationShutdown();
    if (this.config.components.has('signer')) await this.signPending();
    await this.mirrored();
  }

  /**
   * Calls `listener` with the log and size of every checkpoint this process records, once it is
   * in the database (a reader may then find it). Returns what removes the listener.
   */
  onSigned(listener: (log: string, size: number) => void): () => void {
    this.signedListeners.add(listener);
    return () => this.signedListeners.delete(listener);
  }

  /** Signs every log whose head is ahead of its latest checkpoint, and mirrors what it signed. */
  async signPending(): Promise<void> {
    await this.signHeads();
    await this.mirrored();
  }

  /** Resolves once every mirror write the background tick started has ended. */
  private async mirrored(): Promise<void> {
    while (this.mirrorWrites.size > 0) await Promise.allSettled([...this.mirrorWrites]);
  }

  /** Signs every log whose head is ahead of its latest checkpoint, leaving the mirror writes under way. */
  private async signHeads(): Promise<void> {
    try {
      const grown = await this.store.headsToSign();
      const now = Date.now();
      let lag = 0;
      for (const head of grown)
        if (head.lastRecordedAt) lag = Math.max(lag, (now - head.lastRecordedAt.getTime()) / 1000);
      const heads = grown.filter((head) => (this.mirroring.get(head.log) ?? 0) < MIRROR_WRITES_AHEAD);
      // A failure of one log does not keep the others unsigned; the first is told below.
      const failures: unknown[] = [];
      let next = 0;
      const signNext = async (): Promise<void> => {
        for (let head = heads[next++]; head !== undefined; head = heads[next++]) {
          // A log the checkpoint mirror contradicts waits (MirrorCheck logs it); the others go on.
          await this.sign(head, head.latest, true).catch((e: unknown) => {
            if (!(e instanceof LedgerBehindMirrorError)) failures.push(e);
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(SIGN_CONCURRENTLY, heads.length) }, signNext));
      if (failures.length > 0) throw failures[0];
      this.metrics.checkpointAgeSeconds.set(lag);
    } catch (e) {
      // PostgreSQL away: told once by its tracker, not on every tick; the next tick catches up.
      if (isConnectionFailure(e)) this.dependencies.postgres.unreachable();
      else this.logger.error(`checkpoint signing failed: ${(e as Error).message}`);
    }
  }

  /**
   * Signs the current head of `log` if it is ahead of its checkpoint; returns the latest note.
   * Throws LedgerBehindMirrorError when it is ahead but the checkpoint mirror contradicts the log.
   */
  async signNow(log: string): Promise<string | null> {
    return (await this.latestAfterSigning(log))?.note ?? null;
  }

  /**
   * The latest signed checkpoint of `log` if it covers at least `size` leaves; otherwise one
   * signed now. Null when the log has fewer than `size` leaves (or signing refused it).
   * Throws LedgerBehindMirrorError when one must be signed while the mirror contradicts the log.
   */
  async checkpointCovering(log: string, size: number): Promise<CheckpointRow | null> {
    const latest = await this.store.latestCheckpoint(log);
    if (latest && latest.size >= size) return latest;
    const signed = await this.latestAfterSigning(log);
    return signed && signed.size >= size ? signed : null;
  }

  /** Signs the current head of `log` if it is ahead of its checkpoint; the latest checkpoint then. */
  private async latestAfterSigning(log: string): Promise<CheckpointRow | null> {
    const head = await this.store.head(log);
    return head && head.size > 0 ? this.sign(head) : this.store.latestCheckpoint(log);
  }

  /**
   * Signs `head` unless its latest checkpoint already covers it or it is not consistent with
   * that checkpoint; returns the log's latest checkpoint afterwards. Throws
   * LedgerBehindMirrorError, signing nothing, while the checkpoint mirror contradicts the log: a
   * signature would publish a fork of the history the mirror proves, and let the mirror's latest
   * move on along it, hiding the disagreement without anyone acknowledging it. `latest`: the
   * log's latest checkpoint when the caller read it with the head (read here otherwise).
   */
  private async sign(head: LogHead, latest?: CheckpointRow | null, mirrorLater = false): Promise<CheckpointRow | null> {
    const previous = latest !== undefined ? latest : await this.store.latestCheckpoint(head.log);
    if (previous && previous.size >= head.size) return previous;
    await this.mirrorCheck.assertSignable(head.log, previous);
    // Another process of the deployment may have started with another key (both on a log with no
    // checkpoint yet, so neither was refused at start): the key of a log's history is the one that
    // signed its latest checkpoint, and this process never signs after another key.
    const signers = previous ? signersOf(previous.note) : [];
    if (previous && signers.length > 0 && !signers.includes(this.key.id)) {
      if (!this.otherKeyTold.has(head.log)) {
        this.otherKeyTold.add(head.log);
        this.logger.error(
          `NOT signing log ${head.log}: its latest checkpoint (size ${previous.size}) was signed by key ${signers.join(', ')}, ` +
            `this process holds key ${this.key.id}. Start every process of the deployment with the same key ` +
            '(AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE)',
        );
      }
      return previous;
    }
    const from = previous?.size ?? 0;
    const ranges = [{ begin: 0, end: head.size }, ...consistencyProofRanges(from, head.size)];
    const lookup = await this.store.nodeLookup(head.log, nodeIdsForRanges(ranges));
    try {
      const [root, ...proof] = hashRanges(ranges, lookup);
      if (!root.equals(head.root)) throw new Error('the head root differs from the root of the stored tree');
      if (previous) verifyConsistency(previous.size, head.size, proof, previous.root, root);
    } catch (e) {
      const reason = e instanceof Error ? e.message : 'unknown';
      this.logger.error(
        `NOT signing log ${head.log} at size ${head.size}: it is not consistent with its last checkpoint (${reason})`,
      );
      return previous;
    }
    const note = signCheckpoint(
      { origin: `${this.config.logOriginPrefix}/${head.log}`, size: head.size, rootHash: head.root, extensions: [] },
      this.key.signer,
    );
    const signed: CheckpointRow = { size: head.size, root: head.root, note };
    const inserted = await this.store.insertCheckpoint(head.log, signed);
    if (inserted) {
      this.metrics.checkpointsSigned.inc();
      // Before the mirror write below: a listener's failure must not keep the checkpoint from it.
      for (const listener of this.signedListeners) {
        try {
          listener(head.log, head.size);
        } catch (e) {
          this.logger.warn(`a listener of signed checkpoints failed: ${(e as Error).message}`);
        }
      }
    }
    if (mirrorLater) this.mirrorInBackground(head.log, head.size, note);
    else await this.mirror.write(head.log, head.size, note);
    // Another process recorded this size first: what it recorded is the latest.
    return inserted ? signed : this.store.latestCheckpoint(head.log);
  }

  /** Starts mirroring a checkpoint without waiting for it; a failure is logged as an error. */
  private mirrorInBackground(log: string, size: number, note: string): void {
    this.mirroring.set(log, (this.mirroring.get(log) ?? 0) + 1);
    const write: Promise<void> = this.mirror
      .write(log, size, note)
      .catch((e: unknown) =>
        this.logger.error(`mirroring the checkpoint of log ${log} at size ${size} failed: ${(e as Error).message}`),
      )
      .finally(() => {
        this.mirrorWrites.delete(write);
        const left = (this.mirroring.get(log) ?? 1) - 1;
        if (left > 0) this.mirroring.set(log, left);
        else this.mirroring.delete(log);
      });
    this.mirrorWrites.add(write);
  }
}
