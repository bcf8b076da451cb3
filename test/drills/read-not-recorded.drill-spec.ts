import { rmSync } from 'node:fs';
import { clearQueues } from '../support/redis-keys';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../support/test-database';
import { ServiceProcess, startServiceProcess } from './support/service-process';

// The role the service's queries run as (platform/database/database-bootstrap.ts RUNTIME_ROLE).
const RUNTIME_ROLE = 'audit_runtime';

/**
 * "A read that cannot be recorded is not answered" (docs/api.md "Access control"), against the
 * built service as an OS process: the runtime role's INSERT on `entries` is revoked from outside,
 * by a superuser, so the ledger cannot take the record of a search. The search must then answer
 * 503 `unavailable` with Retry-After and nothing of the events it would have served, and be
 * answered (and recorded) again once the grant is back.
 */
describe('drill: a read that cannot be recorded is not answered', () => {
  it('answers 503 unavailable with no event data while the ledger refuses the record, 200 once it takes it again', async () => {
    const db = await createTestDatabase();
    let service: ServiceProcess | undefined;
    try {
      service = await startServiceProcess(db);
      const url = service.url;
      const call = (method: string, path: string, key: string, body?: unknown) =>
        fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        });
      const admin = service.env.AUDIT_BOOTSTRAP_ADMIN_KEY;
      const createKey = async (name: string, roles: string[]) => {
        const res = await call('POST', '/v1/keys', admin, { name, roles, tenants: ['acme'] });
        expect(res.status).toBe(201);
        return (await res.json()) as { id: string; key: string };
      };
      const emitter = await createKey('billing-service', ['emitter']);
      const investigator = await createKey('ivan', ['investigator']);

      // Values that must never reach a client whose read was not recorded.
      const marker = `drill-marker-${Date.now()}`;
      const email = `${marker}@example.com`;
      const appended = await call('POST', '/v1/events', emitter.key, {
        tenant: 'acme',
        type: 'auth.login.succeeded',
        actor: { type: 'user', id: 'user-1' },
        context: { marker },
        personal: { subject: 'user-1', data: { email } },
      });
      expect(appended.status).toBe(201);
      const { id: eventId } = (await appended.json()) as { id: string };

      const search = () => call('GET', '/v1/events?tenant=acme', investigator.key);
      const su = await superuserClient(db);
      const records = async () =>
        (
          await su.query(
            `SELECT count(*)::int AS n FROM entries
             WHERE log = 'platform' AND convert_from(leaf, 'UTF8')::jsonb->>'type' = 'access.events.search'
               AND convert_from(leaf, 'UTF8')::jsonb->'actor'->>'id' = $1`,
            [investigator.id],
          )
        ).rows[0].n as number;
      try {
        // Control: while the record can be written, the same read answers the data.
        const answered = await search();
        expect(answered.status).toBe(200);
        const control = await answered.text();
        expect(control).toContain(eventId);
        expect(control).toContain(email);
        const before = await records();
        expect(before).toBe(1);

        await su.query(`REVOKE INSERT ON entries FROM ${RUNTIME_ROLE}`);
        try {
          const refused = await search();
          const text = await refused.text();
          expect({ status: refused.status, body: JSON.parse(text) }).toEqual({
            status: 503,
            body: {
              statusCode: 503,
              error: 'Service Unavailable',
              code: 'unavailable',
              message: 'this read could not be recorded in the ledger, so it is not answered; retry later',
            },
          });
          expect(refused.headers.get('retry-after')).toBe('1');
          expect(refused.headers.get('content-type')).toContain('application/json');
          // No event data, and nothing of what PostgreSQL said.
          for (const leak of [eventId, marker, email, 'items', 'permission', 'audit_runtime', 'entries'])
            expect(text).not.toContain(leak);
          // Nothing was recorded: the record is what failed.
          expect(await records()).toBe(before);
        } finally {
          await su.query(`GRANT INSERT ON entries TO ${RUNTIME_ROLE}`);
        }

        // The ledger takes records again: the same read is answered and recorded.
        const again = await search();
        expect(again.status).toBe(200);
        expect(await again.text()).toContain(email);
        expect(await records()).toBe(before + 1);
      } finally {
        await su.end();
      }
      // The service's log names the refusal without the database's message.
      expect(service.output()).toContain('the ledger did not take its record');
      expect(service.output()).not.toMatch(/permission denied/i);
    } finally {
      await service?.kill();
      if (service) {
        rmSync(service.env.AUDIT_CHECKPOINT_DIR, { recursive: true, force: true });
        await clearQueues(service.env.AUDIT_QUEUE_PREFIX);
      }
      await dropTestDatabase(db);
    }
  });
});
