import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger';
import { NotificationsModule } from '../notifications';
import { oncePerConfig, type AppConfig } from '../platform';
import { AmendHoldHandler } from './amend-hold.handler';
import { HoldChanges } from './hold-changes';
import { HoldStore } from './hold.store';
import { HoldsReader } from './holds-reader';
import { HoldsController } from './holds.controller';
import { PlaceHoldHandler } from './place-hold.handler';
import { RebuildHoldsHandler } from './rebuild-holds.handler';
import { ReleaseHoldHandler } from './release-hold.handler';

/** Legal holds: placed, amended and released (by enough people) as ledger entries; `holds` is their projection. */
@Module({})
export class HoldsModule {
  static forRoot(config: AppConfig): DynamicModule {
    return oncePerConfig(HoldsModule, config, () => {
      return {
        module: HoldsModule,
        imports: [LedgerModule.forRoot(config), NotificationsModule.forRoot(config)],
        controllers: config.components.has('api') ? [HoldsController] : [],
        providers: [
          HoldStore,
          HoldChanges,
          PlaceHoldHandler,
          AmendHoldHandler,
          ReleaseHoldHandler,
          RebuildHoldsHandler,
          HoldsReader,
        ],
        exports: [HoldsReader],
      };
    });
  }
}
