import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomBytes } from 'node:crypto';
import { Sequencer } from '../../ledger';
import { CLOCK, Clock, IDS, type Ids } from '../../platform';
import { ApiKeyStore } from '../api-key.store';
import { newKeySecret } from '../api-key-secret';
import { ApiKeyState, applyEvents, decideCreate } from './api-key.decider';
import { keyEventEntry } from './api-key.entries';
import { CreateApiKey, IssuedApiKey } from './create-api-key.command';

@CommandHandler(CreateApiKey)
export class CreateApiKeyHandler implements ICommandHandler<CreateApiKey> {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly sequencer: Sequencer,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async execute({ by, name, roles, tenants, expiresAt }: CreateApiKey): Promise<IssuedApiKey> {
    const id = this.ids.next();
    const { secret, prefix } = newKeySecret(randomBytes(32));
    const events = decideCreate(by, { id, name, prefix, roles, tenants, expiresAt }, this.clock.now());
    const key = applyEvents(undefined, events) as ApiKeyState;
    // The key exists exactly when its creation is in the ledger: one transaction holds both.
    await this.sequencer.append(
      events.map((event) => keyEventEntry(event, key, by)),
      async (sql) => {
        if (!(await this.keys.insert(sql, key, secret))) throw new Error('a generated key secret collided');
      },
    );
    return { id, key: secret, prefix, name, roles: key.roles, tenants: key.tenants, expiresAt: key.expiresAt };
  }
}
