import fc from 'fast-check';
import { buildSampleExportLog, exportText, exportableSampleLog, sampleExport } from '../../testdata/sample-export';
import { buildSampleLog, sampleKey } from '../../testdata/sample-log';
import { thrown } from '../../testdata/thrown';
import { decodeLeaf, encodeLeaf } from '../entry';
import { NoteKeyError, parseCheckpoint, signCheckpoint } from '../note';
import { generateCosignerKey, parseCosignerKey, parseWitnessPolicy } from '../witness';
import { EXPORT_FORMAT_VERSION, formatExportEntry, formatExportHeader } from './export-format';
import { ExportVerificationReport, ExportVerifier, ExportVerifierFinishedError, verifyExport } from './export-verifier';

const plain = exportableSampleLog(buildSampleLog(40));
const sample = buildSampleExportLog(50);
const trustedKey = sample.key;

/** The report on `lines`, checked against `key` (null: against the file's own key). */
function check(lines: readonly string[], key: string | null = trustedKey): ExportVerificationReport {
  const verifier = new ExportVerifier(key === null ? {} : { trustedKey: key });
  for (const line of lines) verifier.push(line);
  return verifier.finish();
}

/** [line, code] of every problem, for compact expectations. */
function problems(report: ExportVerificationReport): [number, string][] {
  return report.problems.map((p) => [p.line, p.code]);
}

type Json = { [member: string]: unknown };

/** `lines` with line `n` (1-based, as the report counts) rewritten through its parsed JSON. */
function editLine(lines: readonly string[], n: number, edit: (value: Json) => void): string[] {
  const copy = [...lines];
  const value = JSON.parse(copy[n - 1]) as Json;
  edit(value);
  copy[n - 1] = JSON.stringify(value);
  return copy;
}

describe('export format', () => {
  it('writes one line per call, members in a fixed order', () => {
    const header = formatExportHeader({
      log: 'acme',
      checkpoint: 'c\n',
      key: 'k',
      count: 0,
      filter: { type: 'a.b' },
      exportedAt: '2026-01-01T00:00:00Z',
    });
    expect(header.endsWith('\n')).toBe(true);
    expect(header.indexOf('\n')).toBe(header.length - 1);
    expect(Object.keys(JSON.parse(header))).toEqual(['v', 'log', 'checkpoint', 'key', 'count', 'filter', 'exportedAt']);
    expect(JSON.parse(header).v).toBe(EXPORT_FORMAT_VERSION);

    const salt = Buffer.alloc(32).toString('base64');
    const entries = [
      formatExportEntry({ proof: [], leaf: 'e30=', index: 3 }),
      formatExportEntry({ personal: { salt, data: { email: 'a@b.c' } }, proof: ['x'], leaf: 'e30=', index: 4 }),
      formatExportEntry({ personal: { erased: true }, proof: [], leaf: 'e30=', index: 5 }),
    ];
    expect(entries.map((e) => Object.keys(JSON.parse(e)))).toEqual([
      ['index', 'leaf', 'proof'],
      ['index', 'leaf', 'proof', 'personal'],
      ['index', 'leaf', 'proof', 'personal'],
    ]);
    expect(Object.keys(JSON.parse(entries[1]).personal)).toEqual(['data', 'salt']);
    expect(JSON.parse(entries[2]).personal).toEqual({ erased: true });
    expect(entries.every((e) => e.indexOf('\n') === e.length - 1)).toBe(true);
  });

  it('writes exactly what JSON.stringify writes for the same members (it builds the text itself)', () => {
    const base64 = fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes).toString('base64'));
    const personal = fc.oneof(
      fc.constant(undefined),
      fc.constant({ erased: true as const }),
      fc.record({
        data: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null))),
        salt: base64,
      }),
    );
    fc.assert(
      fc.property(fc.nat(), base64, fc.array(base64, { maxLength: 40 }), personal, (index, leaf, proof, p) => {
        const expected = JSON.stringify(
          p === undefined
            ? { index, leaf, proof }
            : { index, leaf, proof, personal: 'erased' in p ? { erased: true } : { data: p.data, salt: p.salt } },
        );
        expect(formatExportEntry({ index, leaf, proof, ...(p === undefined ? {} : { personal: p }) })).toBe(
          `${expected}\n`,
        );
      }),
    );
  });
});

