import { HoldScope, holdCovers } from '../holds';
import type { ErasableEntry } from '../ledger';

/**
 * What an erasure may erase and what it must keep, and why. Pure: the caller passes the entries,
 * the active holds, the retention rule and the time.
 */

/** An entry with personal data not yet erased: the ledger's erasure port lists them. */
export type ErasureCandidate = ErasableEntry;

/** Why something was kept: an active hold, or a retention minimum that has not run out. */
export type BlockReason =
  | { readonly kind: 'hold'; readonly id: string }
  | { readonly kind: 'retention'; readonly category: string; readonly until: string };

export interface ErasurePlan {
  /** Entries to erase, in order. */
  readonly erase: readonly ErasureCandidate[];
  /** Entries kept, each with every reason that keeps it. */
  readonly kept: readonly { readonly candidate: ErasureCandidate; readonly blockedBy: readonly BlockReason[] }[];
  /** Every reason, once: holds by id, retention by category with the latest `until`. */
  readonly blockedBy: readonly BlockReason[];
  /** When the earliest retention block runs out (the request is worth running again then). */
  readonly retryAt: string | null;
}

export interface ActiveHold {
  readonly id: string;
  readonly tenant: string;
  readonly scope: HoldScope;
}

/**
 * `minimumUntil(category, recordedAt)`: the end of the category's retention minimum for an entry
 * recorded then (erasure is allowed from that instant on).
 */
export function planErasure(
  candidates: readonly ErasureCandidate[],
  holds: readonly ActiveHold[],
  minimumUntil: (category: string, recordedAt: string) => string,
  now: Date,
): ErasurePlan {
  const erase: ErasureCandidate[] = [];
  const kept: { candidate: ErasureCandidate; blockedBy: BlockReason[] }[] = [];
  const holdIds = new Set<string>();
  const retention = new Map<string, string>();
  let retryAt: string | null = null;
  for (const candidate of candidates) {
    const blockedBy: BlockReason[] = [];
    const question = {
      tenant: candidate.log,
      subject: candidate.subject,
      actor: candidate.actor,
      category: candidate.category,
      type: candidate.type,
      at: candidate.recordedAt,
    };
    for (const hold of holds) {
      if (holdCovers(hold, question)) {
        blockedBy.push({ kind: 'hold', id: hold.id });
        holdIds.add(hold.id);
      }
    }
    const until = minimumUntil(candidate.category, candidate.recordedAt);
    if (Date.parse(until) > now.getTime()) {
      blockedBy.push({ kind: 'retention', category: candidate.category, until });
      if ((retention.get(candidate.category) ?? '') < until) retention.set(candidate.category, until);
      if (retryAt === null || until < retryAt) retryAt = until;
    }
    if (blockedBy.length === 0) erase.push(candidate);
    else kept.push({ candidate, blockedBy });
  }
  const blockedBy: BlockReason[] = [
    ...[...holdIds].sort().map((id) => ({ kind: 'hold' as const, id })),
    ...[...retention]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([category, until]) => ({ kind: 'retention' as const, category, until })),
  ];
  return { erase, kept, blockedBy, retryAt };
}

export type FinishedStatus = 'completed' | 'partially_blocked' | 'blocked';

/** A request's status from what it erased in all and what is still kept. */
export function statusOf(erased: number, blocked: number): FinishedStatus {
  if (blocked === 0) return 'completed';
  return erased > 0 ? 'partially_blocked' : 'blocked';
}

/** Sorted indices as inclusive ranges: [0,1,2,5] → [[0,2],[5,5]]. Receipts stay small. */
export function indexRanges(indices: readonly number[]): [number, number][] {
  const sorted = [...indices].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const index of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && index === last[1] + 1) last[1] = index;
    else if (!last || index > last[1]) ranges.push([index, index]);
  }
  return ranges;
}
