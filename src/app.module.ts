import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Global, Module, Provider, Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyStore } from './access/api-key.store';
import { AuthGuard } from './access/auth.guard';
import { ReadRecordInterceptor } from './access/read-records/read-record.interceptor';
import { RoutePermissionsCheck } from './access/route-permissions.check';
import { RateLimiter } from './access/rate-limiter';
import { BootstrapAdmin } from './access/keys/bootstrap-admin';
import { CreateApiKeyHandler } from './access/keys/create-api-key.handler';
import { KeysController } from './access/keys/keys.controller';
import { RevokeApiKeyHandler } from './access/keys/revoke-api-key.handler';
import { RotateApiKeyHandler } from './access/keys/rotate-api-key.handler';
import { ClosedTenants } from './deletion/closed-tenants';
import { DeletionController } from './deletion/deletion.controller';
import { DeletionProcessor, DeletionSchedule } from './deletion/deletion.processor';
import { DELETION_QUEUE } from './deletion/deletion.queue';
import { DeletionQueueing, RequeueOnHoldRelease, RequeueOnShorterMinimum } from './deletion/deletion-queueing';
import { DeletionStore } from './deletion/deletion.store';
import { ErasureRunner } from './deletion/erasure-runner';
import { RequestDeletionHandler } from './deletion/request-deletion.handler';
import { AmendHoldHandler } from './holds/amend-hold.handler';
import { HoldChanges } from './holds/hold-changes';
import { HoldStore } from './holds/hold.store';
import { HoldsController } from './holds/holds.controller';
import { PlaceHoldHandler } from './holds/place-hold.handler';
import { RebuildHoldsHandler } from './holds/rebuild-holds.handler';
import { ReleaseHoldHandler } from './holds/release-hold.handler';
import { ChangeRetentionPolicyHandler } from './retention/change-retention-policy.handler';
import { RetentionPolicies } from './retention/retention-policies';
import { RetentionPoliciesController } from './retention/retention-policies.controller';
import { EventExports } from './investigation/event-exports';
import { EventReads } from './investigation/event-reads';
import { EventSearchStore } from './investigation/event-search.store';
import { SearchProjector } from './investigation/search-projector';
import { InvestigationController } from './investigation/investigation.controller';
import { QuarantineController } from './investigation/quarantine.controller';
import { RebuildEventSearchHandler } from './investigation/rebuild-event-search.handler';
import { AppendEventsHandler } from './events/append-events/append-events.handler';
import { EventsController } from './events/append-events/events.controller';
import { CheckpointMirror } from './ledger/checkpoint-mirror';
import { CheckpointSigner } from './ledger/checkpoint-signer';
import { LogReadController } from './ledger/log-read.controller';
import { LogReader } from './ledger/log-reader';
import { LogStore } from './ledger/log-store';
import { LogVerification } from './ledger/log-verification';
import { LogVerificationController } from './ledger/log-verification.controller';
import { MaintenanceProcessor, MaintenanceSchedule } from './ledger/maintenance.processor';
import { MirrorCheck } from './ledger/mirror-check';
import { Sequencer } from './ledger/sequencer';
import { SigningKey } from './ledger/signing-key';
import { NOTIFICATIONS_QUEUE } from './notifications/notifications.queue';
import { Notifier } from './notifications/notifier';
import { WebhookDeliveryProcessor } from './notifications/webhook-delivery.processor';
import { CLOCK, SYSTEM_CLOCK } from './platform/clock/clock';
import { APP_CONFIG, AppConfig } from './platform/config/app-config';
import { runtimeConnection } from './platform/database/database-bootstrap';
import { Dependencies } from './platform/dependencies/dependencies';
import { HealthController } from './platform/health/health.controller';
import { PROJECTIONS_HEALTH } from './platform/health/projections-health';
import { ErrorFilter } from './platform/http/error.filter';
import { MetricsController } from './platform/metrics/metrics.controller';
import { MetricsService } from './platform/metrics/metrics.service';
import { MAINTENANCE_QUEUE } from './platform/queue/maintenance.queue';
import { redisOptions } from './platform/queue/redis-connection';