describe('ExportVerifier accepts', () => {
  it('a full export (personal data all erased) under the trusted key, and without one', () => {
    const lines = sampleExport(plain);
    const report = check(lines);
    expect(report).toEqual({
      ok: true,
      log: plain.log,
      size: 40,
      count: 40,
      entries: 40,
      verified: 40,
      erased: 40,
      keyTrusted: true,
      problems: [],
    });
    expect(check(lines, null)).toMatchObject({ ok: true, verified: 40, keyTrusted: false });
  });

  it('a filtered (sparse) export at an older checkpoint, with personal data, none and erased', async () => {
    const indices = [0, 2, 3, 5, 17, 28, 29];
    const lines = sampleExport(sample, {
      indices,
      size: 30,
      erased: [28],
      filter: { actor: 'usr_3', type: 'billing.invoice.paid' },
    });
    expect(JSON.parse(lines[1]).personal).toEqual({
      data: { email: 'user0@example.com', name: 'User 0' },
      salt: expect.any(String),
    });
    expect(JSON.parse(lines[2]).personal).toBeUndefined(); // index 2 commits to no personal data
    expect(JSON.parse(lines[6]).personal).toEqual({ erased: true });
    const report = await verifyExport(lines, { trustedKey });
    expect(report).toMatchObject({ ok: true, size: 30, count: 7, entries: 7, verified: 7, erased: 1, problems: [] });
  });

  it('the lines of a file as an async stream, with one empty line at the end', async () => {
    async function* stream() {
      yield* exportText(sampleExport(sample, { indices: [1, 4] })).split('\n');
    }
    expect(await verifyExport(stream(), { trustedKey })).toMatchObject({ ok: true, entries: 2, verified: 2 });
  });

  it('an empty export (count 0), and an export of an empty log', () => {
    expect(check(sampleExport(sample, { indices: [] }))).toMatchObject({ ok: true, entries: 0, verified: 0 });
    expect(check(sampleExport(sample, { size: 0 }))).toMatchObject({ ok: true, size: 0, entries: 0 });
  });
});

