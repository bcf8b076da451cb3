import { CommandBus } from '@nestjs/cqrs';
import { Job } from 'bullmq';
import { Client } from 'pg';
import { MovableClock, TestApp, createKey, startTestApp } from '../../test/support/test-app';
import { OnTestDatabase, onTestDatabase } from '../../test/support/test-database';
import { beforeEntryInsert } from '../../test/support/test-module';
import { DeletionProcessor } from './deletion.processor';
import { RUN_DELETION_JOB } from './deletion.queue';
import { DeletionQueueing } from './deletion-queueing';
import { DeletionStore } from './deletion.store';
import { ErasureRunner } from './erasure-runner';

const YEAR = 365.25 * 86_400_000;
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/**
 * The outcome of a run and its ledger entry commit together: when the entry's append fails, the
 * row is not finished either, so the retry runs and records it. Real PostgreSQL and the real
 * sequencer; no worker (the test plays BullMQ's attempts itself, so nothing else runs the job).
 */
describe('a deletion outcome whose ledger entry fails to append', () => {
  // Past every retention minimum, so nothing but the failing append stands in the way.
  const clock = new MovableClock(30 * YEAR);
  let t: OnTestDatabase<TestApp>;
  let owner: Client;
  let processor: DeletionProcessor;
  let store: DeletionStore;
  let emitter: string;
  let legal: string;

  beforeAll(async () => {
    t = await onTestDatabase(async (db, owner) => {
      // Refuses the first `deletion.completed` leaf only: a sequence, because it is not rolled back
      // with the refused transaction.
      await beforeEntryInsert(
        owner,
        'test_refuse_first_completed',
        'test_completed_attempts',
        `IF position(convert_to('"deletion.completed"', 'UTF8') IN NEW.leaf) > 0
            AND nextval('test_completed_attempts') = 1 THEN
           RAISE EXCEPTION 'test: the outcome entry fails to append once';
         END IF;`,
      );
      return startTestApp(db, { AUDIT_COMPONENTS: 'api,sequencer' }, { clock });
    });
    ({ owner } = t);
    store = t.app.get(DeletionStore);
    processor = new DeletionProcessor(
      store,
      t.app.get(ErasureRunner),
      t.app.get(DeletionQueueing),
      t.app.get(CommandBus),
      clock,
    );
    emitter = await createKey(t, 'auth-service', ['emitter'], ['acme']);
    legal = await createKey(t, 'alice-legal', ['legal'], ['acme']);
  });

  afterAll(() => t?.close());

  /** BullMQ's attempt `attempt` (0-based) of `attempts` of the request's job. */
  const attempt = (requestId: string, attempt: number, attempts: number) =>
    processor.process({
      name: RUN_DELETION_JOB,
      data: { requestId },
      attemptsMade: attempt,
      opts: { attempts },
    } as unknown as Job<{ requestId: string }>);

  async function deletionEntries(id: string): Promise<string[]> {
    const { rows } = await owner.query(
      `SELECT convert_from(leaf, 'UTF8')::jsonb->>'type' AS type FROM entries
       WHERE log = 'acme' AND convert_from(leaf, 'UTF8')::jsonb->'target'->>'id' = $1 ORDER BY idx`,
      [id],
    );
    return rows.map((row: { type: string }) => row.type);
  }

  async function status(id: string): Promise<string> {
    const { rows } = await owner.query('SELECT status FROM deletion_requests WHERE id = $1', [id]);
    return rows[0].status;
  }

  it('leaves the request running, and the retry records deletion.completed; a completed request never turns failed', async () => {
    const events = [1, 2].map((attempt) => ({
      tenant: 'acme',
      type: 'auth.login.succeeded',
      actor: { type: 'user', id: 'subject-1' },
      personal: { subject: 'subject-1', data: { email: 'subject-1@example.com', attempt } },
    }));
    await t.http().post('/v1/events/batch').set(auth(emitter)).send({ events }).expect(201);
    const erasure = { kind: 'subject_erasure', tenant: 'acme', subject: 'subject-1', reason: 'asked' };
    const { body } = await t.http().post('/v1/deletion-requests').set(auth(legal)).send(erasure).expect(202);
    const id = body.id as string;

    // First of two attempts: the erasure commits, the outcome's entry is refused.
    await expect(attempt(id, 0, 2)).rejects.toThrow('the outcome entry fails to append once');
    expect(await status(id)).toBe('running');
    expect(await deletionEntries(id)).toEqual(['deletion.requested']);
    const { rows: erased } = await owner.query('SELECT count(*)::int AS n FROM personal_data WHERE erased_by = $1', [
      id,
    ]);
    expect(erased[0].n).toBe(2);

    // The retry: nothing left to erase, but the two erased before are counted and recorded.
    await expect(attempt(id, 1, 2)).resolves.toEqual({ status: 'completed' });
    expect(await deletionEntries(id)).toEqual(['deletion.requested', 'deletion.completed']);
    expect(await store.find(id)).toMatchObject({
      status: 'completed',
      erased: 2,
      blocked: 0,
      recorded: { status: 'completed', erased: 2, blocked: 0 },
    });

    // A late last attempt (a duplicate job) finds it finished; failing it is refused.
    await expect(attempt(id, 1, 2)).resolves.toEqual({ status: 'finished already' });
    await expect(store.fail(id, clock.now())).resolves.toBe(false);
    expect(await status(id)).toBe('completed');
    expect(await deletionEntries(id)).toEqual(['deletion.requested', 'deletion.completed']);
  });
});
