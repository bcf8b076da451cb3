import { personalDigest } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { TestApp, startTestApp } from '../../test/support/test-app';
import { createTestDatabase, dropTestDatabase, superuserClient } from '../../test/support/test-database';
import { beforeEntryInsert, billingEvent } from '../../test/support/test-module';
import { EventToAppend } from './append-plan';
import { SequencerUnavailableError, UnprocessableEntryError } from './ledger.errors';
import { Sequencer } from './sequencer';

/**
 * The sequencer against the real PostgreSQL, below the HTTP edge: values the edge may let through
 * today or refuse tomorrow still reach the database here, which is the last line.
 */
describe('Sequencer: a request PostgreSQL refuses fails alone', () => {
  let db: string;
  let t: TestApp;
  let owner: Client;
  let sequencer: Sequencer;

  const event = (
    log: string,
    note: string,
    personal?: Record<string, string>,
    subject = 'subject-1',
  ): EventToAppend => {
    const salt = randomBytes(32);
    return {
      ...billingEvent(log, note),
      ...(personal ? { personal: { subject, data: personal, salt, digest: personalDigest(salt, personal) } } : {}),
    };
  };
  // Personal data is stored sealed (bytes), so U+0000 in it no longer reaches a text or jsonb
  // column; in the subject id it still does (text: 22021), and the data subject's key is the
  // first statement to meet it.
  const POISONED_SUBJECT = 'subject-\u0000-1';

  beforeAll(async () => {
    db = await createTestDatabase();
    owner = await superuserClient(db);
    // Entries that carry `marker` raise `raise`, counted in `test_<marker>_attempts` outside the
    // transaction (a sequence is not rolled back) so a test sees how often each was tried; as the
    // owner, since the service's role may not use the sequence.
    const refuseMarked = (marker: string, raise: string) =>
      beforeEntryInsert(
        owner,
        `test_${marker}`,
        `test_${marker}_attempts`,
        `IF position(convert_to('${marker}', 'UTF8') IN NEW.leaf) > 0 THEN
           PERFORM nextval('test_${marker}_attempts');
           ${raise};
         END IF;`,
      );
    // A stand-in for a database going away mid-statement: the SQLSTATE of a server shut down by
    // its administrator.
    await refuseMarked(
      'outage',
      "RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = 'admin_shutdown'",
    );
    // A log that is always contended: a unique violation, as when another process keeps winning
    // the head.
    await refuseMarked(
      'contended',
      `RAISE EXCEPTION 'duplicate key value violates unique constraint "entries_pkey"' USING ERRCODE = 'unique_violation', CONSTRAINT = 'entries_pkey'`,
    );
    t = await startTestApp(db, { AUDIT_COMPONENTS: 'api,sequencer' });
    sequencer = t.app.get(Sequencer);
  });

  afterAll(async () => {
    await owner.end();
    await t?.close();
    await dropTestDatabase(db);
  });

  async function indices(log: string): Promise<number[]> {
    const { rows } = await owner.query('SELECT idx::int FROM entries WHERE log = $1 ORDER BY idx', [log]);
    return rows.map((r: { idx: number }) => r.idx);
  }

  it('refuses U+0000 in a personal data subject (text, 22021) for that request alone, without the value, and commits the rest', async () => {
    // Called in one tick: the first request takes the log's statement, the other nine queue and
    // share the next one.
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        sequencer.append([
          i === 6
            ? event('acme', `n${i}`, { email: 'alice@example.com' }, POISONED_SUBJECT)
            : event('acme', `n${i}`, { email: 'bob@example.com' }),
        ]),
      ),
    );
    const refused = settled[6];
    expect(refused.status).toBe('rejected');
    const error = (refused as PromiseRejectedResult).reason as Error;
    expect(error).toBeInstanceOf(UnprocessableEntryError);
    expect(error.message).toContain('22021');
    expect(error.message).not.toContain('alice');
    expect(error.message).not.toContain('subject-');
    const acknowledged = settled.filter((s) => s.status === 'fulfilled');
    expect(acknowledged).toHaveLength(9);
    expect(await indices('acme')).toEqual(Array.from({ length: 9 }, (_, i) => i));

    // The cached head was left as the last commit made it: the next append continues the log.
    const [next] = await sequencer.append([event('acme', 'after')]);
    expect(next.index).toBe(9);
  });

  it('refuses a poisoned request on the locked path (an effect) alone as well', async () => {
    const before = await indices('acme');
    await expect(
      sequencer.append(
        [event('acme', 'locked', { email: 'carol@example.com' }, POISONED_SUBJECT)],
        async () => undefined,
      ),
    ).rejects.toBeInstanceOf(UnprocessableEntryError);
    expect(await indices('acme')).toEqual(before);
    const [next] = await sequencer.append([event('acme', 'locked-clean')], async () => undefined);
    expect(next.index).toBe(before.length);
  });

  it("does not split a statement refused for the database's state: every request gets the original error, once", async () => {
    const before = await indices('globex');
    const settled = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        sequencer.append([event('globex', i === 0 ? 'first' : i === 5 ? 'outage' : `n${i}`)]),
      ),
    );
    // The first request had the statement to itself; the other seven shared the refused one.
    expect(settled[0].status).toBe('fulfilled');
    for (const s of settled.slice(1)) {
      expect(s.status).toBe('rejected');
      expect((s as PromiseRejectedResult).reason).toMatchObject({ code: '57P01' });
    }
    const { rows } = await owner.query('SELECT last_value::int AS n, is_called FROM test_outage_attempts');
    expect(rows[0]).toMatchObject({ n: 1, is_called: true });
    expect(await indices('globex')).toEqual([...before, before.length]);
  });

  it("gives up on a head it never wins with a 503 error of its own, never the database's unique violation", async () => {
    const before = await indices('initech');
    const [settled] = await Promise.allSettled([sequencer.append([event('initech', 'contended')])]);
    expect(settled.status).toBe('rejected');
    const reason = (settled as PromiseRejectedResult).reason as SequencerUnavailableError;
    expect(reason).toBeInstanceOf(SequencerUnavailableError);
    expect(reason.status).toBe(503);
    expect(reason.message).not.toMatch(/entries_pkey|duplicate/);
    // Tried once and planned again after each of 20 refusals, and then no more.
    const { rows } = await owner.query('SELECT last_value::int AS n FROM test_contended_attempts');
    expect(rows[0].n).toBe(21);
    expect(await indices('initech')).toEqual(before);
    // The log is not wedged: the next append commits.
    const [next] = await sequencer.append([event('initech', 'after')]);
    expect(next.index).toBe(before.length);
  });
});
