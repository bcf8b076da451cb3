import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearQueues } from '../support/redis-keys';
import { testKeyEncryptionKey, testPersonalSearchKey, testSigningKey } from '../support/test-app';
import { createTestDatabase, dropTestDatabase } from '../support/test-database';
import { copyDatabase } from './support/copy-database';
import {
  ServiceProcess,
  call,
  expectCall,
  legalPersonKey,
  runCommandLine,
  startServiceProcess,
} from './support/service-process';
import { until } from './support/until';

/**
 * A restore must not undo holds or erasures (docs/operations.md "Restoring a backup"). A copy of
 * the database is taken; then a hold is placed on one subject and another subject is erased; the
 * copy is restored (the service restarted on it) with the same checkpoint mirror. Before any
 * worker runs, the held subject cannot be erased (appends, and so deletion requests, are refused
 * while the database is behind its mirror) and the erased subject's personal data is never
 * served: the erasure journal beside the mirror erased it again at start. Once the operator
 * acknowledges the rollback, the hold journal places the forgotten hold again.
 */

const TENANT = 'acme';
const HELD = 'subject-held';
const ERASED = 'subject-erased';
const SECRET_OF_ERASED = 'erased-persons-phone-+4930123456';
const DEADLINE_MS = Number(process.env.DRILL_DEADLINE_MS ?? 60_000);

describe('drill: restoring an older copy of the database', () => {
  it('keeps the hold placed after the copy and the erasure done after it', async () => {
    const original = await createTestDatabase();
    const databases = [original];
    const mirror = mkdtempSync(join(tmpdir(), 'audit-restore-cp-'));
    // One deployment throughout: one signing key, one admin secret, one mirror, one queue prefix.
    const env = {
      AUDIT_CHECKPOINT_DIR: mirror,
      AUDIT_SIGNING_KEY: testSigningKey(original),
      // The restored copies hold the original's wrapped subject keys: the deployment's one key-encryption key.
      AUDIT_KEY_ENCRYPTION_KEY: testKeyEncryptionKey(original),
      AUDIT_PERSONAL_SEARCH_KEY: testPersonalSearchKey(original),
      AUDIT_BOOTSTRAP_ADMIN_KEY: `drill-admin-${randomBytes(16).toString('hex')}`,
      AUDIT_QUEUE_PREFIX: `drill-${randomBytes(6).toString('hex')}`,
      AUDIT_DELETION_RECONCILE_MS: '200',
    };
    const admin = env.AUDIT_BOOTSTRAP_ADMIN_KEY;
    let service: ServiceProcess | undefined;
    try {
      service = await startServiceProcess(original, env);
      const key = async (name: string, roles: string[]) =>
        (await expectCall(service!, admin, 'POST', '/v1/keys', 201, { name, roles, tenants: [TENANT] })).json
          .key as string;
      const emitter = await key('auth-service', ['emitter']);
      const investigator = await key('ivan', ['investigator']);
      const legal = await legalPersonKey(service, 'lena', [TENANT]);
      // No retention minimum: only holds keep this category's personal data.
      await expectCall(service, admin, 'PUT', '/v1/retention-policies/auth', 200, {
        minDays: 0,
        maxDays: 730,
        mode: 'governance',
        reason: 'drill: erasure at once',
      });
      await expectCall(service, emitter, 'POST', '/v1/events/batch', 201, {
        events: [HELD, ERASED].map((subject) => ({
          tenant: TENANT,
          type: 'auth.login.succeeded',
          actor: { type: 'user', id: subject },
          personal: { subject, data: { phone: subject === ERASED ? SECRET_OF_ERASED : 'kept' } },
        })),
      });
      await service.kill();

      // The backup: a copy taken now, before the hold and the erasure.
      const backup = await copyDatabase(original);
      databases.push(backup);

      service = await startServiceProcess(original, env);
      const hold = (
        await expectCall(service, legal, 'POST', '/v1/holds', 201, {
          tenant: TENANT,
          matter: 'MAT-RESTORE',
          scope: { subjects: [HELD] },
        })
      ).json;
      const erasure = (
        await expectCall(service, legal, 'POST', '/v1/deletion-requests', 202, {
          kind: 'subject_erasure',
          tenant: TENANT,
          subject: ERASED,
          reason: 'the person asked',
        })
      ).json;
      await until(
        'the erasure to complete',
        async () =>
          (await expectCall(service!, legal, 'GET', `/v1/deletion-requests/${erasure.id}`, 200)).json.status ===
          'completed',
        { timeoutMs: DEADLINE_MS, pauseMs: 100 },
      );
      // The hold and the erasure are in a signed, mirrored checkpoint (the interval is short in tests).
      await expectCall(service, investigator, 'POST', `/v1/logs/${TENANT}/checkpoint`, 200);
      await service.kill();

      // The restore: the old copy, the same mirror, no worker.
      service = await startServiceProcess(backup, { ...env, AUDIT_COMPONENTS: 'api' });
      const search = (
        await expectCall(service, investigator, 'GET', `/v1/events?tenant=${TENANT}&subject=${ERASED}`, 200)
      ).json;
      expect(search.items).toHaveLength(1);
      expect(search.items[0].personal).toMatchObject({ subject: ERASED, erased: true });
      expect(JSON.stringify(search)).not.toContain(SECRET_OF_ERASED);
      // An event read needs a checkpoint covering the entry, which cannot be signed meanwhile (503);
      // whatever it answers, it holds none of the erased data.
      const read = await call(service, investigator, 'GET', `/v1/events/${search.items[0].id}`);
      expect([200, 503]).toContain(read.status);
      expect(read.text).not.toContain(SECRET_OF_ERASED);

      // The hold is not in the restored database, but nothing can erase the held subject.
      const holds = (await expectCall(service, legal, 'GET', `/v1/holds?tenant=${TENANT}`, 200)).json;
      expect(holds.items.map((h: { id: string }) => h.id)).not.toContain(hold.id);
      const refused = await call(service, legal, 'POST', '/v1/deletion-requests', {
        kind: 'subject_erasure',
        tenant: TENANT,
        subject: HELD,
        reason: 'an attempt on the held subject after the restore',
      });
      expect(refused.status).toBe(503);
      expect(refused.json.code).toBe('ledger_behind_mirror');
      const held = (await expectCall(service, investigator, 'GET', `/v1/events?tenant=${TENANT}&subject=${HELD}`, 200))
        .json;
      expect(held.items[0].personal.data).toEqual({ phone: 'kept' });

      // The operator accepts the restored history: the forgotten hold comes back from the journal.
      const acknowledged = await runCommandLine(service, [
        'ledger',
        'acknowledge-rollback',
        '--reason',
        'DRILL-1: restored the backup taken before the hold',
      ]);
      expect(acknowledged.code).toBe(0);
      expect(JSON.parse(acknowledged.out).placedAgain).toEqual([hold.id]);
      const check = (
        await expectCall(service, legal, 'POST', '/v1/holds/check', 200, { tenant: TENANT, subject: HELD })
      ).json;
      expect(check).toMatchObject({ held: true, holds: [{ id: hold.id, matter: 'MAT-RESTORE' }] });
      const again = (
        await expectCall(service, investigator, 'GET', `/v1/events?tenant=${TENANT}&subject=${ERASED}`, 200)
      ).json;
      expect(JSON.stringify(again)).not.toContain(SECRET_OF_ERASED);
    } finally {
      await service?.kill();
      await clearQueues(env.AUDIT_QUEUE_PREFIX);
      for (const db of databases) await dropTestDatabase(db);
      rmSync(mirror, { recursive: true, force: true });
    }
  }, 180_000);
});
