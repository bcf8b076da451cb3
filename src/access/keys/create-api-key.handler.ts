import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomBytes } from 'node:crypto';
import { Sequencer, type Sql } from '../../ledger';
import { CLOCK, Clock, IDS, type Ids } from '../../platform';
import { NameTakenError, PrincipalNotActiveError } from '../access.errors';
import { ApiKeyStore } from '../api-key.store';
import { newKeySecret } from '../api-key-secret';
import { PrincipalChanges } from '../principals/principal-changes';
import { PrincipalState, applyPrincipalEvents, decideServiceForKey } from '../principals/principal.decider';
import { PrincipalStore } from '../principals/principal.store';
import { ApiKeyState, CreateKeyRequest, applyEvents, decideCreate } from './api-key.decider';
import { keyEventEntry } from './api-key.entries';
import { CreateApiKey, IssuedApiKey } from './create-api-key.command';

@CommandHandler(CreateApiKey)
export class CreateApiKeyHandler implements ICommandHandler<CreateApiKey> {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly principals: PrincipalStore,
    private readonly principalChanges: PrincipalChanges,
    private readonly sequencer: Sequencer,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async execute({ by, name, roles, tenants, expiresAt, principal }: CreateApiKey): Promise<IssuedApiKey> {
    const now = this.clock.now();
    const { secret, prefix } = newKeySecret(randomBytes(32));
    const request = { id: this.ids.next(), name, prefix, roles, tenants, expiresAt };
    // The key exists exactly when its creation is in the ledger: one transaction holds both.
    const store = async (sql: Sql, key: ApiKeyState) => {
      if (await this.keys.nameTaken(sql, name)) throw new NameTakenError('key', name);
      if (!(await this.keys.insert(sql, key, secret))) throw new Error('a generated key secret collided');
    };
    let key: ApiKeyState;
    if (principal === null) {
      const service = { id: this.ids.next(), name };
      const grants = roles.map((role) => ({ id: this.ids.next(), role, tenants }));
      const principalEvents = decideServiceForKey(by, service, grants, now);
      const state = applyPrincipalEvents(undefined, principalEvents) as PrincipalState;
      const events = decideCreate(by, { ...request, principal: service.id }, state, now);
      key = applyEvents(undefined, events) as ApiKeyState;
      await this.principalChanges.create(by, principalEvents, {
        entries: events.map((event) => keyEventEntry(event, key, by)),
        effect: (sql) => store(sql, key),
      });
    } else {
      const state = await this.principals.find(principal);
      const events = decideCreate(by, { ...request, principal } satisfies CreateKeyRequest, state, now);
      key = applyEvents(undefined, events) as ApiKeyState;
      await this.sequencer.append(
        events.map((event) => keyEventEntry(event, key, by)),
        async (sql) => {
          // Revoked since the decision: its keys would not work anyway, but none is made for it.
          if (!(await this.principals.lockLive(sql, principal))) throw new PrincipalNotActiveError();
          await store(sql, key);
        },
      );
    }
    return {
      id: key.id,
      key: secret,
      prefix,
      name,
      roles: key.roles,
      tenants: key.tenants,
      expiresAt: key.expiresAt,
      principal: key.principal as string,
    };
  }
}
