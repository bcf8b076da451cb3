import { AccessModule } from '../access';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LedgerModule } from '../ledger';
import { NotificationsModule } from '../notifications';
import { contextModule, type AppConfig } from '../platform';
import { AmendHoldHandler } from './amend-hold.handler';
import { HoldChanges } from './hold-changes';
import { HoldJournal } from './hold-journal';
import { HoldPreview } from './hold-preview';
import { HoldRow } from './hold.row';
import { HoldStore } from './hold.store';
import { HoldsReader } from './holds-reader';
import { HoldsController } from './holds.controller';
import { RestoreJournaledHoldsHandler } from './restore-journaled-holds.handler';
import { PlaceHoldHandler } from './place-hold.handler';
import { RebuildHoldsHandler } from './rebuild-holds.handler';
import { PendingReleases, ReleaseHoldHandler } from './release-hold.handler';

/** Legal holds: placed, amended and released (by enough people) as ledger entries; `holds` is their projection. */
@Module({})
export class HoldsModule {
  static forRoot(config: AppConfig): DynamicModule {
    return contextModule(HoldsModule, config, () => ({
      imports: [
        AccessModule.forRoot(config),
        LedgerModule.forRoot(config),
        NotificationsModule.forRoot(config),
        TypeOrmModule.forFeature([HoldRow]),
      ],
      controllers: [HoldsController],
      providers: [
        HoldStore,
        HoldChanges,
        PlaceHoldHandler,
        AmendHoldHandler,
        ReleaseHoldHandler,
        PendingReleases,
        RebuildHoldsHandler,
        RestoreJournaledHoldsHandler,
        HoldJournal,
        HoldsReader,
        HoldPreview,
      ],
      exports: [HoldsReader],
    }));
  }
}
