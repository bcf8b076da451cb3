import { createHash } from 'node:crypto';
import { LedgerEntry, encodeLeaf, prevLink } from '../src/entry';
import { leafHash } from '../src/hashing';
import { TreeBuilder } from '../src/merkle/tree-builder';
import { generateNoteKey, parsePrivateKey, parseVerifierKey } from '../src/note/note-keys';
import { signCheckpoint } from '../src/note/checkpoint';
import { NoteSigner, NoteVerifier } from '../src/note';

/** A deterministic log for tests and benchmarks: leaves, their hashes, and a key that signs it. */
export interface SampleLog {
  readonly log: string;
  readonly origin: string;
  readonly leaves: Buffer[];
  readonly leafHashes: Buffer[];
  readonly signer: NoteSigner;
  readonly verifier: NoteVerifier;
  /** A signed checkpoint of the first `size` leaves. */
  checkpoint(size: number): string;
}

/** A fixed test key (seed = SHA-256 of a label): tests must not depend on randomness. */
export function sampleKey(name = 'audit.example/test'): { signer: NoteSigner; verifier: NoteVerifier } {
  const seed = createHash('sha256').update(`sample key ${name}`).digest();
  const pair = generateNoteKey(name, seed);
  return { signer: parsePrivateKey(pair.privateKey), verifier: parseVerifierKey(pair.verifierKey) };
}

/** The entry at `index` of a sample log, shaped like a platform event of about `contextBytes` of context. */
export function sampleEntry(log: string, index: number, prev: string, contextBytes = 200): LedgerEntry {
  const ms = Date.UTC(2026, 10, 27, 12, 0, 0) + index;
  const at = new Date(ms).toISOString();
  return {
    v: 1,
    log,
    index,
    prev,
    id: `0190f1e2-0000-7000-8000-${index.toString(16).padStart(12, '0')}`,
    recordedAt: at,
    source: 'billing',
    type: 'billing.invoice.paid',
    category: 'billing',
    actor: { type: 'user', id: `usr_${index % 977}` },
    target: { type: 'invoice', id: `inv_${index}` },
    outcome: 'success',
    occurredAt: at,
    context: { amountCents: 1000 + (index % 5000), currency: 'USD', note: 'n'.repeat(contextBytes) },
    personal: { subject: `usr_${index % 977}`, digest: createHash('sha256').update(`p${index}`).digest('base64') },
  };
}

/** Builds `size` chained leaves of `log`. */
export function buildSampleLog(size: number, log = 'tenant-a', contextBytes = 200): SampleLog {
  const { signer, verifier } = sampleKey();
  const origin = `audit.example/${log}`;
  const leaves: Buffer[] = [];
  const leafHashes: Buffer[] = [];
  const roots: Buffer[] = [];
  const tree = TreeBuilder.empty();
  roots.push(tree.root());
  for (let i = 0; i < size; i++) {
    const leaf = encodeLeaf(sampleEntry(log, i, prevLink(i === 0 ? null : leafHashes[i - 1]), contextBytes));
    const hash = leafHash(leaf);
    leaves.push(leaf);
    leafHashes.push(hash);
    tree.append(hash);
    // Roots of every size are kept only for small logs; large ones sign their full size.
    if (size <= 10_000) roots.push(tree.root());
  }
  const fullRoot = tree.root();
  return {
    log,
    origin,
    leaves,
    leafHashes,
    signer,
    verifier,
    checkpoint(n: number) {
      const rootHash = n === size ? fullRoot : roots[n];
      if (!rootHash) throw new Error(`no root kept for size ${n}`);
      return signCheckpoint({ origin, size: n, rootHash, extensions: [] }, signer);
    },
  };
}
