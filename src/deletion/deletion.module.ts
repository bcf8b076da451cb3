import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HoldsModule } from '../holds';
import { LedgerModule } from '../ledger';
import { NotificationsModule } from '../notifications';
import { contextModule, type AppConfig } from '../platform';
import { RetentionModule } from '../retention';
import { ClosedTenants } from './closed-tenants';
import { DeletionController } from './deletion.controller';
import { ClosedTenantRow, DeletionRequestRow } from './deletion.entities';
import { DeletionProcessor, DeletionSchedule } from './deletion.processor';
import { DELETION_QUEUE } from './deletion.queue';
import { DeletionParts } from './deletion-parts';
import { DeletionRequestsCoveredHandler } from './deletion-requests-covered.handler';
import { DeletionQueueing, RequeueOnHoldRelease, RequeueOnShorterMinimum } from './deletion-queueing';
import { DeletionStore } from './deletion.store';
import { ErasureRunner } from './erasure-runner';
import { RebuildDeletionRequestsHandler } from './rebuild-deletion-requests.handler';
import { RequestDeletionHandler } from './request-deletion.handler';

/**
 * Deletion work (erasure of a person, closure of a tenant, retention purges) as BullMQ jobs that a
 * hold or a retention minimum blocks, with the reason recorded, and that run again when it lifts.
 */
@Module({})
export class DeletionModule {
  static forRoot(config: AppConfig): DynamicModule {
    return contextModule(DeletionModule, config, () => ({
      imports: [
        BullModule.registerQueue({ name: DELETION_QUEUE }),
        TypeOrmModule.forFeature([DeletionRequestRow, ClosedTenantRow]),
        LedgerModule.forRoot(config),
        HoldsModule.forRoot(config),
        RetentionModule.forRoot(config),
        NotificationsModule.forRoot(config),
      ],
      controllers: [DeletionController],
      providers: [
        DeletionStore,
        ClosedTenants,
        DeletionQueueing,
        RequeueOnHoldRelease,
        RequeueOnShorterMinimum,
        ErasureRunner,
        RequestDeletionHandler,
        RebuildDeletionRequestsHandler,
        DeletionParts,
        DeletionRequestsCoveredHandler,
      ],
      workers: [DeletionProcessor, DeletionSchedule],
      exports: [ClosedTenants, DeletionParts],
    }));
  }
}
