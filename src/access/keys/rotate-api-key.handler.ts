import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomBytes } from 'node:crypto';
import { Sequencer } from '../../ledger';
import { CLOCK, Clock } from '../../platform';
import { KeyNotActiveError } from '../access.errors';
import { ApiKeyStore } from '../api-key.store';
import { newKeySecret } from '../api-key-secret';
import { ApiKeyState, applyEvents, decideRotate } from './api-key.decider';
import { keyEventEntry } from './api-key.entries';
import { IssuedApiKey } from './create-api-key.command';
import { RotateApiKey } from './rotate-api-key.command';

@CommandHandler(RotateApiKey)
export class RotateApiKeyHandler implements ICommandHandler<RotateApiKey> {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly sequencer: Sequencer,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute({ by, id }: RotateApiKey): Promise<IssuedApiKey> {
    const { secret, prefix } = newKeySecret(randomBytes(32));
    const current = await this.keys.find(id);
    const events = decideRotate(by, current, prefix, this.clock.now());
    const key = applyEvents(current, events) as ApiKeyState;
    await this.sequencer.append(
      events.map((event) => keyEventEntry(event, key, by)),
      async (sql) => {
        // Revoked between the read and this transaction: the decision no longer holds.
        if (!(await this.keys.rotate(sql, id, prefix, secret, key.rotatedAt as string, key.knownTo)))
          throw new KeyNotActiveError('revoked');
      },
    );
    this.keys.changed();
    return {
      id,
      key: secret,
      prefix,
      name: key.name,
      roles: key.roles,
      tenants: key.tenants,
      expiresAt: key.expiresAt,
      principal: key.principal as string,
    };
  }
}
