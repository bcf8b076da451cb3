import { DeadlineExceededError, within } from './within';

describe('within', () => {
  it('answers with the work when it settles in time, and its rejection as it is', async () => {
    await expect(within(Promise.resolve(7), 50)).resolves.toBe(7);
    await expect(within(Promise.reject(new Error('refused')), 50)).rejects.toThrow('refused');
  });

  it('rejects with DeadlineExceededError when the work does not settle in time', async () => {
    await expect(within(new Promise(() => undefined), 10)).rejects.toBeInstanceOf(DeadlineExceededError);
  });
});
