import { entryFailure, isolateFailures, leafMatchesFilter } from './projection-quarantine';

describe('entryFailure', () => {
  it("names an entry's own failures by SQLSTATE and condition, never by the database's message", () => {
    expect(entryFailure({ code: '22P05', message: 'unsupported Unicode escape sequence' })).toBe(
      '22P05 untranslatable_character',
    );
    expect(entryFailure({ code: 'P0001', message: 'refused alice@example.com' })).toBe('P0001 raise_exception');
    expect(entryFailure({ code: '23505', message: 'duplicate key value violates unique constraint' })).toBe(
      '23505 unique_violation',
    );
    expect(entryFailure({ code: '54000', message: 'index row size 3000 exceeds maximum' })).toBe(
      '54000 program_limit_exceeded',
    );
    // A code of those classes without a listed name: the class's name.
    expect(entryFailure({ code: '2200G' })).toBe('2200G data_exception');
    expect(entryFailure({ code: '23P01' })).toBe('23P01 integrity_constraint_violation');
  });

  it('refuses to blame an entry for the database or the service: those failures go through', () => {
    for (const code of ['42501', '08006', '57P01', '40001', '40P01', '53300', 'XX000', '42P01'])
      expect(entryFailure({ code })).toBeNull();
    for (const error of [new Error('connection terminated'), null, undefined, 'text', { code: 42 }, { code: 'nope' }])
      expect(entryFailure(error)).toBeNull();
  });
});

describe('isolateFailures', () => {
  /** An attempt that fails when its range holds a bad index, recording what it wrote and tried. */
  function projector(bad: ReadonlySet<number>) {
    const written: number[] = [];
    const attempts: [number, number][] = [];
    const attempt = async (a: number, b: number) => {
      attempts.push([a, b]);
      for (let i = a; i < b; i++) if (bad.has(i)) return `bad ${i}`;
      for (let i = a; i < b; i++) written.push(i);
      return null;
    };
    return { written, attempts, attempt };
  }

  it('writes a clean range in one attempt', async () => {
    const p = projector(new Set());
    expect(await isolateFailures(10, 2010, p.attempt)).toEqual([]);
    expect(p.attempts).toEqual([[10, 2010]]);
  });

  it('finds each bad entry, writes every other one in index order, in about 2·log2(n) attempts each', async () => {
    const bad = new Set([0, 5, 6, 1999]);
    const p = projector(bad);
    const failed = await isolateFailures(0, 2000, p.attempt);
    expect(failed).toEqual([...bad].map((index) => ({ index, reason: `bad ${index}` })));
    expect(p.written).toEqual(Array.from({ length: 2000 }, (_, i) => i).filter((i) => !bad.has(i)));
    expect(p.attempts.length).toBeLessThanOrEqual(bad.size * 2 * Math.ceil(Math.log2(2000)) + 1);
  });

  it('finds nothing in an empty range, and a single bad entry alone', async () => {
    expect(await isolateFailures(7, 7, projector(new Set([7])).attempt)).toEqual([]);
    expect(await isolateFailures(7, 8, projector(new Set([7])).attempt)).toEqual([{ index: 7, reason: 'bad 7' }]);
  });

  it('lets a failure that is not an entry’s through, writing nothing more', async () => {
    const p = projector(new Set([3]));
    const attempt = async (a: number, b: number) => {
      if (b - a < 4) throw new Error('connection lost');
      return p.attempt(a, b);
    };
    await expect(isolateFailures(0, 16, attempt)).rejects.toThrow('connection lost');
  });
});

describe('leafMatchesFilter', () => {
  const leaf = {
    source: 'billing',
    type: 'auth.login.failed',
    category: 'auth',
    actor: { type: 'user', id: 'a\u0000b' },
    target: { type: 'ticket', id: 't1' },
    outcome: 'failure',
    personal: { subject: 's-1', digest: 'x' },
  };

  it('matches every member the read model holds, as the read model would (U+0000 read as U+FFFD)', () => {
    expect(leafMatchesFilter(leaf, {})).toBe(true);
    expect(
      leafMatchesFilter(leaf, { tenant: 'ignored', from: '2000-01-01T00:00:00.000Z', to: '2000-01-02T00:00:00.000Z' }),
    ).toBe(true);
    expect(
      leafMatchesFilter(leaf, {
        source: 'billing',
        type: 'auth.login.failed',
        category: 'auth',
        actor: 'a\uFFFDb',
        actorType: 'user',
        target: 't1',
        targetType: 'ticket',
        outcome: 'failure',
        subject: 's-1',
      }),
    ).toBe(true);
  });

  it('refuses a member that differs or is missing', () => {
    expect(leafMatchesFilter(leaf, { actor: 'a\u0000b' })).toBe(false);
    expect(leafMatchesFilter(leaf, { type: 'auth.logout' })).toBe(false);
    expect(leafMatchesFilter({ ...leaf, target: undefined }, { target: 't1' })).toBe(false);
    expect(leafMatchesFilter({ ...leaf, personal: undefined }, { subject: 's-1' })).toBe(false);
    expect(leafMatchesFilter({ ...leaf, actor: ['a\u0000b'] }, { actor: 'a\uFFFDb' })).toBe(false);
    expect(leafMatchesFilter(null, { type: 'auth.login.failed' })).toBe(false);
  });
});
