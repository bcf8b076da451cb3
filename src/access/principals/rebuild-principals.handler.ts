import { LedgerEntry, PLATFORM_LOG } from '@audit/ledger';
import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { PersonalDataReader, ServiceEntries, foldBy, type Sql } from '../../ledger';
import { ApiKeyStore } from '../api-key.store';
import { evolve, principalOfEvent } from './principal.decider';
import { PRINCIPAL_CATEGORY, fromPrincipalEntry } from './principal.entries';
import { PrincipalStore } from './principal.store';

/**
 * What a rebuild found: principals, their grants, their events, and the principals the ledger
 * never created that keys still name (kept, without grants: see `PrincipalStore.replaceAll`).
 */
export interface RebuiltPrincipals {
  readonly principals: number;
  readonly grants: number;
  readonly events: number;
  readonly keptForKeys: string[];
}

/** Rebuild the `principals` and `grants` projection from the ledger. */
export class RebuildPrincipals extends Command<RebuiltPrincipals> {}

type PersonalData = { email: string | null; oidcSubject: string | null } | null;

@CommandHandler(RebuildPrincipals)
export class RebuildPrincipalsHandler implements ICommandHandler<RebuildPrincipals> {
  constructor(
    private readonly store: PrincipalStore,
    private readonly keys: ApiKeyStore,
    private readonly entries: ServiceEntries,
    private readonly reader: PersonalDataReader,
  ) {}

  async execute(): Promise<RebuiltPrincipals> {
    const rebuilt = await this.entries.rebuild(
      ({ sql }) => this.store.lockForRebuild(sql),
      PRINCIPAL_CATEGORY,
      async (all, { sql }) => {
        // The service records principal changes in the `platform` log only; a tenant's log could
        // hold an emitted look-alike.
        const entries = all.filter((entry) => entry.log === PLATFORM_LOG);
        const personal = await personalData(this.reader, sql, entries);
        const events = entries.map((entry) => fromPrincipalEntry(entry, personal.get(entry.index) ?? null));
        const principals = [...foldBy(events, principalOfEvent, evolve).values()];
        const keptForKeys = await this.store.replaceAll(sql, principals);
        await this.keys.principalsChanged(sql);
        return {
          principals: principals.length,
          grants: principals.reduce((sum, principal) => sum + principal.grants.length, 0),
          events: entries.length,
          keptForKeys,
        };
      },
    );
    this.keys.changed();
    return rebuilt;
  }
}

/**
 * The personal data (a person's email and identity-provider subject) beside each `principal.created`
 * entry that carries any, by index, read through the ledger's published view and opened by the
 * ledger (it is stored sealed); null once erased.
 */
async function personalData(
  reader: PersonalDataReader,
  sql: Sql,
  entries: readonly LedgerEntry[],
): Promise<Map<number, PersonalData>> {
  const indices = entries
    .filter((entry) => entry.type === 'principal.created' && entry.personal !== undefined)
    .map((entry) => entry.index);
  if (indices.length === 0) return new Map();
  const rows = await sql(
    'SELECT log, idx, subject, data, salt, sealed FROM ledger_personal_data WHERE log = $1 AND idx = ANY($2::bigint[])',
    [PLATFORM_LOG, indices],
  );
  const opened = await reader.openViewRows(sql, rows);
  return new Map(rows.map((row, i) => [Number(row.idx), (opened[i]?.data as PersonalData | undefined) ?? null]));
}
