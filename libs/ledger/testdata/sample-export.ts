import { createHash } from 'node:crypto';
import { JsonValue } from '../src/canonical-json';
import { LedgerEntry, decodeLeaf, encodeLeaf, prevLink } from '../src/entry';
import { ExportPersonal, formatExportEntry, formatExportHeader } from '../src/export/export-format';
import { leafHash } from '../src/hashing';
import { StoredNode, TreeBuilder, hashRanges, inclusionProofRanges } from '../src/merkle';
import { NoteSigner, signCheckpoint } from '../src/note';
import { personalDigest } from '../src/personal-data';
import { SampleLog, sampleEntry, sampleKey } from './sample-log';

/** Personal data kept beside a sample leaf, with its salt. */
export interface SamplePersonal {
  readonly data: { [member: string]: JsonValue };
  readonly salt: Buffer;
}

/** A deterministic log that exports can be cut from: leaves, proofs at any size, checkpoints. */
export interface SampleExportLog {
  readonly log: string;
  readonly origin: string;
  /** The verifier key text of the key that signs the checkpoints. */
  readonly key: string;
  readonly signer: NoteSigner;
  readonly leaves: readonly Buffer[];
  /** The data (and salt) behind each leaf's personal digest, when the test knows it. */
  readonly personal: readonly (SamplePersonal | undefined)[];
  /** A signed checkpoint of the first `size` leaves. */
  checkpoint(size: number): string;
  /** The RFC 6962 inclusion proof of leaf `index` in the tree of the first `size` leaves. */
  proof(index: number, size: number): Buffer[];
}

function fromLeaves(
  log: string,
  leaves: readonly Buffer[],
  personal: readonly (SamplePersonal | undefined)[],
  signer: NoteSigner,
): SampleExportLog {
  const origin = `audit.example/${log}`;
  // Every node of the tree, as the service stores them; proofs and roots come from the library.
  const nodes = new Map<string, Buffer>();
  const tree = TreeBuilder.empty();
  const completed: StoredNode[] = [];
  for (const leaf of leaves) {
    completed.length = 0;
    tree.append(leafHash(leaf), completed);
    for (const node of completed) nodes.set(`${node.level}/${node.index}`, node.hash);
  }
  const lookup = (id: { level: number; index: number }): Buffer => {
    const hash = nodes.get(`${id.level}/${id.index}`);
    if (hash === undefined) throw new Error(`no node ${id.level}/${id.index}`);
    return hash;
  };
  return {
    log,
    origin,
    key: signer.verifierKey,
    signer,
    leaves,
    personal,
    checkpoint(size: number) {
      const [rootHash] = hashRanges([{ begin: 0, end: size }], lookup);
      return signCheckpoint({ origin, size, rootHash, extensions: [] }, signer);
    },
    proof(index: number, size: number) {
      return hashRanges(inclusionProofRanges(index, size), lookup);
    },
  };
}

/**
 * A log of `size` chained sample entries whose personal digests are real: entries with
 * `index % 3 === 2` commit to no personal data, the others to `{email, name}` with a salt derived
 * from the index (tests must not depend on randomness).
 */
export function buildSampleExportLog(size: number, log = 'tenant-a'): SampleExportLog {
  const { signer } = sampleKey();
  const leaves: Buffer[] = [];
  const personal: (SamplePersonal | undefined)[] = [];
  let previous: Buffer | null = null;
  for (let i = 0; i < size; i++) {
    const { personal: _fake, ...base } = sampleEntry(log, i, prevLink(previous), 40);
    let entry: LedgerEntry = base;
    if (i % 3 === 2) {
      personal.push(undefined);
    } else {
      const data = { email: `user${i}@example.com`, name: `User ${i}` };
      const salt = createHash('sha256').update(`salt ${i}`).digest();
      personal.push({ data, salt });
      entry = { ...base, personal: { subject: `usr_${i}`, digest: personalDigest(salt, data) } };
    }
    const leaf = encodeLeaf(entry);
    leaves.push(leaf);
    previous = leafHash(leaf);
  }
  return fromLeaves(log, leaves, personal, signer);
}

/**
 * An exportable view of a buildSampleLog log. Its personal digests are not of any known data, so
 * an export of it marks every entry's personal data erased.
 */
export function exportableSampleLog(sample: SampleLog): SampleExportLog {
  return fromLeaves(sample.log, sample.leaves, sample.leaves.map(() => undefined), sample.signer);
}

/** What to cut from a sample log. */
export interface SampleExportOptions {
  /** The entries exported, ascending (default: every leaf below `size`). */
  readonly indices?: readonly number[];
  /** The checkpoint size the proofs lead to (default: every leaf). */
  readonly size?: number;
  /** Indices whose personal data is exported as erased. */
  readonly erased?: readonly number[];
  readonly filter?: { readonly [name: string]: string };
}

/**
 * The lines (without their "\n") of an export of `sample`, as the service writes it with
 * formatExportHeader and formatExportEntry. Requires indices below `size`.
 */
export function sampleExport(sample: SampleExportLog, options: SampleExportOptions = {}): string[] {
  const size = options.size ?? sample.leaves.length;
  const indices = options.indices ?? Array.from({ length: size }, (_, i) => i);
  const erased = new Set(options.erased ?? []);
  const strip = (line: string) => line.slice(0, -1);
  const lines = [
    strip(
      formatExportHeader({
        log: sample.log,
        checkpoint: sample.checkpoint(size),
        key: sample.key,
        count: indices.length,
        filter: options.filter ?? {},
        exportedAt: '2026-11-28T09:00:00.000Z',
      }),
    ),
  ];
  for (const index of indices) {
    const leaf = sample.leaves[index];
    let personal: ExportPersonal | undefined;
    if (decodeLeaf(leaf).personal !== undefined) {
      const known = sample.personal[index];
      personal = known === undefined || erased.has(index) ? { erased: true } : { data: known.data, salt: known.salt.toString('base64') };
    }
    const proof = sample.proof(index, size).map((h) => h.toString('base64'));
    lines.push(strip(formatExportEntry({ index, leaf: leaf.toString('base64'), proof, ...(personal ? { personal } : {}) })));
  }
  return lines;
}

/** The file text of an export's lines: each ends in "\n". */
export function exportText(lines: readonly string[]): string {
  return lines.map((line) => `${line}\n`).join('');
}
