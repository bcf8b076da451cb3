import { LogProblem, LogVerifier, NoteVerifier } from '@audit/ledger';
import { readCheckpoints, readEntryPage, readHead, readStoredEnd } from './log-reads';
import type { Sql } from './log-store';
import { ACKNOWLEDGE_HOW } from './mirror-agreement';

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

/** What a verification of one stored log needs besides the database. */
export interface StoredLogVerification {
  readonly log: string;
  /** The log's checkpoint origin (`<AUDIT_LOG_ORIGIN>/<log>`). */
  readonly origin: string;
  readonly verifier: NoteVerifier;
  /** The latest checkpoint of the mirror outside the database, read before the snapshot began. */
  readonly mirrored: { readonly size: number; readonly note: string } | null;
  /**
   * After each page, pause this percentage of the time the page took (AUDIT_VERIFY_PAUSE_PERCENT):
   * background work that leaves the CPU and the database to the appends part of the time. 0 or
   * absent: back to back.
   */
  readonly pausePercent?: number;
}

// What follows a disagreement with the mirror, in each report that finds one.
const REFUSED = `Appends are refused (503 ledger_behind_mirror) and this log is not signed meanwhile: ${ACKNOWLEDGE_HOW}`;

// Rows per read: large enough to amortise the round trip, small enough to keep memory flat and
// each stretch of work short (the pauses between pages are what the appends get).
const PAGE = 1_000;

/** How long to pause after a stretch of work of `workedMs`: `percent` of it. */
export function pauseAfter(workedMs: number, percent: number): number {
  return percent > 0 && workedMs > 0 ? (workedMs * percent) / 100 : 0;
}

/**
 * Full verification of a log as stored, on `sql` (one snapshot: the caller's REPEATABLE READ
 * transaction): every leaf hash, chain link, stored tree node, the root at every signed checkpoint
 * and their signatures, the head, and the mirror of signed checkpoints kept outside the database
 * (a mirrored checkpoint the database lacks means the database is behind or was restored from an
 * old backup; a different root at the same size means a fork). Null when the log does not exist.
 *
 * CPU-bound for as long as the log is large (a million entries: seconds of hashing and parsing),
 * so the service runs it on a worker thread (verification-worker.ts), never on the thread that
 * answers requests.
 */
export async function verifyStoredLog(sql: Sql, input: StoredLogVerification): Promise<VerificationReport | null> {
  const { log, mirrored } = input;
  const head = await readHead(sql, log);
  if (!head) return null;
  const checkpoints = await readCheckpoints(sql, log);
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
  const verifier = new LogVerifier({ log, origin: input.origin, verifier: input.verifier, checkpoints: notes });
  let next = 0;
  // Ranges up to the highest stored index, so missing entries (even a whole range) are seen.
  // Back to back (no pause), the next range is read while this one is checked, so the database and
  // the CPU overlap: on two cores that is both cores. Paced, the next range is read after the
  // pause, so the verification works (reading or checking) at most 100 / (100 + pausePercent) of
  // the time on at most one core at once, and the pause counts the read too: it is work of a
  // database backend that shares the cores with the appends' backends.
  const pausePercent = input.pausePercent ?? 0;
  const end = await readStoredEnd(sql, log);
  const read = (from: number) => (from < end ? readEntryPage(sql, log, from, PAGE) : null);
  let page = read(0);
  for (let from = 0; page !== null; from += PAGE) {
    const started = performance.now();
    const rows = await page;
    page = pausePercent > 0 ? null : read(from + PAGE);
    for (const row of rows) {
      if (row.idx !== next) {
        extra.push({ index: next, code: 'wrong_index', message: `entries ${next} to ${row.idx - 1} are missing` });
        next = row.idx;
      }
      verifier.push(row.leaf, row.leafHash, row.treeNodes);
      next++;
    }
    if (pausePercent > 0 && from + PAGE < end) {
      const pause = pauseAfter(performance.now() - started, pausePercent);
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      page = read(from + PAGE);
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
  const indices = problems.filter((p) => p.index !== null && p.code !== 'root_mismatch').map((p) => p.index as number);
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
