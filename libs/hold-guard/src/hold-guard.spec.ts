import { DelayedError, type Job } from 'bullmq';
import {
  DEFAULT_RETRY_HELD_AFTER_MS,
  HoldCheckError,
  withHoldGuard,
  type HoldCheckAnswer,
  type HoldChecker,
  type HoldQuestion,
} from '@audit/hold-guard';

type Data = { tenant: string; subjects: string[] };

function fakeJob(data: Data) {
  const job = {
    id: 'job-1',
    data,
    log: jest.fn(async () => 1),
    updateProgress: jest.fn(async () => undefined),
    moveToDelayed: jest.fn(async () => undefined),
  };
  return { job, asJob: job as unknown as Job<Data, string> };
}

/** Answers per subject: a list of hold ids, or an error to throw. */
function fakeChecker(answers: Record<string, string[] | Error>): HoldChecker & { asked: HoldQuestion[] } {
  const asked: HoldQuestion[] = [];
  return {
    asked,
    async check(question): Promise<HoldCheckAnswer> {
      asked.push(question);
      const answer = answers[question.subject ?? ''] ?? [];
      if (answer instanceof Error) throw answer;
      return { held: answer.length > 0, holds: answer.map((id) => ({ id, matter: `matter of ${id}` })) };
    },
  };
}

const perSubject = (job: Job<Data, string>) =>
  job.data.subjects.map((subject) => ({ tenant: job.data.tenant, subject }));

