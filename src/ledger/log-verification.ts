import { Inject, Injectable } from '@nestjs/common';
import { LogProblem, LogVerifier } from '@audit/ledger';
import { APP_CONFIG, AppConfig } from '../platform';
import { CheckpointMirror } from './checkpoint-mirror';
import { UnknownLogError } from './ledger.errors';
import { LogStore, Sql } from './log-store';
import { ACKNOWLEDGE_HOW } from './mirror-agreement';
import { SigningKey } from './signing-key';

/** What `POST /v1/logs/{log}/verify` and the command-line verifier report. */
export interface VerificationReport {
  readonly ok: boolean;
  readonly log: string;
  readonly size: number;
  readonly checked: number;
  readonly firstBadIndex?: number;
  readonly checkpointsVerified: number;
  readonly problems: LogProblem[];
}

// What follows a disagreement with the mirror, in each report that finds one.
const REFUSED = `Appends are refused (503 ledger_behind_mirror) and this log is not signed meanwhile: ${ACKNOWLEDGE_HOW}`;

// Rows per read: large enough to amortise the round trip, small enough to keep memory flat.
const PAGE = 2_000;
// Rows checked between two turns of the event loop: checking a row costs tens of microseconds, so
// a whole page at once would hold every request of the process for tens of milliseconds.
const ROWS_PER_TURN = 250;

/**
 * Full verification of a log as stored: every leaf hash, chain link, stored tree node, the root
 * at every signed checkpoint and their signatures, the head, and the mirror of signed checkpoints
 * kept outside the database (a mirrored checkpoint the database lacks means the database is
 * behind or was restored from an old backup; a different root at the same size means a fork).
 */
@Injectable()
export class LogVerification {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly store: LogStore,
    private readonly key: SigningKey,
    private readonly mirror: CheckpointMirror,
  ) {}

  /**
   * Verifies `log` with every read scoped to `tenants` (the caller's scope; `['*']` for the
   * operator's command line): a log outside them is unknown.
   */
  async verify(log: string, tenants: readonly string[]): Promise<VerificationReport> {
    // One snapshot: the head, the checkpoints and every page of entries as of one moment, so
    // appends committed while a long verification runs are neither half seen nor reported as a
    // head behind its entries.
    // The mirror is read first: a checkpoint is mirrored only after it committed, so whatever the
    // mirror holds now is in the snapshot. Read after, it could name one signed since the snapshot
    // and make a sound database look behind its mirror.
    const mirrored = await this.mirror.latest(log);
    return this.store.tenantScoped(tenants, (sql) => this.verifyStored(log, mirrored, sql), { oneSnapshot: true });
  }

  private async verifyStored(
    log: string,
    mirrored: Awaited<ReturnType<CheckpointMirror['latest']>>,
    sql: Sql,
  ): Promise<VerificationReport> {
    const head = await this.store.head(log, sql);
    if (!head) throw new UnknownLogError();
    const checkpoints = await this.store.checkpoints(log, sql);
    const notes = checkpoints.map((c) => c.note);
    const extra: LogProblem[] = [];
    if (mirrored) {
      const same = checkpoints.find((c) => c.size === mirrored.size);
      if (!same) {
        extra.push({
          index: null,
          code: 'log_behind_checkpoint',
          message:
            `the checkpoint mirror holds size ${mirrored.size}, which the database never recorded: the database is behind the mirror ` +
            `(restored from an old backup, rolled back, or its tail lost). ${REFUSED}`,
        });
      } else if (same.note !== mirrored.note) {
        extra.push({
          index: null,
          code: 'root_mismatch',
          message: `the database's checkpoint at size ${mirrored.size} differs from the mirrored one: the database is forked. ${REFUSED}`,
        });
      }
      notes.push(mirrored.note);
    }
    const verifier = new LogVerifier({
      log,
      origin: `${this.config.logOriginPrefix}/${log}`,
      verifier: this.key.verifier,
      checkpoints: notes,
    });
    let next = 0;
    // Read the next page while this one is checked, so the database and the CPU work together.
    // Ranges up to the highest stored index, so missing entries (even a whole range) are seen.
    // The next range is read while this one is checked, so the database and the CPU overlap.
    const end = await this.store.storedEnd(log, sql);
    let page = end > 0 ? this.store.entryPage(log, 0, PAGE, sql) : null;
    for (let from = 0; page !== null; from += PAGE) {
      const rows: Awaited<ReturnType<LogStore['entryPage']>> = await page;
      page = from + PAGE < end ? this.store.entryPage(log, from + PAGE, PAGE, sql) : null;
      for (const row of rows) {
        if (row.idx !== next) {
          extra.push({ index: next, code: 'wrong_index', message: `entries ${next} to ${row.idx - 1} are missing` });
          next = row.idx;
        }
        verifier.push(row.leaf, row.leafHash, row.treeNodes);
        next++;
        if (next % ROWS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const report = verifier.finish();
    if (head.size !== report.size) {
      extra.push({
        index: null,
        code: 'log_behind_checkpoint',
        message: `the head says ${head.size} entries but ${report.size} are stored`,
      });
    } else if (!head.root.equals(report.root)) {
      extra.push({
        index: null,
        code: 'root_mismatch',
        message: 'the head root differs from the root of the stored entries',
      });
    }
    const problems = [...report.problems, ...extra];
    const indices = problems
      .filter((p) => p.index !== null && p.code !== 'root_mismatch')
      .map((p) => p.index as number);
    const firstBadIndex = indices.length > 0 ? Math.min(...indices) : report.firstBadIndex;
    return {
      ok: problems.length === 0,
      log,
      size: report.size,
      checked: report.checked,
      ...(firstBadIndex !== undefined ? { firstBadIndex } : {}),
      checkpointsVerified: report.checkpointsVerified.length,
      problems,
    };
  }
}