describe('ExportVerifier names the bad line', () => {
  const lines = sampleExport(sample, { indices: [0, 1, 2, 4, 5, 7, 10, 13], size: 50 }); // lines 2..9; 2 and 5 have no personal data
  it('a changed leaf that is still a well-formed entry: its proof fails', () => {
    const edited = editLine(lines, 4, (v) => {
      const entry = decodeLeaf(Buffer.from(v.leaf as string, 'base64'));
      v.leaf = encodeLeaf({ ...entry, outcome: 'failure' }).toString('base64');
    });
    const report = check(edited);
    expect(problems(report)).toEqual([[4, 'bad_proof']]);
    expect(report.problems[0].index).toBe(2);
    expect(report).toMatchObject({ ok: false, entries: 8, verified: 7, firstBadLine: 4 });
  });

  it('a flipped leaf byte that breaks the entry: malformed_leaf, with decodeLeaf reason, and bad_proof', () => {
    const edited = editLine(lines, 3, (v) => {
      const bytes = Buffer.from(v.leaf as string, 'base64');
      bytes[0] ^= 0x20;
      v.leaf = bytes.toString('base64');
    });
    const report = check(edited);
    expect(problems(report)).toEqual([
      [3, 'malformed_leaf'],
      [3, 'bad_proof'],
    ]);
    expect(report.problems[0].message).toContain('$: leaf is not JSON');
  });

  it('a wrong proof hash, a missing one and a malformed one', () => {
    const other = sample.proof(20, 50)[0].toString('base64');
    const replaced = editLine(lines, 5, (v) => ((v.proof as string[])[1] = other));
    expect(problems(check(replaced))).toEqual([[5, 'bad_proof']]);
    const short = editLine(lines, 6, (v) => (v.proof as string[]).pop());
    expect(problems(check(short))).toEqual([[6, 'bad_proof']]);
    expect(check(short).problems[0].message).toContain('too short');
    const malformed = editLine(lines, 7, (v) => ((v.proof as string[])[0] = (v.proof as string[])[0].slice(0, -1)));
    expect(problems(check(malformed))).toEqual([[7, 'malformed_line']]);
  });

  it('swapped lines: out_of_order on the second (each proof is still good)', () => {
    const swapped = [...lines];
    [swapped[3], swapped[4]] = [swapped[4], swapped[3]]; // lines 4 and 5
    expect(problems(check(swapped))).toEqual([[5, 'out_of_order']]);
    const repeated = [...lines.slice(0, 5), lines[4], ...lines.slice(5)];
    expect(problems(check(repeated))).toEqual([
      [6, 'out_of_order'],
      [10, 'count_mismatch'],
    ]);
  });

  it('a dropped line or a truncated file: count_mismatch where the missing line would be', () => {
    const dropped = [...lines.slice(0, 4), ...lines.slice(5)];
    expect(problems(check(dropped))).toEqual([[9, 'count_mismatch']]);
    expect(check(lines.slice(0, 6)).problems).toEqual([
      expect.objectContaining({
        line: 7,
        code: 'count_mismatch',
        message: expect.stringContaining('announces 8 entry lines but the file has 5'),
      }),
    ]);
    const text = exportText(lines);
    const cut = text.slice(0, text.indexOf(lines[6]) + 50).split('\n');
    expect(problems(check(cut))).toEqual([
      [7, 'malformed_line'],
      [8, 'count_mismatch'],
    ]);
  });

  it('a wrong trusted key: key_mismatch, and nothing verified under the trusted key', () => {
    const other = sampleKey('audit.example/other').signer.verifierKey;
    const report = check(lines, other);
    expect(problems(report)).toEqual([
      [1, 'key_mismatch'],
      [1, 'bad_checkpoint'],
    ]);
    expect(report).toMatchObject({ ok: false, keyTrusted: false, size: null, entries: 8, verified: 0 });
  });

  it('a file re-signed with another key passes on its own key and is caught only by the trusted key', () => {
    const forger = sampleKey('audit.example/forger').signer;
    const body = parseCheckpoint((JSON.parse(lines[0]).checkpoint as string).split('\n\n')[0] + '\n');
    const resigned = editLine(lines, 1, (v) => {
      v.key = forger.verifierKey;
      v.checkpoint = signCheckpoint(body, forger);
    });
    expect(check(resigned, null)).toMatchObject({ ok: true, keyTrusted: false, verified: 8 });
    expect(problems(check(resigned))).toEqual([
      [1, 'key_mismatch'],
      [1, 'bad_checkpoint'],
    ]);
  });

  it('a forged checkpoint signature or root: bad_checkpoint, and line problems are still found', () => {
    const forgedSignature = editLine(lines, 1, (v) => {
      v.checkpoint = (v.checkpoint as string).replace(/— (\S+) (\S+)\n$/, (_m, name: string, sig: string) => {
        const bytes = Buffer.from(sig, 'base64');
        bytes[20] ^= 1;
        return `— ${name} ${bytes.toString('base64')}\n`;
      });
    });
    const withBadLine = [...forgedSignature];
    withBadLine[6] = '{"index":7';
    const report = check(withBadLine);
    expect(problems(report)).toEqual([
      [1, 'bad_checkpoint'],
      [7, 'malformed_line'],
    ]);
    expect(report).toMatchObject({ ok: false, size: null, verified: 0, entries: 8 });

    const forgedRoot = editLine(lines, 1, (v) => {
      const [origin, size, root, ...rest] = (v.checkpoint as string).split('\n');
      const changed = Buffer.from(root, 'base64');
      changed[0] ^= 1;
      v.checkpoint = [origin, size, changed.toString('base64'), ...rest].join('\n');
    });
    expect(problems(check(forgedRoot))).toEqual([[1, 'bad_checkpoint']]);
  });

  it('personal data altered, salt altered, missing or unexpected; messages never show the data', () => {
    const altered = editLine(lines, 2, (v) => ((v.personal as { data: Json }).data.email = 'someone.else@example.com'));
    const report = check(altered);
    expect(problems(report)).toEqual([[2, 'personal_mismatch']]);
    expect(JSON.stringify(report)).not.toContain('example.com');
    expect(JSON.stringify(report)).not.toContain('User 0');

    const salted = editLine(
      lines,
      3,
      (v) => ((v.personal as { salt: string }).salt = Buffer.alloc(32, 7).toString('base64')),
    );
    expect(problems(check(salted))).toEqual([[3, 'personal_mismatch']]);
    const missing = editLine(lines, 5, (v) => delete v.personal);
    expect(problems(check(missing))).toEqual([[5, 'personal_missing']]);
    // index 3 (line 4) commits to no personal data
    const unexpected = editLine(lines, 4, (v) => (v.personal = { erased: true }));
    expect(problems(check(unexpected))).toEqual([[4, 'personal_unexpected']]);
    const misshapen = editLine(lines, 2, (v) => (v.personal = { erased: false }));
    expect(problems(check(misshapen))).toEqual([[2, 'malformed_line']]);
    const noncanonical = editLine(lines, 2, (v) => ((v.personal as { data: Json }).data.n = 2 ** 60));
    expect(problems(check(noncanonical))).toEqual([[2, 'personal_mismatch']]);
  });

  it('blank lines, except one at the very end', () => {
    expect(problems(check([...lines.slice(0, 3), '', ...lines.slice(3)]))).toEqual([[4, 'blank_line']]);
    expect(check([...lines, '']).ok).toBe(true);
    expect(problems(check([...lines, '', '']))).toEqual([[10, 'blank_line']]);
  });

  it('a leaf in bad base64: malformed_leaf', () => {
    const noPadding = editLine(lines, 8, (v) => (v.leaf = (v.leaf as string).replace(/=+$/, '')));
    const urlSafe = editLine(
      lines,
      8,
      (v) => (v.leaf = `${(v.leaf as string).slice(0, 8)}-${(v.leaf as string).slice(9)}`),
    );
    const notString = editLine(lines, 8, (v) => (v.leaf = 42));
    expect(sample.leaves[10].length % 3).not.toBe(0); // the leaf has padding to remove
    expect(problems(check(noPadding))).toEqual([[8, 'malformed_leaf']]);
    expect(problems(check(urlSafe))).toEqual([[8, 'malformed_leaf']]);
    expect(problems(check(notString))).toEqual([[8, 'malformed_line']]);
  });

  it('wrong index, index beyond the checkpoint, wrong log', () => {
    const wrongIndex = editLine(lines, 7, (v) => (v.index = 8));
    expect(problems(check(wrongIndex))).toEqual([
      [7, 'wrong_index'],
      [7, 'bad_proof'],
    ]);
    const small = sampleExport(sample, { indices: [0, 1], size: 2 });
    const beyond = [...small.slice(0, 2), lines[3]]; // index 2 in a tree of 2
    expect(problems(check(beyond))).toEqual([[3, 'beyond_checkpoint']]);

    const otherLog = editLine(lines, 1, (v) => (v.log = 'tenant-b'));
    expect(problems(check(otherLog))).toEqual([
      [1, 'wrong_log'],
      ...[2, 3, 4, 5, 6, 7, 8, 9].map((n): [number, string] => [n, 'wrong_log']),
    ]);
  });

  it('header problems: not JSON, another version, bad key, missing members, an empty file', () => {
    expect(problems(check(['{', ...lines.slice(1)]))).toEqual([[1, 'malformed_header']]);
    expect(check(['{', ...lines.slice(1)])).toMatchObject({
      ok: false,
      log: null,
      size: null,
      count: null,
      entries: 8,
      verified: 0,
    });
    expect(problems(check(editLine(lines, 1, (v) => (v.v = 2))))).toEqual([[1, 'unsupported_version']]);
    expect(
      problems(
        check(
          editLine(lines, 1, (v) => (v.key = 'not a key')),
          null,
        ),
      ),
    ).toEqual([[1, 'bad_key']]);
    expect(problems(check(editLine(lines, 1, (v) => delete v.exportedAt)))).toEqual([[1, 'malformed_header']]);
    expect(problems(check(editLine(lines, 1, (v) => (v.filter = { n: 1 }))))).toEqual([[1, 'malformed_header']]);
    expect(problems(check(editLine(lines, 1, (v) => (v.extra = true))))).toEqual([[1, 'malformed_header']]);
    expect(problems(check([]))).toEqual([[1, 'malformed_header']]);
    expect(problems(check(['']))).toEqual([[1, 'malformed_header']]);
  });

  it('malformed entry lines: not JSON, not an object, unknown members, a bad index', () => {
    const bad = [...lines];
    bad[1] = 'not json';
    bad[2] = '[1]';
    bad[3] = JSON.stringify({ ...JSON.parse(lines[3]), note: 'x' });
    bad[4] = JSON.stringify({ ...JSON.parse(lines[4]), index: -1 });
    expect(problems(check(bad))).toEqual([
      [2, 'malformed_line'],
      [3, 'malformed_line'],
      [4, 'malformed_line'],
      [5, 'malformed_line'],
    ]);
  });

  it('lists at most maxProblems problems but counts every line', () => {
    const many = sampleExport(plain);
    for (let i = 1; i < many.length; i++) many[i] = 'x';
    const report = check(many);
    expect(report.problems).toHaveLength(40);
    const capped = new ExportVerifier({ trustedKey: plain.key, maxProblems: 10 });
    many.forEach((line) => capped.push(line));
    expect(capped.finish()).toMatchObject({ ok: false, entries: 40, problemsOmitted: 30, firstBadLine: 2 });
  });
});

