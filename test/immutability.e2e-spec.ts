import { DataSource } from 'typeorm';
import { getDataSourceToken } from '@nestjs/typeorm';
import { MirrorCheck } from '../src/ledger/mirror-check';
import { TestApp, createKey, startTestApp } from './support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from './support/test-database';

const event = (i: number) => ({
  tenant: 'acme',
  type: 'admin.role.granted',
  actor: { type: 'user', id: `admin${i}` },
  target: { type: 'user', id: `u${i}` },
  outcome: 'success',
});

async function waitForCheckpoint(t: TestApp, key: string, size: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const res = await t.http().get('/v1/logs/acme/checkpoint').set('authorization', `Bearer ${key}`);
    if (res.status === 200 && Number(res.text.split('\n')[1]) >= size) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no checkpoint');
}

describe('immutability', () => {
  let db: string;
  let t: TestApp;
  let emitter: string;
  let investigator: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db);
    emitter = await createKey(t, 'console', ['emitter'], ['acme']);
    investigator = await createKey(t, 'secops', ['investigator'], ['acme']);
    await t
      .http()
      .post('/v1/events/batch')
      .set('authorization', `Bearer ${emitter}`)
      .send({ events: Array.from({ length: 40 }, (_, i) => event(i)) })
      .expect(201);
    await waitForCheckpoint(t, investigator, 40);
  });

  afterAll(async () => {
    await t.close();
    await dropTestDatabase(db);
  });

  it('the runtime role the service queries with cannot UPDATE, DELETE or TRUNCATE the ledger, nor switch triggers off', async () => {
    const runtime = t.app.get<DataSource>(getDataSourceToken());
    expect((await runtime.query('SELECT current_user AS u'))[0].u).toBe('audit_runtime');
    for (const sql of [
      "UPDATE entries SET leaf = 'x'::bytea WHERE log = 'acme' AND idx = 0",
      "DELETE FROM entries WHERE log = 'acme'",
      'TRUNCATE entries',
      "UPDATE checkpoints SET note = 'x' WHERE log = 'acme'",
      "DELETE FROM checkpoints WHERE log = 'acme'",
      'TRUNCATE checkpoints',
      'ALTER TABLE entries DISABLE TRIGGER entries_append_only',
      'DROP TRIGGER entries_append_only ON entries',
    ]) {
      await expect(runtime.query(sql)).rejects.toThrow(/permission denied|must be owner/i);
    }
    // The role is the session's own from connection start: resetting it changes nothing.
    const session = runtime.createQueryRunner();
    try {
      await session.query('RESET ROLE');
      expect((await session.query('SELECT current_user AS u'))[0].u).toBe('audit_runtime');
    } finally {
      await session.release();
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE even from the owner while the triggers stand', async () => {
    const owner = await superuserClient(db);
    try {
      await expect(owner.query("UPDATE entries SET leaf = 'x'::bytea WHERE log = 'acme' AND idx = 0")).rejects.toThrow(
        /append-only/,
      );
      await expect(owner.query("DELETE FROM checkpoints WHERE log = 'acme'")).rejects.toThrow(/append-only/);
      await expect(owner.query('TRUNCATE entries')).rejects.toThrow(/append-only/);
    } finally {
      await owner.end();
    }
  });

  it('catches a superuser edit (triggers switched off) at the edited index', async () => {
    const owner = await superuserClient(db);
    try {
      await owner.query('ALTER TABLE entries DISABLE TRIGGER entries_append_only');
      await owner.query(
        "UPDATE entries SET leaf = convert_to(replace(convert_from(leaf, 'UTF8'), '\"id\":\"admin17\"', '\"id\":\"admin99\"'), 'UTF8') WHERE log = 'acme' AND idx = 17",
      );
      await owner.query('ALTER TABLE entries ENABLE TRIGGER entries_append_only');
    } finally {
      await owner.end();
    }
    const res = await t.http().post('/v1/logs/acme/verify').set('authorization', `Bearer ${investigator}`).expect(200);
    expect(res.body.ok).toBe(false);
    expect(res.body.firstBadIndex).toBe(17);
    expect(res.body.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ index: 17, code: 'leaf_hash_mismatch' })]),
    );
  });

  it('says loudly when the database is behind the checkpoint mirror (lost tail, old backup)', async () => {
    const owner = await superuserClient(db);
    try {
      for (const table of ['entries', 'checkpoints'])
        await owner.query(`ALTER TABLE ${table} DISABLE TRIGGER ${table}_append_only`);
      await owner.query("DELETE FROM entries WHERE log = 'acme' AND idx >= 30");
      await owner.query("DELETE FROM checkpoints WHERE log = 'acme' AND size > 30");
      for (const table of ['entries', 'checkpoints'])
        await owner.query(`ALTER TABLE ${table} ENABLE TRIGGER ${table}_append_only`);
    } finally {
      await owner.end();
    }
    expect(await t.app.get(MirrorCheck).check()).toEqual([
      { log: 'acme', problem: 'database_behind', mirroredSize: 40 },
    ]);
    const res = await t.http().post('/v1/logs/acme/verify').set('authorization', `Bearer ${investigator}`).expect(200);
    expect(res.body.ok).toBe(false);
    expect(res.body.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'log_behind_checkpoint' })]),
    );
  });
});
