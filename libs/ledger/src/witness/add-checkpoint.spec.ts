import { formatAddCheckpointRequest, parseAddCheckpointRequest } from './add-checkpoint';
import { WitnessRequestFormatError } from './witness.errors';
import { thrown } from '../../testdata/thrown';

// The example request body of c2sp.org/tlog-witness.
const CHECKPOINT =
  'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
  '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n' +
  '— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n';
const PROOF = [
  'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=',
  'jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=',
  '5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=',
  '/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=',
];
const EXAMPLE = `old 20852014\n${PROOF.join('\n')}\n\n${CHECKPOINT}`;

describe('tlog-witness add-checkpoint body', () => {
  it('parses the spec example and formats it back byte for byte', () => {
    const request = parseAddCheckpointRequest(Buffer.from(EXAMPLE, 'utf8'));
    expect(request.oldSize).toBe(20852014);
    expect(request.proof.map((h) => h.toString('base64'))).toEqual(PROOF);
    expect(request.checkpoint).toBe(CHECKPOINT);
    expect(formatAddCheckpointRequest(request)).toBe(EXAMPLE);
  });

  it('parses an empty proof from size 0', () => {
    expect(parseAddCheckpointRequest(`old 0\n\n${CHECKPOINT}`)).toEqual({
      oldSize: 0,
      proof: [],
      checkpoint: CHECKPOINT,
    });
  });

  it.each([
    ['no old line', `${PROOF[0]}\n\n${CHECKPOINT}`],
    ['a leading zero', `old 01\n\n${CHECKPOINT}`],
    ['a negative size', `old -1\n\n${CHECKPOINT}`],
    ['two spaces', `old  1\n\n${CHECKPOINT}`],
    ['a size beyond 2^53', `old 9007199254740992\n\n${CHECKPOINT}`],
    ['a short hash', `old 1\nAAAA\n\n${CHECKPOINT}`],
    ['64 proof lines', `old 1\n${`${PROOF[0]}\n`.repeat(64)}\n${CHECKPOINT}`],
    ['no blank line', `old 1\n${CHECKPOINT}`],
    ['no checkpoint', 'old 1\n\n'],
  ])('rejects a body with %s', (_what, body) => {
    expect(thrown(() => parseAddCheckpointRequest(body))).toBeInstanceOf(WitnessRequestFormatError);
  });

  it('rejects invalid UTF-8', () => {
    const bytes = Buffer.concat([Buffer.from(`old 0\n\n`), Buffer.of(0xff), Buffer.from('\n')]);
    expect(thrown(() => parseAddCheckpointRequest(bytes))).toBeInstanceOf(WitnessRequestFormatError);
  });

  it('accepts 63 proof lines', () => {
    expect(parseAddCheckpointRequest(`old 1\n${`${PROOF[0]}\n`.repeat(63)}\n${CHECKPOINT}`).proof).toHaveLength(63);
  });
});
