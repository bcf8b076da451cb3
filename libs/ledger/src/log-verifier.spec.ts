import { buildSampleLog, sampleEntry, sampleKey } from '../testdata/sample-log';
import { encodeLeaf, prevLink } from './entry';
import { leafHash } from './hashing';
import { LogVerifier, verifyLog } from './log-verifier';
import { StoredNode, TreeBuilder } from './merkle';

async function* pages(leaves: Buffer[], pageSize: number) {
  for (let i = 0; i < leaves.length; i += pageSize) yield leaves.slice(i, i + pageSize);
}

describe('verifyLog', () => {
  const sample = buildSampleLog(300);
  const options = (checkpoints: string[]) => ({
    log: sample.log,
    origin: sample.origin,
    verifier: sample.verifier,
    checkpoints,
  });

  it('accepts an untouched log with checkpoints at several sizes, and computes its root', async () => {
    const report = await verifyLog(
      pages(sample.leaves, 64),
      options([sample.checkpoint(300), sample.checkpoint(0), sample.checkpoint(17)]),
    );
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report).toMatchObject({ size: 300, checked: 300, checkpointsVerified: [0, 17, 300] });
    expect(report.firstBadIndex).toBeUndefined();
  });

  it('pins a changed leaf by its stored hash, and the broken link after it', () => {
    const leaves = [...sample.leaves];
    leaves[120] = Buffer.from(leaves[120].toString().replace('"currency":"USD"', '"currency":"EUR"'));
    const v = new LogVerifier(options([sample.checkpoint(300)]));
    leaves.forEach((leaf, i) => v.push(leaf, sample.leafHashes[i]));
    const report = v.finish();
    expect(report.ok).toBe(false);
    expect(report.firstBadIndex).toBe(120);
    expect(report.problems.map((p) => [p.index, p.code])).toEqual([
      [120, 'leaf_hash_mismatch'],
      [121, 'broken_chain'],
      [0, 'root_mismatch'],
    ]);
  });

  it('finds a rewritten tail (links recomputed) only through the signed root, after the last good checkpoint', async () => {
    const leaves = sample.leaves.slice(0, 200);
    let prev = sample.leafHashes[149];
    for (let i = 150; i < 200; i++) {
      const forged = { ...sampleEntry(sample.log, i, prevLink(prev)), outcome: 'failure' as const };
      leaves[i] = encodeLeaf(forged);
      prev = leafHash(leaves[i]);
    }
    const report = await verifyLog(pages(leaves, 50), options([sample.checkpoint(100), sample.checkpoint(200)]));
    expect(report.problems).toEqual([expect.objectContaining({ index: 100, code: 'root_mismatch' })]);
    expect(report.firstBadIndex).toBe(100);
  });

  it('reports a log shorter than its signed checkpoint (a lost tail or an old backup)', async () => {
    const report = await verifyLog(pages(sample.leaves.slice(0, 250), 100), options([sample.checkpoint(300)]));
    expect(report.problems).toEqual([expect.objectContaining({ index: null, code: 'log_behind_checkpoint' })]);
  });

  it('reports wrong index, wrong log, malformed leaves and a wrong first link', async () => {
    const leaves = sample.leaves.slice(0, 10);
    leaves[2] = Buffer.from(leaves[2].toString().replace('"index":2', '"index":7'));
    leaves[4] = Buffer.from(leaves[4].toString().replace('"log":"tenant-a"', '"log":"tenant-b"'));
    leaves[6] = Buffer.from('not json');
    leaves[8] = Buffer.from(leaves[8].toString().replace('"v":1', '"v":2'));
    const report = await verifyLog(pages(leaves, 3), options([]));
    const codes = report.problems.map((p) => [p.index, p.code]);
    expect(codes).toEqual(
      expect.arrayContaining([
        [2, 'wrong_index'],
        [3, 'broken_chain'],
        [4, 'wrong_log'],
        [6, 'malformed_leaf'],
        [8, 'wrong_version'],
      ]),
    );
    expect(report.firstBadIndex).toBe(2);

    const badGenesis = Buffer.from(
      leaves[0].toString().replace(/"prev":"[^"]+"/, `"prev":"${prevLink(Buffer.alloc(32, 1))}"`),
    );
    const genesisReport = await verifyLog(pages([badGenesis], 1), options([]));
    expect(genesisReport.problems).toEqual([expect.objectContaining({ index: 0, code: 'broken_chain' })]);
  });

  it('finds a member missing from a leaf that follows good ones (nothing carried over from the leaf before)', () => {
    const cases: [string, string][] = [
      ['v', 'wrong_version'],
      ['index', 'wrong_index'],
      ['log', 'wrong_log'],
      ['prev', 'broken_chain'],
    ];
    for (const [member, code] of cases) {
      const leaves = sample.leaves.slice(0, 6);
      const parsed = JSON.parse(leaves[5].toString('utf8')) as Record<string, unknown>;
      delete parsed[member];
      leaves[5] = Buffer.from(JSON.stringify(parsed));
      const v = new LogVerifier(options([]));
      for (const leaf of leaves) v.push(leaf);
      expect(v.finish().problems.map((p) => [p.index, p.code])).toEqual([[5, code]]);
    }
  });

  it('rejects checkpoints with a bad signature, another key or another origin', async () => {
    const other = sampleKey('audit.example/other');
    const forged = sample.checkpoint(300).replace(/— (\S+) (\S+)\n$/, (_m, name: string, sig: string) => {
      const bytes = Buffer.from(sig, 'base64');
      bytes[10] ^= 1;
      return `— ${name} ${bytes.toString('base64')}\n`;
    });
    const wrongOrigin = buildSampleLog(3, 'tenant-b').checkpoint(3);
    const report = await verifyLog(pages(sample.leaves, 100), {
      ...options([forged, wrongOrigin]),
      verifier: sample.verifier,
    });
    expect(report.problems.map((p) => p.code)).toEqual(['bad_checkpoint', 'bad_checkpoint']);
    const wrongKey = await verifyLog(pages(sample.leaves, 100), {
      ...options([sample.checkpoint(300)]),
      verifier: other.verifier,
    });
    expect(wrongKey.problems.map((p) => p.code)).toEqual(['bad_checkpoint']);
  });

  it('finds the first bad leaf wherever it is (every position in a small log)', () => {
    const small = buildSampleLog(40);
    for (let bad = 0; bad < 40; bad++) {
      const v = new LogVerifier({
        log: small.log,
        origin: small.origin,
        verifier: small.verifier,
        checkpoints: [small.checkpoint(40)],
      });
      small.leaves.forEach((leaf, i) => {
        const copy = Buffer.from(leaf);
        if (i === bad) copy[copy.length - 3] ^= 1;
        v.push(copy, small.leafHashes[i]);
      });
      expect(v.finish().firstBadIndex).toBe(bad);
    }
  });
});

describe('LogVerifier with stored tree nodes', () => {
  it('accepts the nodes a store keeps beside each leaf and pins a changed one', () => {
    const sample = buildSampleLog(64);
    const tree = TreeBuilder.empty();
    const stored = sample.leafHashes.map((h) => {
      const completed: StoredNode[] = [];
      tree.append(h, completed);
      return Buffer.concat(completed.slice(1).map((n) => n.hash));
    });
    const run = (nodes: Buffer[]) => {
      const v = new LogVerifier({
        log: sample.log,
        origin: sample.origin,
        verifier: sample.verifier,
        checkpoints: [sample.checkpoint(64)],
      });
      sample.leaves.forEach((leaf, i) => v.push(leaf, sample.leafHashes[i], nodes[i]));
      return v.finish();
    };
    expect(run(stored).ok).toBe(true);
    const changed = stored.map((n) => Buffer.from(n));
    changed[31][5] ^= 1; // leaf 31 completes nodes at levels 1 to 5
    expect(run(changed).problems).toEqual([expect.objectContaining({ index: 31, code: 'tree_node_mismatch' })]);
    expect(run(stored.map((n, i) => (i === 7 ? n.subarray(32) : n))).firstBadIndex).toBe(7);
  });
});
