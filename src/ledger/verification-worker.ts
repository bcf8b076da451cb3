import { parseVerifierKey } from '@audit/ledger';
import { ClientConfig, Pool } from 'pg';
import { setPriority } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { withTenantScope } from '../platform/database/tenant-scoped-reads';
import { ReusableWorkers } from './reusable-workers';
import { VerificationReport, verifyStoredLog } from './stored-log-verification';

/**
 * A full verification on a worker thread of its own, with a database connection of its own.
 *
 * Verifying a large log is seconds of hashing, parsing rows and collecting their garbage. On the
 * thread that answers requests, every request waited behind it: with a verification of 200,000
 * entries under way, single appends took 0.5 to 2 s instead of 5 ms (bench/long-work.bench.ts),
 * since each of their steps waited for a turn of a saturated event loop. Here the work has a
 * thread, a heap and a connection of its own (kept for the thread's next verification); the
 * service's thread only waits for the report.
 */
export interface VerificationJob {
  /** The runtime role's connection (DatabasePool.clientConfig()). */
  readonly connection: ClientConfig;
  /** The caller's tenant scope, applied by PostgreSQL as for every read on its behalf. */
  readonly tenants: readonly string[];
  readonly log: string;
  readonly origin: string;
  /** The deployment's verifier key in note format: the worker cannot be handed a key object. */
  readonly verifierKey: string;
  readonly mirrored: { readonly size: number; readonly note: string } | null;
  /** AUDIT_VERIFY_PAUSE_PERCENT (stored-log-verification.ts). */
  readonly pausePercent: number;
  /** AppendPressure.shared: memory the worker shares with the thread that sequences appends. */
  readonly appends?: Int32Array;
}

/** What the worker posts back: the report (null for an unknown log), or the failure. */
type Outcome =
  | { readonly report: VerificationReport | null }
  | { readonly failure: { readonly message: string; readonly code?: string } };

const JOB = 'audit-log-verification';

/**
 * Background work yields the CPU: on Linux a nice value belongs to a thread (setpriority(2)), so
 * this lowers the verification's thread only, and the thread answering requests keeps its share
 * when the two cores are contended. Where the system refuses, the verification runs as it is.
 */
function lowerThisThreadsPriority(): void {
  try {
    setPriority(19);
  } catch {
    // Not permitted, or not per thread here: the verification still runs.
  }
}

/**
 * The verification threads: kept for the next verification (starting one cost 100-150 ms, most of
 * a small log's verification), ended after a minute idle. As many may wait as verifications may
 * run at once (AUDIT_VERIFY_CONCURRENCY).
 */
export function verificationThreads(maxIdle: number): ReusableWorkers {
  return new ReusableWorkers(() => new Worker(__filename, { workerData: { kind: JOB } }), {
    idleMs: 60_000,
    maxIdle,
  });
}

/** Runs `job` on one of `threads`; resolves with its report, null when the log does not exist. */
export async function verifyOnWorker(
  threads: ReusableWorkers,
  job: VerificationJob,
): Promise<VerificationReport | null> {
  const outcome = await threads.run<Outcome>(job);
  if ('report' in outcome) return outcome.report;
  // The database's error code travels with the message, so a connection failure still answers
  // 503 and not 500.
  throw Object.assign(new Error(outcome.failure.message), { code: outcome.failure.code });
}

/**
 * The thread's connection, kept for its next verification: opening one cost 12-14 ms and closing
 * it a few more, a third of a verification of a log of a thousand entries (bench --scale, many
 * tenants). A pool of one, so an idle connection that breaks is dropped (not an unhandled 'error'
 * that would end the thread) and one a transaction could not end is discarded. It closes after
 * KEPT_CONNECTION_IDLE_MS idle, well before the thread itself ends (a minute idle): an idle thread
 * holds no connection. Every job says how to connect; a job that says otherwise (the runtime
 * role's credentials rotated) replaces the pool.
 */
const KEPT_CONNECTION_IDLE_MS = 10_000;
let kept: { readonly config: string; readonly pool: Pool } | null = null;

/** The thread's kept connection for `config` (a pool of one), made or replaced as needed. */
export function keptConnection(config: ClientConfig, idleMs = KEPT_CONNECTION_IDLE_MS): Pool {
  const key = JSON.stringify(config);
  if (kept?.config !== key) {
    void endKeptConnection();
    const pool = new Pool({ ...config, max: 1, idleTimeoutMillis: idleMs });
    // An idle connection that breaks is removed by the pool, which then emits this.
    pool.on('error', () => undefined);
    kept = { config: key, pool };
  }
  return kept.pool;
}

/** Closes the kept connection, if any (the next job opens one again). */
export async function endKeptConnection(): Promise<void> {
  const ending = kept;
  kept = null;
  await ending?.pool.end().catch(() => undefined);
}

async function run(job: VerificationJob): Promise<VerificationReport | null> {
  return withTenantScope(
    keptConnection(job.connection),
    job.tenants,
    (sql) =>
      verifyStoredLog(sql, {
        log: job.log,
        origin: job.origin,
        verifier: parseVerifierKey(job.verifierKey),
        mirrored: job.mirrored,
        pausePercent: job.pausePercent,
        appends: job.appends,
      }),
    { oneSnapshot: true },
  );
}

const started = workerData as { kind?: string } | null;
if (!isMainThread && parentPort && started?.kind === JOB) {
  const port = parentPort;
  lowerThisThreadsPriority();
  // One job at a time: ReusableWorkers posts the next only after this one's answer.
  port.on('message', (job: VerificationJob) =>
    run(job).then(
      (report) => port.postMessage({ report } satisfies Outcome),
      (e: Error & { code?: unknown }) =>
        port.postMessage({
          failure: { message: e.message, ...(typeof e.code === 'string' ? { code: e.code } : {}) },
        } satisfies Outcome),
    ),
  );
}