describe('an incomplete export (entries the service could not project)', () => {
  const lines = sampleExport(sample, { indices: [0, 1, 2, 4], size: 50 });

  it('is written with incomplete and quarantined last, only when some are listed', () => {
    const base = { log: 'acme', checkpoint: 'c\n', key: 'k', count: 0, filter: {}, exportedAt: '2026-01-01T00:00:00Z' };
    expect(Object.keys(JSON.parse(formatExportHeader({ ...base, quarantined: [3, 9] })))).toEqual([
      'v',
      'log',
      'checkpoint',
      'key',
      'count',
      'filter',
      'exportedAt',
      'incomplete',
      'quarantined',
    ]);
    expect(JSON.parse(formatExportHeader({ ...base, quarantined: [3, 9] }))).toMatchObject({
      incomplete: true,
      quarantined: [3, 9],
    });
    expect(Object.keys(JSON.parse(formatExportHeader({ ...base, quarantined: [] })))).not.toContain('incomplete');
  });

  it('verifies, and the report lists what the header says is quarantined', () => {
    const report = check(editLine(lines, 1, (v) => Object.assign(v, { incomplete: true, quarantined: [3, 7] })));
    expect(report).toMatchObject({ ok: true, verified: 4, quarantined: [3, 7] });
    expect(check(lines)).not.toHaveProperty('quarantined');
  });

  it('refuses a header whose two members disagree or whose list is not ascending indices below the checkpoint', () => {
    for (const edit of [
      { incomplete: true },
      { quarantined: [3] },
      { incomplete: false, quarantined: [3] },
      { incomplete: true, quarantined: [] },
      { incomplete: true, quarantined: [7, 3] },
      { incomplete: true, quarantined: [3, 3] },
      { incomplete: true, quarantined: [-1] },
      { incomplete: true, quarantined: ['3'] },
      { incomplete: true, quarantined: [50] },
    ]) {
      expect(problems(check(editLine(lines, 1, (v) => Object.assign(v, edit))))).toEqual([[1, 'malformed_header']]);
    }
  });
});

