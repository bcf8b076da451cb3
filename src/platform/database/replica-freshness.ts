/**
 * Whether a read can be served by the streaming-replication standby (DATABASE_REPLICA_URL) without
 * answering from older data than the read needs (docs/architecture.md "Read replicas"). Pure: the
 * callers read the positions and the clock, this only compares them.
 *
 * Two kinds of need, one rule: the standby serves when it holds at least what the read needs; it
 * is waited for while the read's budget lasts; after that the primary answers.
 * - A read found through the search read model (search, event read, export) needs everything the
 *   primary had committed when the read began (its entries, the catch-up of the read model, an
 *   erasure): a WAL position, `pg_current_wal_lsn()` of the primary against
 *   `pg_last_wal_replay_lsn()` of the standby.
 * - A proof or tile of a tree size needs the log's entries below that size, which never change
 *   once committed: the log's size as the standby holds it.
 */

/** Where a read was served from: the `x-audit-read-from` response header. */
export type ReadFrom = 'replica' | 'primary';

/** What to do now: read on the standby, ask it again shortly, or give up on it for this read. */
export type ReplicaVerdict = 'replica' | 'wait' | 'primary';

/**
 * A WAL position as PostgreSQL prints it (`pg_lsn`: two hex numbers `X/Y`, the high and low 32
 * bits) as one comparable number. Throws on anything else: a position that cannot be read is not
 * taken as "far enough".
 */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new Error(`not a WAL position: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/**
 * The verdict for a read that needs position `needed`, when the standby has replayed (or holds) up
 * to `held`, `waitedMs` after the read began asking, with `budgetMs` to wait in all. `held` null:
 * the standby cannot say (not in recovery, so not a standby of this primary, or its position is
 * unknown): it could be any age, so the primary answers.
 */
export function replicaVerdict(
  needed: bigint | number,
  held: bigint | number | null,
  waitedMs: number,
  budgetMs: number,
): ReplicaVerdict {
  if (held === null) return 'primary';
  if (BigInt(held) >= BigInt(needed)) return 'replica';
  return waitedMs < budgetMs ? 'wait' : 'primary';
}

/**
 * Whether the standby is worth asking at `now`: not while `retryAfterMs` has not passed since it
 * last failed to answer (`failedAt`, null: never), so that a standby that is down costs reads one
 * failed connection every so often, not one each.
 */
export function replicaUsable(now: number, failedAt: number | null, retryAfterMs: number): boolean {
  return failedAt === null || now - failedAt >= retryAfterMs;
}
