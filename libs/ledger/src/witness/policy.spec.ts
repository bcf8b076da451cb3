import fc from 'fast-check';
import { generateCosignerKey } from './cosignature';
import { parseWitnessPolicy, policyLogsFor, quorumMet, type QuorumRule } from './policy';
import { PolicyFormatError } from './witness.errors';
import { generateNoteKey } from '../note/note-keys';
import { thrown } from '../../testdata/thrown';

const seed = (n: number): Buffer => Buffer.alloc(32, n);
const LOG = generateNoteKey('audit.example', seed(1)).verifierKey;
const W = (n: number): string => generateCosignerKey(`witness${n}.example`, seed(10 + n)).verifierKey;

// The two-level example of c2sp.org/tlog-policy, with real keys.
const EXAMPLE = `log ${LOG}

witness X1 ${W(1)}
witness X2 ${W(2)}
witness X3 ${W(3)}
group X-witnesses 2 X1 X2 X3

witness Y1 ${W(4)}
witness Y2 ${W(5)}
witness Y3 ${W(6)}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`;

function expectPolicyError(text: string, line?: number): void {
  const error = thrown(() => parseWitnessPolicy(text));
  expect(error).toBeInstanceOf(PolicyFormatError);
  expect((error as PolicyFormatError).code).toBe('malformed_policy');
  if (line !== undefined) expect((error as PolicyFormatError).line).toBe(line);
}

describe('parseWitnessPolicy', () => {
  it('parses the spec example and evaluates its quorum', () => {
    const policy = parseWitnessPolicy(EXAMPLE);
    expect(policy.logs.map((l) => l.verifier.name)).toEqual(['audit.example']);
    expect(policy.witnesses.map((w) => w.name)).toEqual(['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3']);
    const met = (names: string[]): boolean => quorumMet(policy.quorum, new Set(names));
    expect(met(['X1', 'X2', 'Y3'])).toBe(true);
    expect(met(['X1', 'X3', 'Y1', 'Y2'])).toBe(true);
    expect(met(['X1', 'Y1', 'Y2', 'Y3'])).toBe(false);
    expect(met(['X1', 'X2', 'X3'])).toBe(false);
    expect(met([])).toBe(false);
  });

  it('keeps URLs, allows comments, tabs and surrounding whitespace, and a missing final newline', () => {
    const text = `# a comment\n\t log ${LOG} https://log.example/\n  \nwitness A\t${W(1)}  https://a.example/w \nquorum A`;
    const policy = parseWitnessPolicy(text);
    expect(policy.logs[0].url).toBe('https://log.example/');
    expect(policy.witnesses[0]).toMatchObject({ name: 'A', url: 'https://a.example/w' });
    expect(quorumMet(policy.quorum, new Set(['A']))).toBe(true);
  });

  it('accepts quorum none with no witnesses', () => {
    const policy = parseWitnessPolicy(`log ${LOG}\nquorum none\n`);
    expect(policy.quorum).toEqual({ kind: 'none' });
    expect(quorumMet(policy.quorum, new Set())).toBe(true);
  });

  it.each([
    ['no quorum line', `witness A ${W(1)}\n`, undefined],
    ['two quorum lines', `witness A ${W(1)}\nquorum A\nquorum A\n`, 3],
    ['a quorum naming nothing defined', `quorum A\nwitness A ${W(1)}\n`, 1],
    ['a group naming a later witness', `group G any A\nwitness A ${W(1)}\nquorum G\n`, 1],
    ['a name defined twice', `witness A ${W(1)}\nwitness A ${W(2)}\nquorum A\n`, 2],
    ['a group reusing a witness name', `witness A ${W(1)}\ngroup A any A\nquorum A\n`, 2],
    ['a witness named none', `witness none ${W(1)}\nquorum none\n`, 1],
    ['none as a group member', `witness A ${W(1)}\ngroup G any A none\nquorum G\n`, 2],
    ['a member listed twice', `witness A ${W(1)}\ngroup G 1 A A\nquorum G\n`, 2],
    ['a threshold of 0', `witness A ${W(1)}\ngroup G 0 A\nquorum G\n`, 2],
    ['a threshold above n', `witness A ${W(1)}\ngroup G 2 A\nquorum G\n`, 2],
    ['a threshold with a leading zero', `witness A ${W(1)}\ngroup G 01 A\nquorum G\n`, 2],
    ['a group without members', `witness A ${W(1)}\ngroup G any\nquorum A\n`, 2],
    ['a duplicate witness key under another name', `witness A ${W(1)}\nwitness B ${W(1)}\nquorum A\n`, 2],
    ['a duplicate log key', `log ${LOG}\nlog ${LOG}\nquorum none\n`, 2],
    [
      'the same log key under another name',
      `log ${LOG}\nlog ${generateNoteKey('other.example', seed(1)).verifierKey}\nquorum none\n`,
      2,
    ],
    ['a checkpoint (0x01) key as a witness', `witness A ${LOG}\nquorum A\n`, 1],
    ['a cosignature (0x04) key as a log', `log ${W(1)}\nquorum none\n`, 1],
    ['an unknown keyword', `logs ${LOG}\nquorum none\n`, 1],
    ['a carriage return', `log ${LOG}\r\nquorum none\n`, 1],
    ['a NUL', `# \u0000\nquorum none\n`, 1],
    ['too many fields', `witness A ${W(1)} https://a.example extra\nquorum A\n`, 1],
    ['a quorum line with two names', `witness A ${W(1)}\nquorum A A\n`, 2],
  ])('rejects %s', (_what, text, line) => {
    expectPolicyError(text, line);
  });
});

describe('quorumMet', () => {
  it('counts k of n members, recursively', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.nat(), fc.nat(), (n, kSeed, mask) => {
        const k = 1 + (kSeed % n);
        const members: QuorumRule[] = Array.from({ length: n }, (_, i) => ({ kind: 'witness', name: `w${i}` }));
        const cosigners = new Set(members.map((_, i) => `w${i}`).filter((_, i) => (mask >> i) & 1));
        const group: QuorumRule = { kind: 'group', name: 'g', threshold: k, members };
        expect(quorumMet(group, cosigners)).toBe(cosigners.size >= k);
        // Wrapping in an "all" group of one changes nothing.
        expect(quorumMet({ kind: 'group', name: 'h', threshold: 1, members: [group] }, cosigners)).toBe(
          cosigners.size >= k,
        );
      }),
    );
  });
});

describe('policyLogsFor', () => {
  const policy = parseWitnessPolicy(`log ${LOG}\nquorum none\n`);
  it.each([
    ['audit.example', 1],
    ['audit.example/acme', 1],
    ['audit.example/acme/x', 1],
    ['audit.examplex/acme', 0],
    ['audit.exampl', 0],
    ['other.example/audit.example', 0],
  ])('origin %s is covered by %i log line(s)', (origin, count) => {
    expect(policyLogsFor(policy, origin)).toHaveLength(count);
  });
});
