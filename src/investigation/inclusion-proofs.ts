import { LeafRange, hashRanges, inclusionProofRanges, nodeIdsForRanges } from '@audit/ledger';
import { LogStore, Sql } from '../ledger';

/**
 * RFC 6962 inclusion proofs (standard base64, proof order) of each of `indices` in the tree of
 * the first `size` leaves of `log`, from one read of stored nodes. Proofs of neighbouring leaves
 * share most of their subtrees, so each subtree hash is computed and encoded once per call.
 * Requires every index below `size` and `size` at most the log's size.
 */
export async function inclusionProofs(
  store: LogStore,
  sql: Sql,
  log: string,
  size: number,
  indices: readonly number[],
): Promise<string[][]> {
  const plans = indices.map((index) => inclusionProofRanges(index, size));
  // Subtrees by begin, then end: an export asks this for a thousand leaves at a time, and keys
  // built as strings cost more than the hashing they save.
  const slots = new Map<number, Map<number, number>>();
  const unique: LeafRange[] = [];
  const slotOf = (range: LeafRange): number => {
    let byEnd = slots.get(range.begin);
    if (!byEnd) slots.set(range.begin, (byEnd = new Map()));
    let slot = byEnd.get(range.end);
    if (slot === undefined) byEnd.set(range.end, (slot = unique.push(range) - 1));
    return slot;
  };
  const planSlots = plans.map((ranges) => ranges.map(slotOf));
  const encoded = hashRanges(unique, await store.nodeLookup(log, nodeIdsForRanges(unique), sql)).map((hash) =>
    hash.toString('base64'),
  );
  return planSlots.map((slotsOfProof) => slotsOfProof.map((slot) => encoded[slot]));
}
