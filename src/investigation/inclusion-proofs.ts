import { LeafRange, hashRanges, inclusionProofRanges, nodeIdsForRanges } from '@audit/ledger';
import { LogStore, Sql } from '../ledger/log-store';

/**
 * RFC 6962 inclusion proofs (standard base64, proof order) of each of `indices` in the tree of
 * the first `size` leaves of `log`, from one read of stored nodes. Proofs of neighbouring leaves
 * share most of their subtrees, so each subtree hash is computed and encoded once per call.
 * Requires every index below `size` and `size` at most the log's size.
 */
export async function inclusionProofs(store: LogStore, sql: Sql, log: string, size: number, indices: readonly number[]): Promise<string[][]> {
  const plans = indices.map((index) => inclusionProofRanges(index, size));
  const unique = new Map<string, LeafRange>();
  for (const ranges of plans) for (const range of ranges) unique.set(`${range.begin}-${range.end}`, range);
  const stored = await store.nodeHashes(log, nodeIdsForRanges([...unique.values()]), sql);
  const encoded = new Map<string, string>();
  const hashes = hashRanges([...unique.values()], (id) => {
    const hash = stored.get(`${id.level}/${id.index}`);
    // A node the plan needs and the store lacks means the database lost part of the tree.
    if (!hash) throw new Error(`stored tree node ${id.level}/${id.index} is missing`);
    return hash;
  });
  [...unique.keys()].forEach((key, i) => encoded.set(key, hashes[i].toString('base64')));
  return plans.map((ranges) => ranges.map((range) => encoded.get(`${range.begin}-${range.end}`) as string));
}
