import { rmSync } from 'node:fs';
import { Client } from 'pg';
import { readPersonalData } from '../support/personal-data';
import { clearQueues } from '../support/redis-keys';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../support/test-database';
import { ServiceProcess, legalPersonKey, startServiceProcess } from './support/service-process';

type Json = Record<string, any>;

const FINISHED = ['completed', 'partially_blocked', 'blocked', 'failed'];
/** How long a deletion request may take to reach an outcome on a loaded 2-core machine. */
const OUTCOME_DEADLINE_MS = 90_000;

/**
 * "Holds against every deletion path", against the built service as one OS process running every
 * component (its BullMQ worker runs the deletions; the reconciler every 200 ms): a tenant's
 * closure stops at the one held subject of thirty and erases the other twenty-nine; a subject
 * under two overlapping holds stays blocked while either stands, and is erased once both are
 * released. Personal data is read from PostgreSQL itself, as a superuser.
 */
describe('drill: holds against every deletion path', () => {
  let db: string;
  let service: ServiceProcess;
  let su: Client;
  let emitter: string;
  let legal: string;
  let legal2: string;

  async function call(
    method: string,
    path: string,
    key: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Json) };
  }

  async function ok(method: string, path: string, key: string, body: unknown, status: number): Promise<Json> {
    const res = await call(method, path, key, body);
    expect({ call: `${method} ${path}`, status: res.status }).toEqual({ call: `${method} ${path}`, status });
    return res.body;
  }

  /** Polls the request (GET, as `legal`) until `done(request)`; fails naming `what` after the deadline. */
  async function until(id: string, what: string, done: (request: Json) => boolean): Promise<Json> {
    const deadline = Date.now() + OUTCOME_DEADLINE_MS;
    let last: Json = {};
    while (Date.now() < deadline) {
      last = await ok('GET', `/v1/deletion-requests/${id}`, legal, undefined, 200);
      if (done(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(
      `deletion request ${id}: ${what} within ${OUTCOME_DEADLINE_MS} ms; last seen ${JSON.stringify(last)}`,
    );
  }

  /** Every subject's personal data in `log`: how many entries keep their data (and which), how many are erased. */
  async function personalData(log: string): Promise<Map<string, { kept: Json[]; erased: number }>> {
    // Opened with the key-encryption key the service processes run with (testEnv's, from the database URL).
    const rows = (await readPersonalData(su, db, log)) as { subject: string; data: Json | null }[];
    const bySubject = new Map<string, { kept: Json[]; erased: number }>();
    for (const { subject, data } of rows) {
      const s = bySubject.get(subject) ?? { kept: [], erased: 0 };
      if (data === null) s.erased++;
      else s.kept.push(data);
      bySubject.set(subject, s);
    }
    return bySubject;
  }

  /** The types of the ledger entries recording deletion request `id` (in its tenant's log), in order. */
  async function deletionEntries(tenant: string, id: string): Promise<string[]> {
    const { rows } = await su.query<{ leaf: string }>(
      "SELECT convert_from(leaf, 'UTF8') AS leaf FROM entries WHERE log = $1 ORDER BY idx",
      [tenant],
    );
    return rows
      .map((r) => JSON.parse(r.leaf) as Json)
      .filter((e) => e.category === 'deletion' && e.target?.id === id)
      .map((e) => e.type as string);
  }

  /** Appends, for each subject, `perSubject` events with personal data in `tenant`; returns what was sent. */
  async function emit(tenant: string, subjects: string[], perSubject: number): Promise<Map<string, Json[]>> {
    const sent = new Map<string, Json[]>();
    const events = subjects.flatMap((subject) =>
      Array.from({ length: perSubject }, (_, i) => {
        const data = { email: `${subject}@${tenant}.example`, ticket: i };
        sent.set(subject, [...(sent.get(subject) ?? []), data]);
        return {
          tenant,
          type: 'support.ticket.opened',
          actor: { type: 'user', id: subject },
          personal: { subject, data },
        };
      }),
    );
    await ok('POST', '/v1/events/batch', emitter, { events }, 201);
    return sent;
  }

  async function placeHold(tenant: string, matter: string, scope: Json): Promise<string> {
    const hold = await ok('POST', '/v1/holds', legal, { tenant, matter, scope }, 201);
    expect(hold.status).toBe('active');
    return hold.id as string;
  }

  /** Release by two distinct legal persons (HOLD_RELEASE_APPROVALS defaults to 2). */
  async function release(id: string): Promise<void> {
    const first = await ok('POST', `/v1/holds/${id}/release`, legal, { reason: 'matter closed' }, 202);
    expect(first).toMatchObject({ status: 'release_pending' });
    const second = await ok('POST', `/v1/holds/${id}/release`, legal2, { reason: 'matter closed' }, 200);
    expect(second).toMatchObject({ status: 'released' });
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    service = await startServiceProcess(db, { AUDIT_DELETION_RECONCILE_MS: '200' });
    su = await superuserClient(db);
    const admin = service.env.AUDIT_BOOTSTRAP_ADMIN_KEY;
    const key = async (name: string, roles: string[]) =>
      (await ok('POST', '/v1/keys', admin, { name, roles, tenants: ['initech', 'globex'] }, 201)).key as string;
    emitter = await key('support-service', ['emitter']);
    legal = await legalPersonKey(service, 'alice-legal', ['initech', 'globex']);
    legal2 = await legalPersonKey(service, 'bob-legal', ['initech', 'globex']);
    // The service's clock cannot be moved from outside: with no retention minimum on the
    // category, holds are the only thing that can keep its personal data.
    await ok(
      'PUT',
      '/v1/retention-policies/support',
      admin,
      { minDays: 0, maxDays: 365, mode: 'governance', reason: 'drill: only holds keep support data' },
      200,
    );
  }, 120_000);

  afterAll(async () => {
    await su?.end();
    await service?.kill();
    if (service) {
      rmSync(service.env.AUDIT_CHECKPOINT_DIR, { recursive: true, force: true });
      await clearQueues(service.env.AUDIT_QUEUE_PREFIX);
    }
    if (db) await dropTestDatabase(db);
  });

  it('closing a tenant of 30 subjects, one held, ends partially_blocked: the held data intact, the 29 others erased', async () => {
    const subjects = Array.from({ length: 30 }, (_, i) => `subject-${String(i).padStart(2, '0')}`);
    const held = 'subject-17';
    const sent = await emit('initech', subjects, 2);
    const hold = await placeHold('initech', 'MAT-CLOSURE', { subjects: [held] });

    const requested = await ok(
      'POST',
      '/v1/deletion-requests',
      legal,
      { kind: 'tenant_closure', tenant: 'initech', reason: 'contract ended' },
      202,
    );
    const done = await until(requested.id, 'reached no outcome', (r) => FINISHED.includes(r.status));
    expect(done).toMatchObject({
      status: 'partially_blocked',
      erased: 58,
      blocked: 2,
      blockedBy: [{ kind: 'hold', id: hold }],
    });

    const data = await personalData('initech');
    expect([...data.keys()].sort()).toEqual(subjects);
    // The held subject's data is exactly what was sent; every other subject's is gone.
    expect(data.get(held)).toEqual({ kept: sent.get(held), erased: 0 });
    for (const subject of subjects.filter((s) => s !== held))
      expect({ subject, ...data.get(subject) }).toEqual({ subject, kept: [], erased: 2 });
    expect(await deletionEntries('initech', requested.id)).toEqual([
      'deletion.requested',
      'deletion.partially_blocked',
    ]);
    // The tenant is closed for good.
    const refused = await call('POST', '/v1/events', emitter, {
      tenant: 'initech',
      type: 'support.ticket.opened',
      actor: { type: 'user', id: 'late' },
    });
    expect(refused).toMatchObject({ status: 409, body: { code: 'tenant_closed' } });
  });

  it('a subject under two overlapping holds stays blocked until both are released, then is erased', async () => {
    const subject = 'subject-x';
    const sent = await emit('globex', [subject, 'bystander'], 2);
    const holdA = await placeHold('globex', 'MAT-A', { subjects: [subject] });
    const holdB = await placeHold('globex', 'MAT-B', { subjects: [subject], categories: ['support'] });
    const both = [holdA, holdB].sort().map((id) => ({ kind: 'hold', id }));

    const requested = await ok(
      'POST',
      '/v1/deletion-requests',
      legal,
      { kind: 'subject_erasure', tenant: 'globex', subject, reason: 'erasure request #1' },
      202,
    );
    const first = await until(requested.id, 'reached no outcome', (r) => FINISHED.includes(r.status));
    expect(first).toMatchObject({ status: 'blocked', erased: 0, blocked: 2, blockedBy: both });
    expect((await personalData('globex')).get(subject)).toEqual({ kept: sent.get(subject), erased: 0 });

    // Hold A released: the request runs again (on the release, or by the reconciler) and finds B.
    await release(holdA);
    const holdsNamed = (r: Json) => (r.blockedBy as Json[]).map((b) => b.id as string);
    const second = await until(
      requested.id,
      'was not run again after hold A was released',
      (r) => FINISHED.includes(r.status) && !(r.status === 'blocked' && holdsNamed(r).includes(holdA)),
    );
    expect(second).toMatchObject({
      status: 'blocked',
      erased: 0,
      blocked: 2,
      blockedBy: [{ kind: 'hold', id: holdB }],
    });
    expect(Date.parse(second.updatedAt)).toBeGreaterThan(Date.parse(first.updatedAt));
    expect((await personalData('globex')).get(subject)).toEqual({ kept: sent.get(subject), erased: 0 });
    expect(await deletionEntries('globex', requested.id)).toEqual([
      'deletion.requested',
      'deletion.blocked',
      'deletion.blocked',
    ]);

    // Hold B released too: nothing keeps the data any more.
    await release(holdB);
    const third = await until(
      requested.id,
      'was not run again after hold B was released',
      (r) => FINISHED.includes(r.status) && r.status !== 'blocked',
    );
    expect(third).toMatchObject({ status: 'completed', erased: 2, blocked: 0, blockedBy: [] });
    const data = await personalData('globex');
    expect(data.get(subject)).toEqual({ kept: [], erased: 2 });
    // Only the subject asked for.
    expect(data.get('bystander')).toEqual({ kept: sent.get('bystander'), erased: 0 });
    expect(await deletionEntries('globex', requested.id)).toEqual([
      'deletion.requested',
      'deletion.blocked',
      'deletion.blocked',
      'deletion.completed',
    ]);
  });
});
