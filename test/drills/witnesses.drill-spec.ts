import {
  generateCosignerKey,
  generateNoteKey,
  openCheckpointWithPolicy,
  parseCheckpoint,
  parseWitnessPolicy,
  verifyTlogProof,
} from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearQueues } from '../support/redis-keys';
import { testKeyEncryptionKey, testPersonalSearchKey } from '../support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../support/test-database';
import { copyDatabase } from './support/copy-database';
import {
  ServiceProcess,
  call,
  expectCall,
  freePort,
  runCommandLine,
  startServiceProcess,
} from './support/service-process';
import { until } from './support/until';

/**
 * Witnesses as separate processes on loopback (docs/operations.md "Running a witness",
 * "Witnessing this deployment's checkpoints"). Deployments A and B each run `all,witness` and
 * witness each other's logs; W is a witness-only process that witnesses both; D is a witness of A
 * that is killed. A's policy: 2 of {B, W, D}; B's: 2 of {A, W}.
 * 1. With D down, A's checkpoints still meet the quorum (cosigned by B and W), and a receipt
 *    verifies offline with `verify-proof`; B's checkpoints are cosigned by A and W.
 * 2. A is restored from an older copy of its database, the operator acknowledges the rollback, and
 *    A appends other events: B and W refuse the forked checkpoint (422, logged as a possible split
 *    view), their state stays on the history they cosigned, nothing new is cosigned, and A records
 *    the refusals (witness_submissions) and logs them.
 */

const TENANT = 'acme';
const DEADLINE_MS = Number(process.env.DRILL_DEADLINE_MS ?? 30_000);
const WAIT = { timeoutMs: DEADLINE_MS, pauseMs: 200 };
const seed = () => randomBytes(32);
const noteText = (note: string) => note.slice(0, note.indexOf('\n\n') + 1);
const sizeOf = (note: string) => parseCheckpoint(noteText(note)).size;

