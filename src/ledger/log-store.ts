import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { EMPTY_ROOT, HASH_SIZE, NodeId } from '@audit/ledger';
import { DataSource } from 'typeorm';
import { DatabasePool, type ReadTarget, withTenantScope } from '../platform';
import { readCheckpoints, readEntryPage, readHead, readStoredEnd, toHead } from './log-reads';
import type { SealedPersonalData } from './personal-data-reader';

/**
 * Runs one SQL statement: through a transaction's manager, or the pool in autocommit mode. `name`
 * makes it a prepared statement on the pool's connections (parsed and planned once per
 * connection), for the hot statements; other runners ignore it.
 */
export type Sql = (text: string, params?: unknown[], name?: string) => Promise<Record<string, unknown>[]>;

/** An idempotency claim written with the entries it acknowledges. */
export interface ClaimRow {
  readonly source: string;
  readonly key: string;
  readonly digest: Buffer;
  readonly idx: number;
  readonly id: string;
  readonly leafHash: Buffer;
  readonly recordedAt: string;
}

/** The head of a log as stored: everything an append needs to continue it. */
export interface LogHead {
  readonly log: string;
  readonly size: number;
  readonly root: Buffer;
  readonly frontier: Buffer[];
  readonly lastLeafHash: Buffer | null;
  readonly lastRecordedAt: Date | null;
}

/** One entry row to insert. */
export interface EntryRow {
  readonly idx: number;
  readonly id: string;
  readonly recordedAt: string;
  readonly prev: Buffer;
  readonly leafHash: Buffer;
  readonly treeNodes: Buffer;
  readonly leaf: Buffer;
}

/** One log's part of an append: its rows and the head they leave. */
export interface LogAppend {
  readonly log: string;
  readonly entries: readonly EntryRow[];
  /** Sealed under the subjects' keys (PersonalDataReader, sealPersonal). */
  readonly personal: readonly SealedPersonalData[];
  /**
   * Rows of the personal search index (PersonalSearch): for each entry, the HMACs of the email and
   * IP addresses its personal data holds. Written in the same statement as the personal data.
   */
  readonly search?: readonly {
    readonly idx: number;
    readonly recordedAt: string;
    readonly field: string;
    readonly hmac: Buffer;
  }[];
  /** The log's key epoch the personal data's keys were read under (SubjectKeys); null without personal data. */
  readonly keyEpoch: number | null;
  readonly claims: readonly ClaimRow[];
  readonly head: LogHead;
}

export interface CheckpointRow {
  readonly size: number;
  readonly root: Buffer;
  readonly note: string;
}

/** `parts` as one buffer, with where each part starts in it and how long it is. */
function packed(parts: readonly Buffer[]): { bytes: Buffer; at: number[]; len: number[] } {
  const at: number[] = [];
  let end = 0;
  for (const part of parts) {
    at.push(end);
    end += part.length;
  }
  return { bytes: Buffer.concat(parts, end), at, len: parts.map((part) => part.length) };
}

/**
 * The one storage adapter of the ledger: PostgreSQL through the runtime role. Writes take an `Sql`
 * (the pool in autocommit, or a transaction's query). Reads use the DataSource, or the `Sql` of a
 * tenant-scoped transaction (`tenantScoped`) when they are done on behalf of an API key.
 */
