import { LogVerifier, decodeLeaf } from '@audit/ledger';
import { Sequencer } from '../src/ledger/sequencer';
import { MetricsService } from '../src/platform/metrics/metrics.service';
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

  /** Checks each log is one gap-free chain that verifies, with entries from `sources`; returns the entries in all. */
  async function expectOneValidChainEach(tenants: string[], sources: Set<string>): Promise<number> {
    const owner = await superuserClient(db);
    try {
      let total = 0;
      for (const tenant of tenants) {
        const { rows } = await owner.query(
          'SELECT idx, leaf, leaf_hash, tree_nodes FROM entries WHERE log = $1 ORDER BY idx',
          [tenant],
        );
        const head = (await owner.query('SELECT size FROM logs WHERE log = $1', [tenant])).rows[0];
        expect(Number(head.size)).toBe(rows.length);
        const verifier = new LogVerifier({
          log: tenant,
          origin: `${a.config.logOriginPrefix}/${tenant}`,
          verifier: { name: 'x', keyHash: 0, verify: () => false },
        });
        rows.forEach((row, i) => {
          expect(Number(row.idx)).toBe(i);
          verifier.push(row.leaf, row.leaf_hash, row.tree_nodes);
        });
        expect(verifier.finish().problems).toEqual([]);
        expect(new Set(rows.map((r) => decodeLeaf(r.leaf).source))).toEqual(sources);
        total += rows.length;
      }
      return total;
    } finally {
      await owner.end();
    }
  }

  it('append concurrently to the same logs and produce one gap-free, valid chain per log', async () => {
    const keyA = await createKey(a, 'svc-a', ['emitter'], ['*']);
    const keyB = await createKey(b, 'svc-b', ['emitter'], ['*']);
    const tenants = ['t1', 't2', 't3'];
    const sends: Promise<{ status: number }>[] = [];
    for (let i = 0; i < 60; i++) {
      for (const [app, key] of [
        [a, keyA],
        [b, keyB],
      ] as const) {
        const tenant = tenants[i % tenants.length];
        const body = { tenant, type: 'deployment.scaled', actor: { type: 'service', id: `s${i}` } };
        sends.push(
          i % 4 === 0
            ? app
                .http()
                .post('/v1/events/batch')
                .set('authorization', `Bearer ${key}`)
                .send({ events: [body, body, body] })
            : app.http().post('/v1/events').set('authorization', `Bearer ${key}`).send(body),
        );
      }
    }
    const answers = await Promise.all(sends);
    expect(answers.every((r) => r.status === 201)).toBe(true);

    const total = await expectOneValidChainEach(tenants, new Set(['svc-a', 'svc-b']));
    // 60 rounds x 2 instances, a quarter of them batches of 3.
    expect(total).toBe(2 * (45 + 15 * 3));
  }, 30_000);

  it('group-commit single events of many tenants into a few statements, each log still one chain', async () => {
    const tenants = Array.from({ length: 16 }, (_, i) => `many${i}`);
    const commits = async () =>
      Number(/^audit_append_batch_entries_count (\d+)/m.exec(await a.app.get(MetricsService).registry.metrics())?.[1]);
    const before = await commits();
    // 64 requests arrive at once (in one tick, as many HTTP requests do under load).
    const sequencer = a.app.get(Sequencer);
    const acks = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        sequencer.append([
          {
            log: tenants[i % 16],
            source: 'svc-many',
            type: 'deployment.scaled',
            category: 'deployment',
            actor: { type: 'service', id: `s${i}` },
            outcome: 'success',
          },
        ]),
      ),
    );
    expect(acks.map(([ack]) => ack.log)).toEqual(Array.from({ length: 64 }, (_, i) => tenants[i % 16]));
    // A statement per request would be 64: the first few start at once, the next take the rest.
    expect((await commits()) - before).toBeLessThanOrEqual(12);
    expect(await expectOneValidChainEach(tenants, new Set(['svc-many']))).toBe(64);
  }, 30_000);
});
