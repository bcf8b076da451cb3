import { LOG_NAME_PATTERN } from '@audit/ledger';
import type { PoolClient } from 'pg';

/**
 * The role reads done on behalf of an API key run as: SELECT only on the ledger's read models, and
 * only the rows of the tenants in the transaction's `audit.tenants` (migration TenantIsolation).
 */
export const READER_ROLE = 'audit_reader';

/** One SQL statement on the scoped transaction (the same shape as the ledger store's `Sql`). */
export type ScopedSql = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * The value of `audit.tenants` for a tenant list: `*` alone when the list holds `*`, otherwise the
 * names joined by commas ('' for none, which sees nothing). Refuses a name that is not a log name,
 * since a comma inside one would widen the scope.
 */
export function tenantScopeSetting(tenants: readonly string[]): string {
  if (tenants.includes('*')) return '*';
  for (const tenant of tenants) {
    if (!LOG_NAME_PATTERN.test(tenant)) throw new Error(`tenant scope holds an invalid tenant name "${tenant}"`);
  }
  return tenants.join(',');
}

/**
 * Runs `fn` in a read-only transaction of the runtime pool switched to `audit_reader` with
 * `audit.tenants` set from `tenants` (`['*']` for all): PostgreSQL then shows `fn` only rows of
 * those tenants, whatever its queries ask for. Both settings are transaction-local, so the
 * connection goes back to the pool as the runtime role with no scope. The switch works in both
 * connection modes (owner login with `role=audit_runtime`, or a direct runtime login) because
 * the runtime role is a member of `audit_reader`.
 *
 * This is a second line behind the application's own tenant checks, not a sandbox: code running
 * in `fn` could `RESET ROLE` (see docs/api.md "Tenant isolation in PostgreSQL").
 *
 * With `oneSnapshot`, every statement of `fn` sees the database as of its first one (REPEATABLE
 * READ; read-only, so it never fails to serialize): a read of several statements about a log being
 * appended to (a full verification reads the head, then the entries) sees no entry committed in
 * between. Without it, each statement sees what was committed before it (READ COMMITTED).
 */
export async function withTenantScope<T>(
  db: { connect(): Promise<PoolClient> },
  tenants: readonly string[],
  fn: (sql: ScopedSql) => Promise<T>,
  options: { readonly oneSnapshot?: boolean } = {},
): Promise<T> {
  const scope = tenantScopeSetting(tenants);
  const client = await db.connect();
  let discard: Error | undefined;
  try {
    // One round trip (a simple-protocol query may hold two statements, so no parameters: the
    // scope is checked above and escaped anyway).
    // A scope of every tenant filters nothing: it skips the role switch and with it the per-row
    // policy check (a full verification reads a million rows), and stays read-only.
    const begin = options.oneSnapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN READ ONLY';
    await client.query(
      scope === '*'
        ? begin
        : `${begin}; SELECT set_config('role', '${READER_ROLE}', true), set_config('audit.tenants', ${client.escapeLiteral(scope)}, true)`,
    );
    const result = await fn(async (text, params) => (await client.query(text, params)).rows);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    // Ends the transaction, and with it the role and scope; a connection that cannot is dropped.
    await client.query('ROLLBACK').catch((failed: Error) => {
      discard = failed;
    });
    throw e;
  } finally {
    client.release(discard);
  }
}