@Injectable()
export class LogStore {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly pool: DatabasePool,
  ) {}

  /** The pg pool of the runtime role, for the append path's single statements. */
  sql(): Sql {
    return (text, params, name) => this.pool.query(text, params, name);
  }

  /**
   * Runs `fn` with an `Sql` that can only read, and sees only rows of `tenants` (`['*']` for all):
   * the database's own tenant check, behind the application's. Pass that `Sql` to the reads below.
   * `oneSnapshot`: all of `fn`'s reads see one snapshot (withTenantScope). `on`: the server to read
   * (ReadReplica chooses it; the primary's pool when not given).
   */
  tenantScoped<T>(
    tenants: readonly string[],
    fn: (sql: Sql) => Promise<T>,
    options: { readonly oneSnapshot?: boolean; readonly on?: ReadTarget } = {},
  ): Promise<T> {
    return withTenantScope(options.on?.db ?? this.pool, tenants, fn, options);
  }

  /** A statement on the DataSource, for the reads that take an optional scoped transaction. */
  private readonly onDataSource: Sql = (text, params) => this.db.query(text, params);

  /** Runs a read on `sql` (a scoped transaction) when given, else on the DataSource. */
  private async read<R>(sql: Sql | undefined, text: string, params: unknown[]): Promise<R[]> {
    return (sql ? await sql(text, params) : await this.db.query(text, params)) as R[];
  }

  /**
   * The head of `log`, creating an empty log first if needed. With `forUpdate` (inside a
   * transaction) the head row stays locked until that transaction ends.
   */
  async openHead(sql: Sql, log: string, forUpdate = false): Promise<LogHead> {
    const select = `SELECT * FROM logs WHERE log = $1${forUpdate ? ' FOR UPDATE' : ''}`;
    let rows = await sql(select, [log]);
    if (rows.length === 0) {
      await sql('INSERT INTO logs (log, root) VALUES ($1, $2) ON CONFLICT (log) DO NOTHING', [log, EMPTY_ROOT]);
      rows = await sql(select, [log]);
    }
    return toHead(rows[0]);
  }

  /**
   * Inserts the entries, personal data and idempotency claims of appends to one or more logs and
   * moves their heads, in one statement, so it is atomic even outside a transaction (the search
   * read model follows later: SearchProjector). When a head was stale (another process appended
   * meanwhile), the (log, idx) key refuses the whole statement: nothing is written, and the
   * caller reads the heads again and replans. So does a log whose key epoch moved since its
   * subject keys were read (an erasure destroyed keys): the statement fails with 40001, and the
   * caller reads the keys again (SubjectKeys.forget). Rows go in log name order, so two processes whose
   * statements share logs wait on each other in one order and cannot deadlock. Requires at most
   * one append per log, and `prev` and `leafHash` of 32 bytes.
   */
  async append(sql: Sql, appends: readonly LogAppend[]): Promise<void> {
    const sorted = [...appends].sort((x, y) => (x.log < y.log ? -1 : 1));
    const entries = sorted.flatMap((a) => a.entries.map((e) => ({ log: a.log, ...e })));
    const personal = sorted.flatMap((a) => a.personal.map((p) => ({ log: a.log, ...p })));
    const search = sorted.flatMap((a) => (a.search ?? []).map((row) => ({ log: a.log, ...row })));
    // Claims go in key order so two statements claiming overlapping keys cannot deadlock.
    const claims = sorted
      .flatMap((a) => a.claims.map((c) => ({ log: a.log, ...c })))
      .sort((x, y) => (x.source + '\u0000' + x.key < y.source + '\u0000' + y.key ? -1 : 1));
    const trees = packed(entries.map((e) => e.treeNodes));
    const leaves = packed(entries.map((e) => e.leaf));
    const salts = packed(personal.map((p) => p.salt));
    const data = packed(personal.map((p) => p.data));
    await sql(
      `WITH new_entries AS (
         INSERT INTO entries (log, idx, id, recorded_at, prev, leaf_hash, tree_nodes, leaf)
         SELECT e.log, e.idx, e.id, e.recorded_at,
                substring($5::bytea FROM (e.n::int - 1) * 32 + 1 FOR 32),
                substring($6::bytea FROM (e.n::int - 1) * 32 + 1 FOR 32),
                substring($7::bytea FROM e.tree_at + 1 FOR e.tree_len),
                substring($8::bytea FROM e.leaf_at + 1 FOR e.leaf_len)
         FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::timestamptz[], $9::int[], $10::int[], $11::int[], $12::int[])
           WITH ORDINALITY AS e(log, idx, id, recorded_at, tree_at, tree_len, leaf_at, leaf_len, n)
       ), new_personal AS (
         INSERT INTO personal_data (log, idx, subject, salt, data, sealed)
         SELECT p.log, p.idx, p.subject,
                substring($16::bytea FROM p.salt_at + 1 FOR p.salt_len),
                substring($17::bytea FROM p.data_at + 1 FOR p.data_len),
                true
         FROM unnest($13::text[], $14::bigint[], $15::text[], $33::int[], $34::int[], $35::int[], $36::int[])
           AS p(log, idx, subject, salt_at, salt_len, data_at, data_len)
       ), new_search AS (
         INSERT INTO personal_search (log, idx, field, hmac, recorded_at)
         SELECT x.log, x.idx, x.field, substring($41::bytea FROM (x.n::int - 1) * 32 + 1 FOR 32), x.recorded_at
         FROM unnest($37::text[], $38::bigint[], $39::text[], $40::timestamptz[]) WITH ORDINALITY AS x(log, idx, field, recorded_at, n)
       ), new_claims AS (
         INSERT INTO idempotency_keys (source, key, request_digest, log, idx, id, leaf_hash, recorded_at)
         SELECT * FROM unnest($18::text[], $19::text[], $20::bytea[], $21::text[], $22::bigint[], $23::uuid[], $24::bytea[], $25::timestamptz[])
       ), moved AS (
         UPDATE logs l SET size = h.size, root = h.root, frontier = h.frontier, last_leaf_hash = h.last_leaf_hash, last_recorded_at = h.last_recorded_at
         FROM unnest($26::text[], $27::bigint[], $28::bytea[], $29::bytea[], $30::bytea[], $31::timestamptz[], $32::bigint[])
           AS h(log, size, root, frontier, last_leaf_hash, last_recorded_at, key_epoch)
         WHERE l.log = h.log AND (h.key_epoch IS NULL OR l.key_epoch = h.key_epoch)
         RETURNING l.log
       )
       -- A head skipped above: its key epoch moved (checked on the row's newest version, after
       -- waiting for the erasure that holds it), so the whole statement is undone as stale.
       SELECT audit_subject_keys_changed() FROM (SELECT count(*) AS n FROM moved) m WHERE m.n <> cardinality($26::text[])`,
      [
        entries.map((e) => e.log),
        entries.map((e) => e.idx),
        entries.map((e) => e.id),
        entries.map((e) => e.recordedAt),
        // The entries' bytes go as one binary parameter per column, cut apart in SQL: an array of
        // bytea parameters travels as hex text, which doubled the bytes and cost the Node process
        // building them more than the rest of the statement.
        Buffer.concat(entries.map((e) => e.prev)),
        Buffer.concat(entries.map((e) => e.leafHash)),
        trees.bytes,
        leaves.bytes,
        trees.at,
        trees.len,
        leaves.at,
        leaves.len,
        personal.map((p) => p.log),
        personal.map((p) => p.idx),
        personal.map((p) => p.subject),
        // Sealed values are bytes too: packed like the leaves.
        salts.bytes,
        data.bytes,
        claims.map((c) => c.source),
        claims.map((c) => c.key),
        claims.map((c) => c.digest),
        claims.map((c) => c.log),
        claims.map((c) => c.idx),
        claims.map((c) => c.id),
        claims.map((c) => c.leafHash),
        claims.map((c) => c.recordedAt),
        sorted.map((a) => a.log),
        sorted.map((a) => a.head.size),
        sorted.map((a) => a.head.root),
        sorted.map((a) => Buffer.concat(a.head.frontier)),
        sorted.map((a) => a.head.lastLeafHash),
        sorted.map((a) => a.head.lastRecordedAt),
        sorted.map((a) => a.keyEpoch),
        salts.at,
        salts.len,
        data.at,
        data.len,
        search.map((x) => x.log),
        search.map((x) => x.idx),
        search.map((x) => x.field),
        search.map((x) => x.recordedAt),
        Buffer.concat(search.map((x) => x.hmac)),
      ],
      'audit_append',
    );
  }

  /** The head of `log`, or null when the log does not exist. */
  async head(log: string, sql?: Sql): Promise<LogHead | null> {
    return readHead(sql ?? this.onDataSource, log);
  }

  /**
   * Heads whose size is ahead of their latest checkpoint, each with that checkpoint (null when it
   * has none), from one read: the signer needs both, and a round trip more per log cost it most
   * under load (each waits for a turn of a busy event loop).
   */
  async headsToSign(): Promise<(LogHead & { readonly latest: CheckpointRow | null })[]> {
    const rows: Record<string, unknown>[] = await this.db.query(
      `SELECT l.*, c.size AS checkpoint_size, c.root AS checkpoint_root, c.note AS checkpoint_note FROM logs l
       LEFT JOIN LATERAL (SELECT size, root, note FROM checkpoints c WHERE c.log = l.log ORDER BY c.size DESC LIMIT 1) c ON true
       WHERE l.size > 0 AND l.size > coalesce(c.size, 0)
       ORDER BY l.log`,
    );
    return rows.map((row) => ({
      ...toHead(row),
      latest:
        row.checkpoint_size === null
          ? null
          : {
              size: Number(row.checkpoint_size),
              root: row.checkpoint_root as Buffer,
              note: row.checkpoint_note as string,
            },
    }));
  }

  /** Whether `log` exists (an entry was ever appended to it, or it was opened for one). */
  async exists(log: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query('SELECT 1 FROM logs WHERE log = $1', [log]);
    return rows.length > 0;
  }

  /** Every log name, in order. */
  async logNames(): Promise<string[]> {
    const rows: { log: string }[] = await this.db.query('SELECT log FROM logs ORDER BY log');
    return rows.map((r) => r.log);
  }

  /**
   * The given stored tree nodes of `log`, from one read, as a lookup. A node (level l, index i) is
   * kept with the leaf that completed it, (i + 1) * 2^l - 1; level 0 is the leaf hash itself. The
   * lookup throws for a node the store lacks: a node a plan needs and the database does not hold
   * means it lost part of the tree.
   */
  async nodeLookup(log: string, ids: readonly NodeId[], sql?: Sql): Promise<(id: NodeId) => Buffer> {
    const owner = (id: NodeId) => (id.index + 1) * 2 ** id.level - 1;
    const owners = [...new Set(ids.map(owner))];
    // A join on the owners rather than `idx = ANY(...)`: without fresh statistics the planner
    // answered that by reading the log's whole key range and filtering it (44 ms for 1,000 owners
    // in a log of 100,000, against 2.5 ms for a probe per owner).
    const rows: { idx: string; leaf_hash: Buffer; tree_nodes: Buffer }[] =
      owners.length === 0
        ? []
        : await this.read(
            sql,
            'SELECT e.idx, e.leaf_hash, e.tree_nodes FROM unnest($2::bigint[]) AS o(idx) JOIN entries e ON e.log = $1 AND e.idx = o.idx',
            [log, owners],
          );
    const byIdx = new Map(rows.map((r) => [Number(r.idx), r]));
    return (id) => {
      const row = byIdx.get(owner(id));
      const hash =
        row &&
        (id.level === 0 ? row.leaf_hash : row.tree_nodes.subarray((id.level - 1) * HASH_SIZE, id.level * HASH_SIZE));
      if (!hash || hash.length !== HASH_SIZE)
        throw new Error(`stored tree node ${id.level}/${id.index} of log ${log} is missing`);
      return hash;
    };
  }

  /** Leaves [from, to) of `log`, in order. */
  async leaves(log: string, from: number, to: number, sql?: Sql): Promise<Buffer[]> {
    const rows: { leaf: Buffer }[] = await this.read(
      sql,
      'SELECT leaf FROM entries WHERE log = $1 AND idx >= $2 AND idx < $3 ORDER BY idx',
      [log, from, to],
    );
    return rows.map((r) => r.leaf);
  }

  /**
   * Entries [from, from + limit) of `log`, in order, with what verification compares. A bounded
   * range rather than `idx > x LIMIT n`: the planner then always walks the primary key, even
   * before a freshly loaded table has statistics.
   */
  async entryPage(
    log: string,
    from: number,
    limit: number,
    sql?: Sql,
  ): Promise<{ idx: number; leaf: Buffer; leafHash: Buffer; treeNodes: Buffer }[]> {
    return readEntryPage(sql ?? this.onDataSource, log, from, limit);
  }

  /** One past the highest stored index of `log` (0 when it has none), whatever the head says. */
  async storedEnd(log: string, sql?: Sql): Promise<number> {
    return readStoredEnd(sql ?? this.onDataSource, log);
  }

  /** The latest signed checkpoint of `log`, or null. */
  async latestCheckpoint(log: string, sql?: Sql): Promise<CheckpointRow | null> {
    const rows: { size: string; root: Buffer; note: string }[] = await this.read(
      sql,
      'SELECT size, root, note FROM checkpoints WHERE log = $1 ORDER BY size DESC LIMIT 1',
      [log],
    );
    return rows.length === 0 ? null : { size: Number(rows[0].size), root: rows[0].root, note: rows[0].note };
  }

  /**
   * The latest signed checkpoint of each of `logs` that has one, from one read (sink delivery
   * reads those of every log a sink covers at once).
   */
  async latestCheckpoints(logs: readonly string[], sql?: Sql): Promise<Map<string, CheckpointRow>> {
    const rows: { log: string; size: string; root: Buffer; note: string }[] = await this.read(
      sql,
      `SELECT l.log, c.size, c.root, c.note FROM unnest($1::text[]) AS l(log)
       CROSS JOIN LATERAL (SELECT size, root, note FROM checkpoints c WHERE c.log = l.log ORDER BY c.size DESC LIMIT 1) c`,
      [logs],
    );
    return new Map(rows.map((r) => [r.log, { size: Number(r.size), root: r.root, note: r.note }]));
  }

  /** The latest signed checkpoint note of every log that has one, by log name (which key signs them). */
  async latestCheckpointNotes(): Promise<{ log: string; note: string }[]> {
    return this.db.query(
      `SELECT l.log, c.note FROM logs l
       CROSS JOIN LATERAL (SELECT note FROM checkpoints c WHERE c.log = l.log ORDER BY c.size DESC LIMIT 1) c
       ORDER BY l.log`,
    );
  }

  /**
   * For every log, its smallest signed checkpoint above `after` (a log not in it: above 0) and
   * when it was signed; logs with none are left out. The witness context's quorum lag.
   */
  async firstCheckpointsAfter(
    after: ReadonlyMap<string, number>,
  ): Promise<{ log: string; size: number; signedAt: Date }[]> {
    const rows: { log: string; size: string; signed_at: Date }[] = await this.db.query(
      `SELECT l.log, c.size, c.signed_at FROM logs l
       LEFT JOIN unnest($1::text[], $2::bigint[]) AS a(log, size) ON a.log = l.log
       CROSS JOIN LATERAL (SELECT size, signed_at FROM checkpoints c
                           WHERE c.log = l.log AND c.size > coalesce(a.size, 0) ORDER BY c.size LIMIT 1) c
       ORDER BY l.log`,
      [[...after.keys()], [...after.values()]],
    );
    return rows.map((r) => ({ log: r.log, size: Number(r.size), signedAt: r.signed_at }));
  }

  /** Every signed checkpoint of `log`, smallest first. */
  async checkpoints(log: string, sql?: Sql): Promise<CheckpointRow[]> {
    return readCheckpoints(sql ?? this.onDataSource, log);
  }

  /**
   * The notes of the checkpoints the database holds at the given sizes (one read for every log),
   * by log; a log without a checkpoint of its size is absent. For comparing with the mirror.
   */
  async checkpointNotesAt(sizes: readonly { log: string; size: number }[]): Promise<Map<string, string>> {
    if (sizes.length === 0) return new Map();
    const rows: { log: string; note: string }[] = await this.db.query(
      `SELECT c.log, c.note FROM unnest($1::text[], $2::bigint[]) AS m(log, size)
       JOIN checkpoints c ON c.log = m.log AND c.size = m.size`,
      [sizes.map((s) => s.log), sizes.map((s) => s.size)],
    );
    return new Map(rows.map((r) => [r.log, r.note]));
  }

  /**
   * Records a signed checkpoint. Returns false when another process recorded this size first.
   * It touches only `checkpoints`: the head row in `logs` stays free for appends.
   */
  async insertCheckpoint(log: string, checkpoint: CheckpointRow): Promise<boolean> {
    const inserted: unknown[] = await this.db.query(
      'INSERT INTO checkpoints (log, size, root, note) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING size',
      [log, checkpoint.size, checkpoint.root, checkpoint.note],
    );
    return inserted.length === 1;
  }
}
