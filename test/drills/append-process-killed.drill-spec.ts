import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Client } from 'pg';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../support/test-database';
import { Answer, ServiceProcess, call, startServiceProcess } from './support/service-process';
import { until } from './support/until';

/**
 * Drill (issue 24): an API process is killed in the middle of an append, its statement blocked on
 * the log's head row, which a control connection holds locked; the client retries the same
 * Idempotency-Key on another process of the deployment. One entry, a gap-free log that verifies,
 * and a failed attempt is never kept as an answer (docs/api.md "Idempotency").
 */

const TENANT = 'acme';
/** Generous: a loaded 2-core machine runs two service processes and PostgreSQL. */
const DEADLINE_MS = 60_000;
const WAIT = { timeoutMs: DEADLINE_MS, pauseMs: 50 };

/** What two answers must share to be the same answer (the headers differ, in Date at least). */
const sameAnswer = ({ status, json }: Answer) => ({ status, json });

/** An event whose leaf carries `marker`, so the drill can count the entries it made. */
function event(marker: string): Record<string, unknown> {
  return {
    tenant: TENANT,
    type: 'auth.login.succeeded',
    actor: { type: 'user', id: 'u-drill' },
    context: { drill: marker },
  };
}

describe('drill: a process killed in the middle of an append, the client retrying on another', () => {
  let db: string;
  let owner: Client;
  let p2: ServiceProcess;
  /** What every process of this deployment shares (docs: service-process.ts). */
  let shared: Record<string, string>;
  let emitter: string;
  let investigator: string;
  const started: ServiceProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    owner = await superuserClient(db);
    p2 = await startServiceProcess(db, { PGAPPNAME: 'drill-p2' });
    started.push(p2);
    shared = {
      AUDIT_QUEUE_PREFIX: p2.env.AUDIT_QUEUE_PREFIX,
      AUDIT_CHECKPOINT_DIR: p2.env.AUDIT_CHECKPOINT_DIR,
      AUDIT_BOOTSTRAP_ADMIN_KEY: p2.env.AUDIT_BOOTSTRAP_ADMIN_KEY,
    };
    const admin = shared.AUDIT_BOOTSTRAP_ADMIN_KEY;
    const keys: string[] = [];
    for (const role of ['emitter', 'investigator']) {
      const created = await call(p2, admin, 'POST', '/v1/keys', {
        name: `drill-${role}`,
        roles: [role],
        tenants: [TENANT],
      });
      expect(created.status).toBe(201);
      keys.push(created.json.key as string);
    }
    [emitter, investigator] = keys;
    for (let i = 0; i < 3; i++) expect((await append(p2, event(`warm-up-${i}`))).status).toBe(201);
  }, 180_000);

  afterAll(async () => {
    for (const service of started) await service.kill().catch(() => undefined);
    await owner?.end().catch(() => undefined);
    if (db) await dropTestDatabase(db);
    if (shared?.AUDIT_CHECKPOINT_DIR) rmSync(shared.AUDIT_CHECKPOINT_DIR, { recursive: true, force: true });
  }, 60_000);

  function append(service: ServiceProcess, body: unknown, idempotencyKey?: string, signal?: AbortSignal) {
    const headers: Record<string, string> = idempotencyKey ? { 'idempotency-key': idempotencyKey } : {};
    return call(service, emitter, 'POST', '/v1/events', body, { headers, signal });
  }

  /** Another API process of the same deployment, its backends named `appName` in pg_stat_activity. */
  async function startP1(appName: string): Promise<ServiceProcess> {
    const p1 = await startServiceProcess(db, { ...shared, PGAPPNAME: appName });
    started.push(p1);
    return p1;
  }

  /** A control connection holding the head row of the tenant's log, which every append updates. */
  async function lockHead(): Promise<{ locker: Client; pid: number }> {
    const locker = await superuserClient(db);
    await locker.query('BEGIN');
    await locker.query('SELECT size FROM logs WHERE log = $1 FOR UPDATE', [TENANT]);
    const pid = Number((await locker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    return { locker, pid };
  }

  /** The backend of `appName` whose append statement waits on the lock `lockerPid` holds. */
  async function waitingAppend(appName: string, lockerPid: number): Promise<number | undefined> {
    const { rows } = await owner.query(
      `SELECT pid FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = $1 AND state = 'active'
         AND wait_event_type = 'Lock' AND $2 = ANY(pg_blocking_pids(pid)) AND query LIKE '%INSERT INTO entries%'`,
      [appName, lockerPid],
    );
    return rows.length === 1 ? Number(rows[0].pid) : undefined;
  }

  async function backendAlive(pid: number): Promise<boolean> {
    const { rows } = await owner.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
    return rows.length > 0;
  }

  /** The entries whose leaf carries `marker`. */
  async function entriesWith(marker: string): Promise<{ idx: number; id: string }[]> {
    const { rows } = await owner.query(
      `SELECT idx, id FROM entries WHERE log = $1 AND position(convert_to($2, 'UTF8') IN leaf) > 0 ORDER BY idx`,
      [TENANT, marker],
    );
    return rows.map((r: { idx: string; id: string }) => ({ idx: Number(r.idx), id: r.id }));
  }

  async function logSize(): Promise<number> {
    return Number((await owner.query('SELECT size FROM logs WHERE log = $1', [TENANT])).rows[0].size);
  }

  /** Indices 0..size-1 with no gap, and the service's own verification of the log passes. */
  async function expectGapFreeAndVerified(): Promise<void> {
    const size = await logSize();
    const { rows } = await owner.query('SELECT idx FROM entries WHERE log = $1 ORDER BY idx', [TENANT]);
    expect(rows.map((r: { idx: string }) => Number(r.idx))).toEqual([...Array(size).keys()]);
    const verified = await call(p2, investigator, 'POST', `/v1/logs/${TENANT}/verify`);
    expect(verified.status).toBe(200);
    expect(verified.json).toMatchObject({ ok: true, log: TENANT, size, problems: [] });
  }

  /**
   * The retry on P2 answers 201 with the one entry that carries `marker` (the orphan's, when it
   * committed), and a second retry gives the same answer and appends nothing.
   */
  async function expectRetryAppendsOnce(marker: string, idempotencyKey: string): Promise<Answer> {
    const before = await entriesWith(marker);
    const retry = await append(p2, event(marker), idempotencyKey);
    expect(retry.status).toBe(201);
    expect(retry.json).toMatchObject({ log: TENANT, id: expect.any(String), index: expect.any(Number) });
    const after = await entriesWith(marker);
    expect(after).toEqual([{ idx: retry.json.index, id: retry.json.id }]);
    if (before.length > 0) expect(after).toEqual(before);

    const size = await logSize();
    const again = await append(p2, event(marker), idempotencyKey);
    expect(sameAnswer(again)).toEqual(sameAnswer(retry));
    expect(await logSize()).toBe(size);
    expect(await entriesWith(marker)).toEqual(after);
    await expectGapFreeAndVerified();
    return retry;
  }

  it('the killed process`s backend outlives it, waiting on the lock; its statement ends with the lock, and the retry on P2 appends once', async () => {
    const marker = `killed-waiting-${randomBytes(6).toString('hex')}`;
    const idempotencyKey = `key-${marker}`;
    const appName = `drill-p1-${marker}`;
    const p1 = await startP1(appName);
    const { locker, pid: lockerPid } = await lockHead();
    try {
      const attempt = append(p1, event(marker), idempotencyKey).then(
        (answer) => ({ answer }),
        (error: unknown) => ({ error }),
      );
      const orphan = await until('P1`s append waits on the locked head', () => waitingAppend(appName, lockerPid), WAIT);
      await p1.kill();
      expect((await p1.exited).signal).toBe('SIGKILL');
      expect(await attempt).toEqual({ error: expect.anything() }); // the client never had an answer

      // PostgreSQL ends P1's idle backends once their socket closes, but not the one waiting on a
      // lock (client_connection_check_interval is off by default): it still waits.
      await until(
        'P1`s idle backends are gone',
        async () => {
          const { rows } = await owner.query(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> $2',
            [appName, orphan],
          );
          return rows[0].n === 0;
        },
        WAIT,
      );
      expect(await waitingAppend(appName, lockerPid)).toBe(orphan);
      expect(await entriesWith(marker)).toEqual([]);

      await locker.query('ROLLBACK');
      await until('the orphaned backend is gone', async () => !(await backendAlive(orphan)), WAIT);
      // Its statement ran once the lock was released and, autocommit with Sync already received,
      // committed before PostgreSQL found the client gone: the append happened, unanswered.
      expect(await entriesWith(marker)).toHaveLength(1);
      await expectRetryAppendsOnce(marker, idempotencyKey);
    } finally {
      await locker.end();
      await p1.kill();
    }
  }, 180_000);

  it('with client_connection_check_interval, PostgreSQL ends the killed process`s waiting statement, which rolls back; the retry on P2 appends once', async () => {
    const marker = `killed-aborted-${randomBytes(6).toString('hex')}`;
    const idempotencyKey = `key-${marker}`;
    const appName = `drill-p1-${marker}`;
    const database = new URL(db).pathname.slice(1);
    // Outside configuration of the database, for the sessions P1 opens: PostgreSQL polls the
    // client's socket while a statement runs (here: while it waits on a lock).
    await owner.query(`ALTER DATABASE "${database}" SET client_connection_check_interval = '100ms'`);
    let p1: ServiceProcess | undefined;
    let locker: Client | undefined;
    try {
      p1 = await startP1(appName);
      const held = await lockHead();
      locker = held.locker;
      const lockerPid = held.pid;
      const attempt = append(p1, event(marker), idempotencyKey).then(
        (answer) => ({ answer }),
        (error: unknown) => ({ error }),
      );
      const orphan = await until('P1`s append waits on the locked head', () => waitingAppend(appName, lockerPid), WAIT);
      await p1.kill();
      expect(await attempt).toEqual({ error: expect.anything() });

      // The backend goes while the lock is still held: its statement was aborted and rolled back.
      await until('PostgreSQL ends the waiting backend', async () => !(await backendAlive(orphan)), WAIT);
      expect(await entriesWith(marker)).toEqual([]);
      const claims = await owner.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [idempotencyKey]);
      expect(claims.rows).toEqual([]);
      await locker.query('ROLLBACK');

      await expectRetryAppendsOnce(marker, idempotencyKey);
    } finally {
      await locker?.end();
      await p1?.kill();
      await owner.query(`ALTER DATABASE "${database}" RESET client_connection_check_interval`);
    }
  }, 180_000);

  it('an append that committed while its client lost the answer: the retry on P2 returns the original entry', async () => {
    const marker = `answer-lost-${randomBytes(6).toString('hex')}`;
    const idempotencyKey = `key-${marker}`;
    const appName = `drill-p1-${marker}`;
    const p1 = await startP1(appName);
    const { locker, pid: lockerPid } = await lockHead();
    try {
      // The lock holds the append at its statement, so the client gives up on a request P1 has
      // surely received and is committing (no race between the abort and the request's arrival).
      const abort = new AbortController();
      const attempt = append(p1, event(marker), idempotencyKey, abort.signal).then(
        (answer) => ({ answer }),
        (error: unknown) => ({ error }),
      );
      await until('P1`s append waits on the locked head', () => waitingAppend(appName, lockerPid), WAIT);
      abort.abort();
      expect(await attempt).toEqual({ error: expect.objectContaining({ name: 'AbortError' }) });
      await locker.query('ROLLBACK');

      const committed = await until(
        'P1 commits the append',
        async () => {
          const found = await entriesWith(marker);
          return found.length > 0 && found;
        },
        WAIT,
      );
      expect(committed).toHaveLength(1);
      expect(p1.child.exitCode).toBeNull();

      const retry = await expectRetryAppendsOnce(marker, idempotencyKey);
      expect(retry.json).toMatchObject({ id: committed[0].id, index: committed[0].idx });
      // P1 answers the same too.
      expect(sameAnswer(await append(p1, event(marker), idempotencyKey))).toEqual(sameAnswer(retry));
      expect(await entriesWith(marker)).toEqual(committed);
    } finally {
      await locker.end();
      await p1.kill();
    }
  }, 180_000);

  it('a refused attempt is never kept as the answer: after a 400 and a 422 with the key, the request with it is appended', async () => {
    const marker = `refused-${randomBytes(6).toString('hex')}`;
    const idempotencyKey = `key-${marker}`;
    const claims = async () =>
      (await owner.query('SELECT log, idx, id FROM idempotency_keys WHERE key = $1', [idempotencyKey])).rows;

    // Refused at the edge: a body without its actor.
    const { actor: _actor, ...withoutActor } = event(marker);
    const invalid = await append(p2, withoutActor, idempotencyKey);
    expect(invalid.status).toBe(400);
    expect(invalid.json.code).toBe('invalid_request');

    // Refused by PostgreSQL itself: a trigger installed from outside refuses this leaf.
    await owner.query(
      `CREATE FUNCTION drill_refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF position(convert_to(TG_ARGV[0], 'UTF8') IN NEW.leaf) > 0 THEN RAISE EXCEPTION 'the drill refuses this leaf'; END IF;
         RETURN NEW;
       END $$`,
    );
    try {
      await owner.query(
        `CREATE TRIGGER drill_refuse_marked BEFORE INSERT ON entries FOR EACH ROW EXECUTE FUNCTION drill_refuse_marked('${marker}')`,
      );
      const refused = await append(p2, event(marker), idempotencyKey);
      expect(refused.status).toBe(422);
      expect(refused.json.code).toBe('unprocessable_entry');
    } finally {
      await owner.query('DROP TRIGGER IF EXISTS drill_refuse_marked ON entries');
      await owner.query('DROP FUNCTION IF EXISTS drill_refuse_marked()');
    }
    expect(await entriesWith(marker)).toEqual([]);
    expect(await claims()).toEqual([]);

    // The same key with the correct request: appended (201), on this process and seen by another.
    const retry = await expectRetryAppendsOnce(marker, idempotencyKey);
    expect(await claims()).toEqual([{ log: TENANT, idx: String(retry.json.index), id: retry.json.id }]);
    const p1 = await startP1(`drill-p1-${marker}`);
    try {
      expect(sameAnswer(await append(p1, event(marker), idempotencyKey))).toEqual(sameAnswer(retry));
    } finally {
      await p1.kill();
    }
  }, 180_000);
});
