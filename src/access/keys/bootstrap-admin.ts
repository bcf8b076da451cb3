import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Sequencer } from '../../ledger';
import { APP_CONFIG, AppConfig, CLOCK, Clock, IDS, type Ids } from '../../platform';
import { ApiKeyStore } from '../api-key.store';
import { PrincipalStore } from '../principals/principal.store';
import { PrincipalsBootstrap } from '../principals/principals-bootstrap';
import { OPERATOR_PRINCIPALS, operator } from '../roles';
import { ApiKeyState, applyEvents, decideCreate } from './api-key.decider';
import { keyEventEntry } from './api-key.entries';

/** Raised inside the creating transaction to undo it: the key exists already. */
class AlreadyThere extends Error {}

/**
 * Makes AUDIT_BOOTSTRAP_ADMIN_KEY an admin key for every tenant (of the principal operator/bootstrap), once, at start, recorded like any
 * other key creation (actor: the operator, via bootstrap). A revoked bootstrap key stays revoked.
 */
@Injectable()
export class BootstrapAdmin implements OnApplicationBootstrap {
  private readonly logger = new Logger(BootstrapAdmin.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: ApiKeyStore,
    private readonly principals: PrincipalStore,
    private readonly principalsBootstrap: PrincipalsBootstrap,
    private readonly sequencer: Sequencer,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const secret = this.config.bootstrapAdminKey;
    if (!secret) return;
    const by = operator('bootstrap');
    // The key belongs to the reserved principal operator/bootstrap, which exists once this is done.
    await this.principalsBootstrap.ready();
    const principal = await this.principals.find(OPERATOR_PRINCIPALS.bootstrap.id);
    // Not made (the ledger refuses appends, PrincipalsBootstrap said why): nor can the key be.
    if (principal === undefined) return;
    // The operator chose this secret: show as little of it as a generated key's prefix shows.
    const events = decideCreate(
      by,
      {
        id: this.ids.next(),
        name: 'bootstrap-admin',
        prefix: secret.slice(0, 4),
        roles: ['admin'],
        tenants: ['*'],
        expiresAt: null,
        principal: OPERATOR_PRINCIPALS.bootstrap.id,
      },
      principal,
      this.clock.now(),
    );
    const key = applyEvents(undefined, events) as ApiKeyState;
    try {
      await this.sequencer.append(
        events.map((event) => keyEventEntry(event, key, by)),
        async (sql) => {
          if (!(await this.keys.insert(sql, key, secret))) throw new AlreadyThere();
        },
      );
      this.logger.log('created the bootstrap admin key from AUDIT_BOOTSTRAP_ADMIN_KEY');
    } catch (e) {
      if (!(e instanceof AlreadyThere)) throw e;
    }
  }
}
