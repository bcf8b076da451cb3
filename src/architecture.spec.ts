import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/**
 * Each context's tables are named in SQL by that context alone; the others go through its ports
 * (or, for the ledger's read models, its published views: src/ledger/README.md "Read contract").
 * The import rules (.dependency-cruiser.cjs) cannot see SQL in strings, so this scans the text.
 */
const OWNERS: Readonly<Record<string, readonly string[]>> = {
  ledger: [
    'entries',
    'personal_data',
    'idempotency_keys',
    'logs',
    'checkpoints',
    'tree_nodes',
    'service_keys',
    'subject_keys',
    'personal_search',
    'personal_search_key_check',
    'personal_search_backfill',
  ],
  access: ['api_keys', 'principals', 'grants'],
  holds: ['holds'],
  retention: ['retention_policies'],
  deletion: ['deletion_requests', 'closed_tenants'],
  investigation: ['event_search', 'event_search_progress', 'projection_quarantine'],
  privacy: ['subject_requests'],
  witness: ['witness_state', 'witness_submissions', 'checkpoint_cosignatures'],
};

const SRC = __dirname;
const ROOT = join(SRC, '..');

/**
 * Every .ts file under src/ but this one (it names the tables to look for) and integration tests.
 * Unit specs are scanned: they have no database, so SQL in them mirrors production code. An
 * integration test, like the e2e tests under test/, connects as the superuser to arrange faults
 * (a trigger on `entries`) and to check what was stored across contexts, which the service itself
 * must never do: that is observing the database from outside, not a context reaching into another.
 */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.int-spec.ts') && path !== __filename ? [path] : [];
  });
}

/** The context a file belongs to: its first directory under src/ (none for the composition root). */
function contextOf(path: string): string | null {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 ? parts[0] : null;
}

/**
 * SQL naming `table` after a keyword that takes a relation. Keywords match in upper case only:
 * the service writes SQL keywords in upper case and prose in lower case, and prose such as "act on
 * holds" would otherwise count. A relation listed after a comma (`FROM a, entries`) is not seen.
 */
function naming(table: string): RegExp {
  return new RegExp(
    `\\b(?:FROM|JOIN|INTO|UPDATE|TABLE|TRUNCATE|ON)\\s+(?:ONLY\\s+)?(?:public\\.)?"?${table}"?(?![\\w"])`,
  );
}

interface Offence {
  readonly file: string;
  readonly line: number;
  readonly table: string;
}

// Read once: every owner scans every file.
const SOURCES = sourceFiles(SRC).map((path) => ({
  path,
  file: relative(ROOT, path).split(sep).join('/'),
  lines: readFileSync(path, 'utf8').split('\n'),
}));

function offences(owner: string, tables: readonly string[]): Offence[] {
  const patterns = tables.map((table) => ({ table, pattern: naming(table) }));
  const found: Offence[] = [];
  for (const { path, file, lines } of SOURCES) {
    if (contextOf(path) === owner) continue;
    lines.forEach((text, i) => {
      for (const { table, pattern } of patterns) if (pattern.test(text)) found.push({ file, line: i + 1, table });
    });
  }
  return found;
}

describe('architecture: each context alone names its tables in SQL', () => {
  it.each(Object.entries(OWNERS))('only src/%s names its tables', (owner, tables) => {
    const listed = offences(owner, tables).map((o) => `${o.file}:${o.line} names ${o.table} (owned by ${owner})`);
    expect(listed).toEqual([]);
  });
});