describe('withHoldGuard', () => {
  it('runs the processor when nothing is held, passing token and signal through', async () => {
    const client = fakeChecker({});
    const processor = jest.fn(async () => 'erased');
    const { job, asJob } = fakeJob({ tenant: 'acme', subjects: ['a', 'b'] });
    const signal = new AbortController().signal;
    await expect(withHoldGuard(processor, { client, question: perSubject })(asJob, 'tok', signal)).resolves.toBe(
      'erased',
    );
    expect(processor).toHaveBeenCalledWith(asJob, 'tok', signal);
    expect(client.asked).toEqual([
      { tenant: 'acme', subject: 'a' },
      { tenant: 'acme', subject: 'b' },
    ]);
    expect(job.moveToDelayed).not.toHaveBeenCalled();
    expect(job.updateProgress).not.toHaveBeenCalled();
  });

  it('accepts a single question', async () => {
    const client = fakeChecker({});
    const processor = jest.fn(async () => 'erased');
    const { asJob } = fakeJob({ tenant: 'acme', subjects: [] });
    const guarded = withHoldGuard(processor, {
      client,
      question: (j: Job<Data, string>) => ({ tenant: j.data.tenant }),
    });
    await expect(guarded(asJob)).resolves.toBe('erased');
    expect(client.asked).toEqual([{ tenant: 'acme' }]);
  });

  it('delays a held job, records the hold ids and throws DelayedError', async () => {
    const client = fakeChecker({ a: ['h-1'], c: ['h-1', 'h-2'] });
    const processor = jest.fn(async () => 'erased');
    const onHeld = jest.fn();
    const { job, asJob } = fakeJob({ tenant: 'acme', subjects: ['a', 'b', 'c'] });
    const before = Date.now();
    const guarded = withHoldGuard(processor, { client, question: perSubject, retryHeldAfterMs: 30_000, onHeld });

    await expect(guarded(asJob, 'tok')).rejects.toBeInstanceOf(DelayedError);

    expect(processor).not.toHaveBeenCalled();
    expect(client.asked).toHaveLength(3);
    const [retryAt, token] = job.moveToDelayed.mock.calls[0] as unknown as [number, string];
    expect(token).toBe('tok');
    expect(retryAt).toBeGreaterThanOrEqual(before + 30_000);
    expect(retryAt).toBeLessThanOrEqual(Date.now() + 30_000);
    expect(job.updateProgress).toHaveBeenCalledWith({
      heldBy: ['h-1', 'h-2'],
      heldAt: expect.any(String),
      retryAt: new Date(retryAt).toISOString(),
    });
    const [line] = job.log.mock.calls[0] as unknown as [string];
    expect(line).toMatch(/^held by h-1, h-2: not run, checked again at /);
    expect(line).not.toContain('matter');
    expect(onHeld).toHaveBeenCalledWith(asJob, [
      { id: 'h-1', matter: 'matter of h-1' },
      { id: 'h-2', matter: 'matter of h-2' },
    ]);
    // Recorded before the move: once delayed, the job is no longer this worker's to write.
    expect(job.updateProgress.mock.invocationCallOrder[0]).toBeLessThan(job.moveToDelayed.mock.invocationCallOrder[0]);
  });

  it('waits an hour by default', async () => {
    const { job, asJob } = fakeJob({ tenant: 'acme', subjects: ['a'] });
    const guarded = withHoldGuard(async () => 'erased', { client: fakeChecker({ a: ['h-1'] }), question: perSubject });
    const before = Date.now();
    await expect(guarded(asJob)).rejects.toBeInstanceOf(DelayedError);
    const [retryAt] = job.moveToDelayed.mock.calls[0] as unknown as [number];
    expect(retryAt - before).toBeGreaterThanOrEqual(DEFAULT_RETRY_HELD_AFTER_MS);
    expect(DEFAULT_RETRY_HELD_AFTER_MS).toBe(3_600_000);
  });

  it('fails closed: a failed check rethrows and the processor does not run', async () => {
    const down = new HoldCheckError('check_unreachable', 'hold check could not reach the audit service');
    const processor = jest.fn(async () => 'erased');
    const { job, asJob } = fakeJob({ tenant: 'acme', subjects: ['a', 'b'] });
    const guarded = withHoldGuard(processor, { client: fakeChecker({ b: down }), question: perSubject });
    await expect(guarded(asJob)).rejects.toBe(down);
    expect(processor).not.toHaveBeenCalled();
    expect(job.moveToDelayed).not.toHaveBeenCalled();
  });

  it('fails closed even when the client throws a value that is not an Error', async () => {
    const processor = jest.fn(async () => 'erased');
    const client: HoldChecker = {
      check: () => Promise.reject(undefined),
    };
    const { asJob } = fakeJob({ tenant: 'acme', subjects: ['a'] });
    await expect(withHoldGuard(processor, { client, question: perSubject })(asJob)).rejects.toBeUndefined();
    expect(processor).not.toHaveBeenCalled();
  });

  it('delays rather than fails when one question is held and another check failed', async () => {
    const client = fakeChecker({ a: new HoldCheckError('check_timeout', 'timeout'), b: ['h-9'] });
    const { job, asJob } = fakeJob({ tenant: 'acme', subjects: ['a', 'b'] });
    await expect(withHoldGuard(async () => 'erased', { client, question: perSubject })(asJob)).rejects.toBeInstanceOf(
      DelayedError,
    );
    expect(job.updateProgress).toHaveBeenCalledWith(expect.objectContaining({ heldBy: ['h-9'] }));
  });

  it('fails closed when the job names nothing to check', async () => {
    const client = fakeChecker({});
    const processor = jest.fn(async () => 'erased');
    const { asJob } = fakeJob({ tenant: 'acme', subjects: [] });
    const error = await withHoldGuard(processor, { client, question: perSubject })(asJob).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HoldCheckError);
    expect((error as HoldCheckError).code).toBe('invalid_question');
    expect(processor).not.toHaveBeenCalled();
  });

  it('fails closed when question throws', async () => {
    const processor = jest.fn(async () => 'erased');
    const { asJob } = fakeJob({ tenant: 'acme', subjects: [] });
    const guarded = withHoldGuard(processor, {
      client: fakeChecker({}),
      question: () => {
        throw new Error('bad job data');
      },
    });
    await expect(guarded(asJob)).rejects.toThrow('bad job data');
    expect(processor).not.toHaveBeenCalled();
  });

  it('refuses a negative or infinite retry delay', () => {
    const options = { client: fakeChecker({}), question: perSubject };
    expect(() => withHoldGuard(async () => '', { ...options, retryHeldAfterMs: -1 })).toThrow(RangeError);
    expect(() => withHoldGuard(async () => '', { ...options, retryHeldAfterMs: Infinity })).toThrow(RangeError);
  });
});
