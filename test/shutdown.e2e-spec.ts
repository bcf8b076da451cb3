import { Sequencer } from '../src/ledger/sequencer';
import { startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

describe('graceful shutdown', () => {
  let db: string;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await dropTestDatabase(db);
  });

  it('finishes the appends it accepted, signs them, and refuses new ones', async () => {
    const t = await startTestApp(db);
    const sequencer = t.app.get(Sequencer);
    const accepted = Array.from({ length: 50 }, (_, i) =>
      sequencer.append([
        {
          log: 'acme',
          source: 'console',
          type: 'admin.setting.changed',
          category: 'admin',
          actor: { type: 'user', id: `u${i}` },
          outcome: 'success',
        },
      ]),
    );
    const closing = t.close();
    const results = await Promise.all(accepted);
    await closing;
    expect(results.map((r) => r[0].index).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await expect(
      sequencer.append([
        {
          log: 'acme',
          source: 'console',
          type: 'admin.setting.changed',
          category: 'admin',
          actor: { type: 'user', id: 'late' },
          outcome: 'success',
        },
      ]),
    ).rejects.toMatchObject({ code: 'unavailable' });
    const owner = await superuserClient(db);
    try {
      const head = (
        await owner.query(
          "SELECT size, (SELECT max(size) FROM checkpoints WHERE log = 'acme') AS checkpoint_size FROM logs WHERE log = 'acme'",
        )
      ).rows[0];
      expect(Number(head.size)).toBe(50);
      // The signer's last pass on shutdown checkpointed everything that was appended.
      expect(Number(head.checkpoint_size)).toBe(50);
    } finally {
      await owner.end();
    }
  });
});
