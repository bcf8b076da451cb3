import { LogProblem, LogVerifier, NoteVerifier } from '@audit/ledger';
import { readCheckpoints, readEntryPage, readHead, readStoredEnd } from './log-reads';
import type { Sql } from './log-store';
import { ACKNOWLEDGE_HOW } from './mirror-agreement';
import { appendsBegun, appendsInFlight, yieldToAppends } from './yield-to-appends';

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
  /**
   * Appends in flight in the sequencing process (AppendPressure.shared): when given, entries are
   * read and checked in steps of YIELD_STEP, and before each step the verification waits (up to
   * YIELD_MAX_MS) while appends are committing.
   */
  readonly appends?: Int32Array;
}

// What follows a disagreement with the mirror, in each report that finds one.
const REFUSED = `Appends are refused (503 ledger_behind_mirror) and this log is not signed meanwhile: ${ACKNOWLEDGE_HOW}`;

// Rows per read: large enough to amortise the round trip, small enough to keep memory flat and
// each stretch of work short (the pauses between pages are what the appends get).
const PAGE = 1_000;

// Rows checked between two looks at the appends in flight: a step is about a millisecond of
// hashing, so an append arriving mid-page waits about that long for the verification to stand aside.
const YIELD_STEP = 100;
// At most this long a wait before each step: a steady stream of appends slows a verification down
// but never stops it.
const YIELD_MAX_MS = 20;

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
  // With `appends` (AppendPressure), the verification also stands aside while appends come (one
  // in flight, or one begun since the last page arrived): it then reads no further ahead, reads
  // YIELD_STEP rows instead of a page (a read is a burst of a database backend's CPU), and checks
  // in steps of YIELD_STEP rows, waiting before each while an append is in flight. While none
  // comes it runs exactly as back to back.
  const pausePercent = input.pausePercent ?? 0;
  const end = await readStoredEnd(sql, log);
  let begun = appendsBegun(input.appends);
  const appendsCome = () => {
    const now = appendsBegun(input.appends);
    const come = now !== begun || appendsInFlight(input.appends);
    begun = now;
    return come;
  };
  const read = (from: number, size: number) =>
    from < end ? { rows: readEntryPage(sql, log, from, size), size } : null;
  await yieldToAppends(input.appends, YIELD_MAX_MS);
  let page = read(0, appendsCome() ? YIELD_STEP : PAGE);
  for (let from = 0; page !== null;) {
    const started = performance.now();
    const rows = await page.rows;
    from += page.size;
    const busy = appendsCome();
    page = pausePercent === 0 && !busy ? read(from, PAGE) : null;
    for (let i = 0; i < rows.length; i++) {
      if (i > 0 && i % YIELD_STEP === 0) await yieldToAppends(input.appends, YIELD_MAX_MS);
      const row = rows[i];
      if (row.idx !== next) {
        extra.push({ index: next, code: 'wrong_index', message: `entries ${next} to ${row.idx - 1} are missing` });
        next = row.idx;
      }
      verifier.push(row.leaf, row.leafHash, row.treeNodes);
      next++;
    }
    if (page === null && from < end) {
      const pause = pauseAfter(performance.now() - started, pausePercent);
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      await yieldToAppends(input.appends, YIELD_MAX_MS);
      page = read(from, busy || appendsCome() ? YIELD_STEP : PAGE);
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
