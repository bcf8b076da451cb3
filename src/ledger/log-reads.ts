import { HASH_SIZE } from '@audit/ledger';
import type { CheckpointRow, LogHead, Sql } from './log-store';

// The reads of a stored log that a full verification makes, on any `Sql` (a pooled statement, a
// scoped transaction, or the verification worker's own connection). Plain pg: no framework here,
// so the worker thread (verification-worker.ts) loads only this and the ledger library.

function splitHashes(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += HASH_SIZE) out.push(bytes.subarray(at, at + HASH_SIZE));
  return out;
}

export function toHead(row: Record<string, unknown>): LogHead {
  return {
    log: row.log as string,
    size: Number(row.size),
    root: row.root as Buffer,
    frontier: splitHashes(row.frontier as Buffer),
    lastLeafHash: (row.last_leaf_hash as Buffer | null) ?? null,
    lastRecordedAt: (row.last_recorded_at as Date | null) ?? null,
  };
}

export async function readHead(sql: Sql, log: string): Promise<LogHead | null> {
  const rows = await sql('SELECT * FROM logs WHERE log = $1', [log]);
  return rows.length === 0 ? null : toHead(rows[0]);
}

/** Every signed checkpoint of `log`, in size order. */
export async function readCheckpoints(sql: Sql, log: string): Promise<CheckpointRow[]> {
  const rows = await sql('SELECT size, root, note FROM checkpoints WHERE log = $1 ORDER BY size', [log]);
  return rows.map((r) => ({ size: Number(r.size), root: r.root as Buffer, note: r.note as string }));
}

/** One past the highest stored index of `log` (0 when none): gaps below it are missing entries. */
export async function readStoredEnd(sql: Sql, log: string): Promise<number> {
  const rows = await sql('SELECT max(idx) + 1 AS end FROM entries WHERE log = $1', [log]);
  return Number(rows[0]?.end ?? 0);
}

/** The stored entries of `log` with an index in [from, from + limit), in index order. */
export async function readEntryPage(
  sql: Sql,
  log: string,
  from: number,
  limit: number,
): Promise<{ idx: number; leaf: Buffer; leafHash: Buffer; treeNodes: Buffer }[]> {
  const rows = await sql(
    'SELECT idx, leaf, leaf_hash, tree_nodes FROM entries WHERE log = $1 AND idx >= $2 AND idx < $3 ORDER BY idx',
    [log, from, from + limit],
  );
  return rows.map((r) => ({
    idx: Number(r.idx),
    leaf: r.leaf as Buffer,
    leafHash: r.leaf_hash as Buffer,
    treeNodes: r.tree_nodes as Buffer,
  }));
}
