import { Module } from '@nestjs/common';
import { AuditModule, AuditedRequest } from '@audit/nestjs';
import { ConsoleController } from './console.controller';
import { AuditRelay, BusinessTransaction, ConsoleConfig, Database, Deletions, outboxSink } from './console.services';

/** Provides the configuration and the database to the AuditModule's factory. */
@Module({ providers: [ConsoleConfig, Database], exports: [ConsoleConfig, Database] })
export class DatabaseModule {}

@Module({
  imports: [
    DatabaseModule,
    AuditModule.forRootAsync({
      imports: [DatabaseModule],
      inject: [ConsoleConfig, Database],
      useFactory: (config: ConsoleConfig, db: Database) => ({
        sink: outboxSink(db),
        tenant: () => config.tenant,
        // The console's sign-in stand-in: the user named by the session header, or signing in.
        actor: (request: AuditedRequest) => ({
          type: 'user',
          id: String(request.headers['x-user-id'] ?? (request.body as { user?: string } | undefined)?.user),
        }),
      }),
    }),
  ],
  controllers: [ConsoleController],
  providers: [BusinessTransaction, AuditRelay, Deletions],
})
export class ConsoleModule {}
