import { LogVerifier, decodeLeaf } from '@audit/ledger';
import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

describe('two service instances on one database', () => {
  let db: string;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    a = await startTestApp(db);
    b = await startTestApp(db);
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    await dropTestDatabase(db);
  });

  it('append concurrently to the same logs and produce one gap-free, valid chain per log', async () => {
    const keyA = await createKey(a, 'svc-a', ['emitter'], ['*']);
    const keyB = await createKey(b, 'svc-b', ['emitter'], ['*']);
    const tenants = ['t1', 't2', 't3'];
    const sends: Promise<{ status: number }>[] = [];
    for (let i = 0; i < 60; i++) {
      for (const [app, key] of [[a, keyA], [b, keyB]] as const) {
        const tenant = tenants[i % tenants.length];
        const body = { tenant, type: 'deployment.scaled', actor: { type: 'service', id: `s${i}` } };
        sends.push(i % 4 === 0
          ? app.http().post('/v1/events/batch').set('authorization', `Bearer ${key}`).send({ events: [body, body, body] })
          : app.http().post('/v1/events').set('authorization', `Bearer ${key}`).send(body));
      }
    }
    const answers = await Promise.all(sends);
    expect(answers.every((r) => r.status === 201)).toBe(true);

    const owner = await superuserClient(db);
    try {
      let total = 0;
      for (const tenant of tenants) {
        const { rows } = await owner.query('SELECT idx, leaf, leaf_hash, tree_nodes FROM entries WHERE log = $1 ORDER BY idx', [tenant]);
        const head = (await owner.query('SELECT size FROM logs WHERE log = $1', [tenant])).rows[0];
        expect(Number(head.size)).toBe(rows.length);
        const verifier = new LogVerifier({ log: tenant, origin: `${a.config.logOriginPrefix}/${tenant}`, verifier: { name: 'x', keyHash: 0, verify: () => false } });
        rows.forEach((row, i) => {
          expect(Number(row.idx)).toBe(i);
          verifier.push(row.leaf, row.leaf_hash, row.tree_nodes);
        });
        expect(verifier.finish().problems).toEqual([]);
        expect(new Set(rows.map((r) => decodeLeaf(r.leaf).source))).toEqual(new Set(['svc-a', 'svc-b']));
        total += rows.length;
      }
      // 60 rounds x 2 instances, a quarter of them batches of 3.
      expect(total).toBe(2 * (45 + 15 * 3));
    } finally {
      await owner.end();
    }
  }, 30_000);
});
