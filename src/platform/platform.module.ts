import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, DiscoveryModule } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CLOCK, SYSTEM_CLOCK } from './clock/clock';
import { IDS, UUIDV7_IDS } from './clock/ids';
import { APP_CONFIG, AppConfig } from './config/app-config';
import { runtimeConnection } from './database/database-bootstrap';
import { DatabasePool } from './database/database-pool';
import { ReadReplica } from './database/read-replica';
import { Dependencies } from './dependencies/dependencies';
import { ErrorFilter } from './http/error.filter';
import { MetricsService } from './metrics/metrics.service';
import { PersonalDataGuard } from './personal-data/personal-data.guard';
import { MAINTENANCE_QUEUE } from './queue/maintenance.queue';
import { redisOptions } from './queue/redis-connection';

/**
 * What every context stands on: configuration, time and ids, PostgreSQL (TypeORM for the state
 * tables, the service's own pg pool for the rest), Redis and BullMQ, CQRS, metrics, dependency
 * health and the one error filter. Global, and it knows no context.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(config: AppConfig): DynamicModule {
    const connection = runtimeConnection(config.databaseUrl, config.runtimeDatabaseUrl);
    return {
      module: PlatformModule,
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: connection.url,
          autoLoadEntities: true,
          // The state tables' repositories and transactions; the append path has the pg pool.
          extra: { max: 16, keepAlive: true, ...connection.extra },
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
        CqrsModule.forRoot(),
        // Not a line per failed /health request (a load balancer polls it): the dependency trackers
        // say once that PostgreSQL or Redis is down, and /health's body names it.
        TerminusModule.forRoot({ logger: false }),
        DiscoveryModule,
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: CLOCK, useValue: SYSTEM_CLOCK },
        { provide: IDS, useValue: UUIDV7_IDS },
        DatabasePool,
        ReadReplica,
        MetricsService,
        PersonalDataGuard,
        Dependencies,
        { provide: APP_FILTER, useClass: ErrorFilter },
      ],
      exports: [
        APP_CONFIG,
        CLOCK,
        IDS,
        DatabasePool,
        ReadReplica,
        MetricsService,
        PersonalDataGuard,
        Dependencies,
        BullModule,
        TypeOrmModule,
        TerminusModule,
        CqrsModule,
        DiscoveryModule,
      ],
    };
  }
}
