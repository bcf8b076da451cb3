import { PLATFORM_LOG } from '@audit/ledger';
import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ServiceEntries, foldBy } from '../../ledger';
import { ApiKeyStore } from '../api-key.store';
import { evolve, keyOfEvent } from './api-key.decider';
import { KEY_CATEGORY, fromKeyEntry } from './api-key.entries';

/**
 * What a rebuild found: keys, their events, and the keys that had no row, whose secret is lost
 * (they come back unable to authenticate until rotated).
 */
export interface RebuiltApiKeys {
  readonly keys: number;
  readonly events: number;
  readonly withoutSecret: string[];
}

/** Rebuild the `api_keys` projection from the ledger, keeping each surviving row's secret hash. */
export class RebuildApiKeys extends Command<RebuiltApiKeys> {}

@CommandHandler(RebuildApiKeys)
export class RebuildApiKeysHandler implements ICommandHandler<RebuildApiKeys> {
  constructor(
    private readonly store: ApiKeyStore,
    private readonly entries: ServiceEntries,
  ) {}

  async execute(): Promise<RebuiltApiKeys> {
    const rebuilt = await this.entries.rebuild(
      ({ manager }) => this.store.lockForRebuild(manager),
      KEY_CATEGORY,
      async (all, { manager }) => {
        // The service records key changes in the `platform` log only; a tenant's log could hold an
        // emitted look-alike (an emitter key may be named like the service).
        const entries = all.filter((entry) => entry.log === PLATFORM_LOG);
        const keys = foldBy(entries.map(fromKeyEntry), keyOfEvent, evolve);
        const withoutSecret = await this.store.replaceAll(manager, [...keys.values()]);
        return { keys: keys.size, events: entries.length, withoutSecret };
      },
    );
    this.store.changed();
    return rebuilt;
  }
}
