import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { Sequencer } from '../../ledger';
import { CLOCK, Clock } from '../../platform';
import { KeyNotActiveError } from '../access.errors';
import { ApiKeyRecord, ApiKeyStore } from '../api-key.store';
import { ApiKeyState, applyEvents, decideRevoke } from './api-key.decider';
import { keyEventEntry } from './api-key.entries';
import { RevokeApiKey } from './revoke-api-key.command';

@CommandHandler(RevokeApiKey)
export class RevokeApiKeyHandler implements ICommandHandler<RevokeApiKey> {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly sequencer: Sequencer,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute({ by, id }: RevokeApiKey): Promise<ApiKeyRecord> {
    const current = await this.keys.find(id);
    const events = decideRevoke(by, current, this.clock.now());
    if (events.length === 0) return current as ApiKeyRecord;
    const key = applyEvents(current, events) as ApiKeyState;
    try {
      await this.sequencer.append(
        events.map((event) => keyEventEntry(event, key, by)),
        async (sql) => {
          // Another revocation committed first: it is the one on record.
          if (!(await this.keys.revoke(sql, id, key.revokedAt as string))) throw new KeyNotActiveError('revoked');
        },
      );
    } catch (e) {
      if (e instanceof KeyNotActiveError) return (await this.keys.find(id)) as ApiKeyRecord;
      throw e;
    }
    this.keys.changed();
    return { ...(current as ApiKeyRecord), revokedAt: key.revokedAt };
  }
}
