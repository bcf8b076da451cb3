import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { LedgerBehindMirrorError, Sequencer } from '../../ledger';
import { CLOCK, Clock, IDS, type Ids } from '../../platform';
import { NameTakenError } from '../access.errors';
import { ApiKeyRecord, ApiKeyStore } from '../api-key.store';
import { applyEvents } from '../keys/api-key.decider';
import { keyEventEntry } from '../keys/api-key.entries';
import { OPERATOR_PRINCIPALS, OperatorVia, operator } from '../roles';
import { decideAdoption, decideOperatorPrincipal, isReservedName } from './principal.decider';
import { PrincipalChanges } from './principal-changes';
import { PrincipalStore } from './principal.store';

/** Raised inside an adoption's transaction to undo it: another process adopted the key first. */
class AlreadyAdopted extends Error {}

/**
 * At start, before the service answers: the operator's reserved principals exist, and every key
 * made before principals existed gets one (docs/api.md "Principals", "Keys older than principals"),
 * each recorded like any other principal and key change. Idempotent, and safe when several
 * processes start at once.
 */
@Injectable()
export class PrincipalsBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger(PrincipalsBootstrap.name);
  private done?: Promise<void>;

  constructor(
    private readonly principals: PrincipalStore,
    private readonly changes: PrincipalChanges,
    private readonly keys: ApiKeyStore,
    private readonly sequencer: Sequencer,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  onApplicationBootstrap(): Promise<void> {
    return this.ready();
  }

  /**
   * Resolves once the work is done (once per process: later callers wait for the same run). While
   * the ledger refuses appends (a database behind its checkpoint mirror), nothing can be recorded:
   * the service starts without it, says so, and does it at its next start.
   */
  ready(): Promise<void> {
    this.done ??= this.run().catch((e) => {
      if (!(e instanceof LedgerBehindMirrorError)) throw e;
      this.logger.error(
        'the ledger refuses appends (database behind its checkpoint mirror): the operator principals and the ' +
          'principals of keys made before them are not made; such keys do not authenticate until the rollback ' +
          'is acknowledged and the service restarted',
      );
    });
    return this.done;
  }

  private async run(): Promise<void> {
    for (const via of Object.keys(OPERATOR_PRINCIPALS) as OperatorVia[]) {
      if ((await this.principals.find(OPERATOR_PRINCIPALS[via].id)) !== undefined) continue;
      try {
        await this.changes.create(
          operator('bootstrap'),
          decideOperatorPrincipal(OPERATOR_PRINCIPALS[via], this.ids.next(), this.clock.now()),
        );
      } catch (e) {
        if (!(e instanceof NameTakenError)) throw e;
      }
    }
    const unadopted = await this.keys.unadopted();
    // Keys of one name, roles and tenant scope were one emitter's: they share a service principal.
    const services = new Map<string, string>();
    for (const key of unadopted) await this.adopt(key, services);
    if (unadopted.length > 0)
      this.logger.log(`gave ${unadopted.length} API keys made before principals a principal each (platform log)`);
  }

  private async adopt(key: ApiKeyRecord, services: Map<string, string>): Promise<void> {
    const by = operator('bootstrap');
    const creator =
      key.createdBy === null ? OPERATOR_PRINCIPALS.cli.id : ((await this.keys.find(key.createdBy))?.principal ?? null);
    const kind = key.roles.includes('legal') ? 'person' : 'service';
    const sharedBy = [key.name, [...key.roles].sort().join(','), [...key.tenants].sort().join(',')].join('\n');
    let principal: string;
    let events: ReturnType<typeof decideAdoption> = [];
    if (key.name === 'bootstrap-admin' && key.createdBy === null) principal = OPERATOR_PRINCIPALS.bootstrap.id;
    else if (kind === 'service' && services.has(sharedBy)) principal = services.get(sharedBy) as string;
    else {
      principal = this.ids.next();
      const name = await this.freeName(key);
      const grants = key.roles.map((role) => ({ id: this.ids.next(), role, tenants: key.tenants }));
      events = decideAdoption({ id: principal, name, kind, key: key.id }, grants, this.clock.now());
      if (kind === 'service') services.set(sharedBy, principal);
    }
    const knownTo = creator === null || creator === principal ? [principal] : [principal, creator];
    const keyEvents = [
      { type: 'api_key.adopted' as const, id: key.id, principal, knownTo, at: this.clock.now().toISOString() },
    ];
    const adopted = applyEvents(key, keyEvents);
    const keyEntries = keyEvents.map((event) => keyEventEntry(event, adopted!, by));
    const effect = async (sql: Parameters<Parameters<Sequencer['append']>[1] & object>[0]) => {
      if (!(await this.keys.adopt(sql, key.id, principal, knownTo))) throw new AlreadyAdopted();
    };
    try {
      if (events.length === 0) await this.sequencer.append(keyEntries, effect);
      else await this.changes.create(by, events, { entries: keyEntries, effect });
    } catch (e) {
      if (!(e instanceof AlreadyAdopted || e instanceof NameTakenError)) throw e;
    }
  }

  /** The key's name when no principal has it and it is not reserved; else the name with the key's prefix. */
  private async freeName(key: ApiKeyRecord): Promise<string> {
    if (!isReservedName(key.name) && !(await this.principals.nameTaken(key.name))) return key.name;
    return `${key.name}-${key.prefix}`;
  }
}