describe('a witnessed export (cosignatures on its checkpoint, checked against a witness policy)', () => {
  // Signed by a deployment key whose name is the origins' prefix, as the service's is: a policy
  // `log` line with that key covers every log of the deployment.
  const deployment = sampleKey('audit.example').signer;
  const deploymentKey = deployment.verifierKey;
  const plainLines = sampleExport(sample, { indices: [0, 1, 2], size: 50 });
  const signed = JSON.parse(plainLines[0]) as { checkpoint: string };
  const body = signed.checkpoint.slice(0, signed.checkpoint.indexOf('\n\n') + 1);
  const header = { checkpoint: signCheckpoint(parseCheckpoint(body), deployment) };
  const lines = editLine(plainLines, 1, (v) => Object.assign(v, { key: deploymentKey, checkpoint: header.checkpoint }));
  const witnessKeys = [1, 2, 3].map((n) => generateCosignerKey(`w${n}.example`, Buffer.alloc(32, 40 + n)));
  const [w1, w2, w3] = witnessKeys.map((pair) => parseCosignerKey(pair.privateKey));
  const outsider = parseCosignerKey(generateCosignerKey('w3.example', Buffer.alloc(32, 99)).privateKey);
  const policy = parseWitnessPolicy(
    `log ${deploymentKey}\n` +
      witnessKeys.map((pair, i) => `witness W${i + 1} ${pair.verifierKey}\n`).join('') +
      'group two 2 W1 W2 W3\nquorum two\n',
  );
  const T = 1_780_000_000;
  /** The export with its checkpoint note carrying these cosignature lines. */
  const cosignedBy = (...lines_: string[]) =>
    editLine(lines, 1, (v) => {
      v.checkpoint = header.checkpoint + lines_.join('');
    });
  const withPolicy = (file: readonly string[], p = policy) => {
    const verifier = new ExportVerifier({ trustedKey: deploymentKey, policy: p });
    for (const line of file) verifier.push(line);
    return verifier.finish();
  };

  it('writes witnessed last, only when given, and reads it back', () => {
    const base = { log: 'acme', checkpoint: 'c\n', key: 'k', count: 0, filter: {}, exportedAt: '2026-01-01T00:00:00Z' };
    const written = JSON.parse(formatExportHeader({ ...base, witnessed: { quorumMet: false, cosigners: ['W1'] } }));
    expect(Object.keys(written).at(-1)).toBe('witnessed');
    expect(written.witnessed).toEqual({ quorumMet: false, cosigners: ['W1'] });
    expect(Object.keys(JSON.parse(formatExportHeader(base)))).not.toContain('witnessed');
  });

  it('meets the quorum with two of three cosignatures, and the plain check ignores them', () => {
    const file = cosignedBy(w1.cosign(body, T), w3.cosign(body, T));
    expect(withPolicy(file)).toMatchObject({
      ok: true,
      verified: 3,
      witness: { cosigners: ['W1', 'W3'], quorumMet: true },
    });
    expect(check(file, deploymentKey)).toMatchObject({ ok: true, verified: 3 });
    expect(check(file, deploymentKey)).not.toHaveProperty('witness');
  });

  it('says the quorum is not met with one cosignature, or one by a key outside the policy', () => {
    expect(problems(withPolicy(cosignedBy(w2.cosign(body, T))))).toEqual([[1, 'quorum_not_met']]);
    const outside = withPolicy(cosignedBy(w1.cosign(body, T), outsider.cosign(body, T)));
    expect(problems(outside)).toEqual([[1, 'quorum_not_met']]);
    expect(outside.witness).toEqual({ cosigners: ['W1'], quorumMet: false });
    // The entries themselves still verify: the quorum is about the checkpoint only.
    expect(outside.verified).toBe(3);
  });

  it('refuses a cosignature of the policy that does not verify (a flipped byte)', () => {
    const good = w2.cosign(body, T);
    const sig = good.slice(good.lastIndexOf(' ') + 1, -1);
    const bytes = Buffer.from(sig, 'base64');
    bytes[bytes.length - 1] ^= 1;
    const flipped = good.replace(sig, bytes.toString('base64'));
    expect(problems(withPolicy(cosignedBy(w1.cosign(body, T), flipped)))).toEqual([[1, 'bad_cosignature']]);
  });

  it('refuses a checkpoint that no log of the policy signed', () => {
    const other = parseWitnessPolicy(
      `log ${sampleKey('audit.example/other').signer.verifierKey}\nwitness W1 ${witnessKeys[0].verifierKey}\nquorum W1\n`,
    );
    expect(problems(withPolicy(cosignedBy(w1.cosign(body, T)), other))).toEqual([[1, 'policy_log_mismatch']]);
  });

  it('refuses a malformed witnessed member', () => {
    for (const witnessed of [
      true,
      { quorumMet: 'yes', cosigners: [] },
      { quorumMet: true },
      { quorumMet: true, cosigners: [1] },
      { quorumMet: true, cosigners: [], extra: 1 },
    ]) {
      expect(
        problems(
          check(
            editLine(lines, 1, (v) => Object.assign(v, { witnessed })),
            deploymentKey,
          ),
        ),
      ).toEqual([[1, 'malformed_header']]);
    }
    expect(
      check(
        editLine(lines, 1, (v) => Object.assign(v, { witnessed: { quorumMet: true, cosigners: ['W1'] } })),
        deploymentKey,
      ),
    ).toMatchObject({ ok: true });
  });
});