@Global()
@Module({})
class PlatformModule {
  static forRoot(config: AppConfig): DynamicModule {
    const connection = runtimeConnection(config.databaseUrl, config.runtimeDatabaseUrl);
    return {
      module: PlatformModule,
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: connection.url,
          // Enough connections for parallel per-log commits and reads on a 2-core machine.
          extra: { max: 24, keepAlive: true, ...connection.extra },
          // A connection that cannot be had (PostgreSQL unreachable, or a pool exhausted for this
          // long) fails the request with 503 instead of holding it indefinitely.
          connectTimeoutMS: 5_000,
          // An idle connection that dies (PostgreSQL restarted or unreachable) is dropped by the
          // pool and replaced on demand; the outage is told by the postgres tracker, not per socket.
          poolErrorHandler: () => undefined,
          logging: false,
        }),
        BullModule.forRoot({ connection: redisOptions(config.redisUrl), prefix: config.queuePrefix }),
        BullModule.registerQueue({ name: MAINTENANCE_QUEUE }),
        BullModule.registerQueue({ name: NOTIFICATIONS_QUEUE }),
        BullModule.registerQueue({ name: DELETION_QUEUE }),
        CqrsModule.forRoot(),
        // Not a line per failed /health request (a load balancer polls it): the dependency trackers
        // say once that PostgreSQL or Redis is down, and /health's body names it.
        TerminusModule.forRoot({ logger: false }),
        DiscoveryModule,
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: CLOCK, useValue: SYSTEM_CLOCK },
        MetricsService,
        Dependencies,
      ],
      exports: [APP_CONFIG, CLOCK, MetricsService, Dependencies, BullModule, TypeOrmModule, TerminusModule, CqrsModule],
    };
  }
}

/**
 * The whole service. `config.components` decides what this process runs: the HTTP API, the
 * checkpoint signer (its timer), the BullMQ workers; the sequencer is always there for the API.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    const api = config.components.has('api');
    const worker = config.components.has('worker');
    const controllers: Type[] = api
      ? [
          HealthController,
          MetricsController,
          EventsController,
          KeysController,
          HoldsController,
          RetentionPoliciesController,
          DeletionController,
          InvestigationController,
          QuarantineController,
          LogReadController,
          LogVerificationController,
        ]
      : [HealthController, MetricsController];
    const providers: Provider[] = [
      LogStore,
      Sequencer,
      SigningKey,
      CheckpointMirror,
      CheckpointSigner,
      MirrorCheck,
      LogReader,
      LogVerification,
      ApiKeyStore,
      RoutePermissionsCheck,
      RateLimiter,
      BootstrapAdmin,
      AppendEventsHandler,
      CreateApiKeyHandler,
      RotateApiKeyHandler,
      RevokeApiKeyHandler,
      HoldStore,
      HoldChanges,
      PlaceHoldHandler,
      AmendHoldHandler,
      ReleaseHoldHandler,
      RebuildHoldsHandler,
      RetentionPolicies,
      ChangeRetentionPolicyHandler,
      DeletionStore,
      ClosedTenants,
      DeletionQueueing,
      RequeueOnHoldRelease,
      RequeueOnShorterMinimum,
      ErasureRunner,
      RequestDeletionHandler,
      EventSearchStore,
      SearchProjector,
      { provide: PROJECTIONS_HEALTH, useExisting: SearchProjector },
      EventReads,
      EventExports,
      RebuildEventSearchHandler,
      ...(worker ? [MaintenanceProcessor, MaintenanceSchedule, DeletionProcessor, DeletionSchedule] : []),
      Notifier,
      // Only a worker that knows the webhook delivers; jobs wait for one otherwise.
      ...(worker && config.webhook !== null ? [WebhookDeliveryProcessor] : []),
      { provide: APP_GUARD, useClass: AuthGuard },
      ReadRecordInterceptor,
      { provide: APP_FILTER, useClass: ErrorFilter },
    ];
    return { module: AppModule, imports: [PlatformModule.forRoot(config), DiscoveryModule], controllers, providers };
  }
}
