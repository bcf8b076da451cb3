import {
  AppendKind,
  MirrorDisagreement,
  behindMirrorMessage,
  compareWithMirror,
  describeDisagreement,
  refusesAppend,
} from './mirror-agreement';

const note = (size: number, root = 'cm9vdA==') => `audit.example/acme\n${size}\n${root}\n\n— audit.example Zm9v\n`;
const behind = (log: string, mirroredSize = 40): MirrorDisagreement => ({
  log,
  problem: 'database_behind',
  mirroredSize,
});
const forked = (log: string, mirroredSize = 40): MirrorDisagreement => ({
  log,
  problem: 'database_forked',
  mirroredSize,
});

describe('compareWithMirror', () => {
  it('agrees when the mirror has no checkpoint of the log, or the database holds that very one', () => {
    expect(compareWithMirror('acme', null, null)).toBeNull();
    expect(compareWithMirror('acme', null, note(3))).toBeNull();
    expect(compareWithMirror('acme', { size: 40, note: note(40) }, note(40))).toBeNull();
  });

  it('is behind when the database holds no checkpoint of the mirrored size (old backup, lost tail, no such log)', () => {
    expect(compareWithMirror('acme', { size: 40, note: note(40) }, null)).toEqual(behind('acme'));
  });

  it('is forked when the database holds another checkpoint of that size', () => {
    expect(compareWithMirror('acme', { size: 40, note: note(40) }, note(40, 'b3RoZXI='))).toEqual(forked('acme'));
  });
});

describe('refusesAppend', () => {
  const kinds: AppendKind[] = ['change', 'read_record', 'rollback_acknowledgement'];

  it('refuses nothing while the database agrees with the mirror', () => {
    for (const kind of kinds) expect(refusesAppend([], kind)).toBe(false);
  });

  it('refuses changes while any log disagrees, behind or forked, whichever log the change is for', () => {
    expect(refusesAppend([behind('acme')], 'change')).toBe(true);
    expect(refusesAppend([forked('platform')], 'change')).toBe(true);
  });

  it('takes the records of reads and the acknowledgement meanwhile', () => {
    const all = [behind('acme'), forked('platform')];
    expect(refusesAppend(all, 'read_record')).toBe(false);
    expect(refusesAppend(all, 'rollback_acknowledgement')).toBe(false);
  });
});

describe('behindMirrorMessage', () => {
  it('says which logs, what happened, that nothing was written, and what the operator must do', () => {
    const message = behindMirrorMessage([behind('acme', 40), forked('globex', 7)]);
    expect(message).toContain('nothing was written');
    expect(message).toContain('behind the checkpoint mirror for log acme (mirrored at size 40)');
    expect(message).toContain('forked from the checkpoint mirror for log globex (mirrored at size 7)');
    expect(message).toContain('npm run cli -- ledger acknowledge-rollback --reason');
    expect(message).toContain('Reads and verification still work');
  });

  it('names ten logs and counts the rest, and says nothing of a kind that does not occur', () => {
    const message = behindMirrorMessage(Array.from({ length: 13 }, (_, i) => behind(`t${i}`)));
    expect(message).toContain('t9 (mirrored at size 40) and 3 more');
    expect(message).not.toContain('t10');
    expect(message).not.toContain('forked');
  });

  it('quotes no checkpoint (a note, a root, a signature)', () => {
    const message = behindMirrorMessage([behind('acme')]);
    expect(message).not.toMatch(/cm9vdA|Zm9v|—/);
  });
});

describe('describeDisagreement', () => {
  it('is the error line the service logs, naming the log and the size', () => {
    expect(describeDisagreement(behind('acme'))).toMatch(/^DATABASE BEHIND THE CHECKPOINT MIRROR: log acme .*size 40/);
    expect(describeDisagreement(forked('acme'))).toMatch(
      /^DATABASE FORKED FROM THE CHECKPOINT MIRROR: log acme .*size 40/,
    );
  });
});