describe('ExportVerifier usage', () => {
  it('refuses an unreadable trusted key and use after finish, with typed errors', () => {
    expect(thrown(() => new ExportVerifier({ trustedKey: 'nope' }))).toBeInstanceOf(NoteKeyError);
    const v = new ExportVerifier({});
    v.finish();
    const error = thrown(() => v.push('{}'));
    expect(error).toBeInstanceOf(ExportVerifierFinishedError);
    expect((error as ExportVerifierFinishedError).code).toBe('export_verifier_finished');
  });
});

describe('ExportVerifier property', () => {
  const lines = sampleExport(sample, { indices: [0, 2, 5, 9, 16, 31, 32, 47, 49] });
  // Where each entry line's leaf and proof values sit in its text.
  const spans = lines.slice(1).map((line) => {
    const value = JSON.parse(line) as { leaf: string; proof: string[] };
    const ranges: [number, number][] = [];
    const leafAt = line.indexOf(`"leaf":"`) + 8;
    ranges.push([leafAt, leafAt + value.leaf.length]);
    let from = line.indexOf(`"proof":[`);
    for (const hash of value.proof) {
      const at = line.indexOf(`"${hash}"`, from) + 1;
      ranges.push([at, at + hash.length]);
      from = at + hash.length;
    }
    return ranges;
  });
  const replacement = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ "\\');

  it('flipping any character of any leaf or proof makes the report fail and names that line only', () => {
    fc.assert(
      fc.property(fc.nat(lines.length - 2), fc.nat(), fc.nat(), replacement, (entry, pick, offset, char) => {
        const ranges = spans[entry];
        const [start, end] = ranges[pick % ranges.length];
        const at = start + (offset % (end - start));
        const line = lines[entry + 1];
        fc.pre(line[at] !== char);
        const changed = [...lines];
        changed[entry + 1] = line.slice(0, at) + char + line.slice(at + 1);
        const report = check(changed);
        expect(report.ok).toBe(false);
        expect(report.firstBadLine).toBe(entry + 2);
        expect(report.problems.every((p) => p.line === entry + 2)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