async function query(db: string, sql: string, params: unknown[] = []): Promise<Record<string, any>[]> {
  const client = await superuserClient(db);
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

describe('drill: witnesses in their own processes', () => {
  it('meets a 2-of-3 quorum with one witness down, and refuses a checkpoint from a restored, forked database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-witness-drill-'));
    const databases: string[] = [];
    const services: ServiceProcess[] = [];
    const prefixes: string[] = [];
    const started = Date.now();
    try {
      const [dbA, dbB, dbW, dbD] = await Promise.all([1, 2, 3, 4].map(() => createTestDatabase()));
      databases.push(dbA, dbB, dbW, dbD);
      const [portA, portB, portW, portD] = await Promise.all([1, 2, 3, 4].map(() => freePort()));
      const logA = generateNoteKey('drill-a.test', seed());
      const logB = generateNoteKey('drill-b.test', seed());
      const wit = {
        a: generateCosignerKey('witness-a.test', seed()),
        b: generateCosignerKey('witness-b.test', seed()),
        w: generateCosignerKey('witness-w.test', seed()),
        d: generateCosignerKey('witness-d.test', seed()),
      };
      const file = (name: string, text: string) => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      };
      const witnessing = {
        ofA: file('logs-a.policy', `log ${logA.verifierKey}\nquorum none\n`),
        ofB: file('logs-b.policy', `log ${logB.verifierKey}\nquorum none\n`),
        ofBoth: file('logs-ab.policy', `log ${logA.verifierKey}\nlog ${logB.verifierKey}\nquorum none\n`),
      };
      const policyA =
        `log ${logA.verifierKey}\n` +
        `witness b ${wit.b.verifierKey} http://127.0.0.1:${portB}/v1/witness\n` +
        `witness w ${wit.w.verifierKey} http://127.0.0.1:${portW}/v1/witness\n` +
        `witness d ${wit.d.verifierKey} http://127.0.0.1:${portD}/v1/witness\n` +
        'group two 2 b w d\nquorum two\n';
      const policyB =
        `log ${logB.verifierKey}\n` +
        `witness a ${wit.a.verifierKey} http://127.0.0.1:${portA}/v1/witness\n` +
        `witness w ${wit.w.verifierKey} http://127.0.0.1:${portW}/v1/witness\n` +
        'group two 2 a w\nquorum two\n';
      const policyFileA = file('witnesses-a.policy', policyA);

      const deployment = (db: string, origin: string, signingKey: string, extra: Record<string, string>) => {
        const prefix = `drill-${randomBytes(6).toString('hex')}`;
        prefixes.push(prefix);
        return {
          AUDIT_COMPONENTS: 'all,witness',
          AUDIT_LOG_ORIGIN: origin,
          AUDIT_SIGNING_KEY: signingKey,
          // A restored copy holds the original's wrapped keys: the deployment's keys, not the URL's.
          AUDIT_KEY_ENCRYPTION_KEY: testKeyEncryptionKey(db),
          AUDIT_PERSONAL_SEARCH_KEY: testPersonalSearchKey(db),
          AUDIT_CHECKPOINT_DIR: mkdtempSync(join(dir, 'mirror-')),
          AUDIT_BOOTSTRAP_ADMIN_KEY: `drill-admin-${randomBytes(16).toString('hex')}`,
          AUDIT_QUEUE_PREFIX: prefix,
          ...extra,
        };
      };
      const envA = deployment(dbA, 'drill-a.test', logA.privateKey, {
        AUDIT_WITNESS_KEY: wit.a.privateKey,
        AUDIT_WITNESS_LOGS: witnessing.ofB,
        AUDIT_WITNESS_POLICY: policyFileA,
      });
      const envB = deployment(dbB, 'drill-b.test', logB.privateKey, {
        AUDIT_WITNESS_KEY: wit.b.privateKey,
        AUDIT_WITNESS_LOGS: witnessing.ofA,
        AUDIT_WITNESS_POLICY: file('witnesses-b.policy', policyB),
      });
      const witnessOnly = (key: string, logs: string) => {
        const prefix = `drill-${randomBytes(6).toString('hex')}`;
        prefixes.push(prefix);
        return {
          AUDIT_COMPONENTS: 'witness',
          AUDIT_WITNESS_KEY: key,
          AUDIT_WITNESS_LOGS: logs,
          AUDIT_QUEUE_PREFIX: prefix,
        };
      };
      const start = async (db: string, env: Record<string, string>, port: number) => {
        const service = await startServiceProcess(db, env, { port });
        services.push(service);
        return service;
      };
      const [first, b, w, d] = await Promise.all([
        start(dbA, envA, portA),
        start(dbB, envB, portB),
        start(dbW, witnessOnly(wit.w.privateKey, witnessing.ofBoth), portW),
        start(dbD, witnessOnly(wit.d.privateKey, witnessing.ofA), portD),
      ]);
      // A is started again on the same port twice: once after the backup, once on the restored copy.
      let a = first;
      const key = async (service: ServiceProcess, name: string, roles: string[]) =>
        (
          await expectCall(service, service.env.AUDIT_BOOTSTRAP_ADMIN_KEY, 'POST', '/v1/keys', 201, {
            name,
            roles,
            tenants: [TENANT],
          })
        ).json.key as string;
      const keysA = {
        emitter: await key(a, 'emitter', ['emitter']),
        investigator: await key(a, 'ivan', ['investigator']),
      };
      const keysB = {
        emitter: await key(b, 'emitter', ['emitter']),
        investigator: await key(b, 'ivan', ['investigator']),
      };
      const append = async (service: ServiceProcess, emitter: string, tag: string, n: number) =>
        (
          await expectCall(service, emitter, 'POST', '/v1/events/batch', 201, {
            events: Array.from({ length: n }, (_, i) => ({
              tenant: TENANT,
              type: 'auth.login.succeeded',
              actor: { type: 'user', id: `${tag}-${i}` },
            })),
          })
        ).json;
      /** The checkpoint `?quorum=1` serves once it covers `minSize`. */
      const quorumCheckpoint = (service: ServiceProcess, investigator: string, minSize: number) =>
        until(
          `a quorum checkpoint of size ${minSize} on ${service.url}`,
          async () => {
            const res = await call(service, investigator, 'GET', `/v1/logs/${TENANT}/checkpoint?quorum=1`);
            return res.status === 200 && sizeOf(res.text) >= minSize ? res.text : undefined;
          },
          WAIT,
        );

      // Everyone up: a first witnessed checkpoint of A, taken as the backup's point.
      await append(a, keysA.emitter, 'before-backup', 3);
      await quorumCheckpoint(a, keysA.investigator, 3);

      // The backup of A's database (the process stopped for the copy, then started again).
      await a.kill();
      const backup = await copyDatabase(dbA);
      databases.push(backup);
      a = await start(dbA, envA, portA);

      // D goes down; A grows. The quorum is met by B and W alone.
      await d.kill();
      const appended = await append(a, keysA.emitter, 'after-backup', 4);
      const event = appended.results[3] as { id: string; index: number; leaf: string };
      const cosigned = await quorumCheckpoint(a, keysA.investigator, 7);
      const policy = parseWitnessPolicy(policyA);
      const opened = openCheckpointWithPolicy(cosigned, policy, `drill-a.test/${TENANT}`);
      expect(opened.quorumMet).toBe(true);
      expect(opened.cosigners).toEqual(['b', 'w']);
      const [down] = await query(
        dbA,
        'SELECT last_status, last_error FROM witness_submissions WHERE log = $1 AND witness_key = $2',
        [TENANT, wit.d.verifierKey],
      );
      expect(down.last_error).toMatch(/^unreachable/);

      // A receipt for an event after the backup verifies offline against the policy.
      await quorumCheckpoint(a, keysA.investigator, Number(event.index) + 1);
      const proof = await expectCall(a, keysA.investigator, 'GET', `/v1/events/${event.id}/proof`, 200);
      expect(proof.headers.get('x-witness-quorum')).toBe('met');
      const leaf = Buffer.from(event.leaf, 'base64');
      expect(verifyTlogProof(proof.text, policy, leaf).cosigners).toEqual(['b', 'w']);
      writeFileSync(join(dir, 'receipt.tlog-proof'), proof.text);
      writeFileSync(join(dir, 'leaf'), leaf);
      const verified = await runCommandLine(a, [
        'verify-proof',
        join(dir, 'receipt.tlog-proof'),
        '--policy',
        policyFileA,
        '--leaf',
        join(dir, 'leaf'),
      ]);
      expect(verified.code).toBe(0);
      expect(JSON.parse(verified.out)).toMatchObject({ ok: true, cosigners: ['b', 'w'] });

      // Both ways: B's checkpoints are cosigned by A and W.
      await append(b, keysB.emitter, 'b', 3);
      const cosignedB = await quorumCheckpoint(b, keysB.investigator, 3);
      expect(openCheckpointWithPolicy(cosignedB, parseWitnessPolicy(policyB)).cosigners).toEqual(['a', 'w']);

      // What the witnesses hold of A's log: the history they cosigned.
      const latest = await quorumCheckpoint(a, keysA.investigator, 7);
      const origin = `drill-a.test/${TENANT}`;
      const heldBy = async (db: string) =>
        (await query(db, 'SELECT size, root_hash FROM witness_state WHERE origin = $1', [origin]))[0];
      const cosignedSize = Number((await heldBy(dbB)).size);
      expect(cosignedSize).toBeGreaterThanOrEqual(sizeOf(latest));

      // The fork: A restored from the backup, acknowledged by the operator, then other events.
      await a.kill();
      a = await start(backup, envA, portA);
      const refused = await call(a, keysA.emitter, 'POST', '/v1/events', {
        tenant: TENANT,
        type: 'auth.login.succeeded',
        actor: { type: 'user', id: 'during-restore' },
      });
      expect(refused.status).toBe(503);
      const acknowledged = await runCommandLine(a, [
        'ledger',
        'acknowledge-rollback',
        '--reason',
        'DRILL-WITNESS: restored the backup taken before the last appends',
      ]);
      expect(acknowledged.code).toBe(0);
      // More entries than the lost ones, in one batch: the forked checkpoint is beyond what the
      // witnesses cosigned, so they check a consistency proof and it fails (422).
      // Every process sees the acknowledgement within MIRROR_RECHECK_MS (5 s): appends resume then.
      const fork = Array.from({ length: cosignedSize + 5 }, (_, i) => ({
        tenant: TENANT,
        type: 'auth.login.succeeded',
        actor: { type: 'user', id: `forked-${i}` },
      }));
      await until(
        'appends to resume after the acknowledgement',
        async () => {
          const res = await call(a, keysA.emitter, 'POST', '/v1/events/batch', { events: fork });
          if (res.status === 201) return true;
          expect(res.json.code).toBe('ledger_behind_mirror');
          return undefined;
        },
        WAIT,
      );
      const forked = await until(
        'the forked checkpoint',
        async () => {
          const res = await call(a, keysA.investigator, 'GET', `/v1/logs/${TENANT}/checkpoint`);
          return res.status === 200 && sizeOf(res.text) > cosignedSize ? res.text : undefined;
        },
        WAIT,
      );
      const refusals = await until(
        'both witnesses to refuse the fork',
        async () => {
          const rows = await query(
            backup,
            'SELECT witness_key, last_status, last_error FROM witness_submissions WHERE log = $1 AND witness_key = ANY($2)',
            [TENANT, [wit.b.verifierKey, wit.w.verifierKey]],
          );
          return rows.length === 2 && rows.every((row) => row.last_status === 422) ? rows : undefined;
        },
        WAIT,
      );
      for (const row of refusals) expect(row.last_error).toBe('the witness answered 422');

      // Nothing new is cosigned: the quorum checkpoint is not the forked one, and no cosignature
      // of a size beyond the backup's witnessed one is stored.
      const quorum = await expectCall(a, keysA.investigator, 'GET', `/v1/logs/${TENANT}/checkpoint?quorum=1`, 200);
      expect(sizeOf(quorum.text)).toBeLessThan(sizeOf(forked));
      expect(noteText(quorum.text)).not.toBe(noteText(forked));
      const latestForked = await expectCall(a, keysA.investigator, 'GET', `/v1/logs/${TENANT}/checkpoint`, 200);
      expect(latestForked.headers.get('x-witness-quorum')).toBe('not-met');
      const stored = await query(
        backup,
        'SELECT count(*)::int AS n FROM checkpoint_cosignatures WHERE log = $1 AND size > $2',
        [TENANT, sizeOf(quorum.text)],
      );
      expect(stored[0].n).toBe(0);
      // The witnesses still hold the history they cosigned.
      for (const db of [dbB, dbW]) expect(Number((await heldBy(db)).size)).toBe(cosignedSize);

      // Visible: each witness logged the refusal as an error, and so did A.
      for (const witness of [b, w]) {
        const line = witness
          .output()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l))
          .find((l) => String(l.msg).includes('possible split view') && String(l.msg).includes(`origin=${origin} `));
        expect(line).toBeDefined();
        expect(line.level).toBe(50);
        expect(line.msg).toContain(`cosignedSize=${cosignedSize}`);
      }
      expect(a.output()).toMatch(/witness b refused log acme at size \d+ as inconsistent \(422\): possible split view/);
      expect(a.output()).toMatch(/witness w refused log acme at size \d+ as inconsistent \(422\): possible split view/);
      process.stdout.write(`witness drill took ${Date.now() - started} ms\n`);
    } finally {
      for (const service of services) await service.kill();
      for (const prefix of prefixes) await clearQueues(prefix);
      for (const db of databases) await dropTestDatabase(db);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
