import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LedgerModule } from '../ledger';
import { contextModule, type AppConfig } from '../platform';
import { ApiKeyRow } from './api-key.row';
import { ApiKeyStore } from './api-key.store';
import { ApproverStanding } from './approver-standing';
import { AuthGuard } from './auth.guard';
import { ConsoleSessions } from './console-sessions';
import { BootstrapAdmin } from './keys/bootstrap-admin';
import { CreateApiKeyHandler } from './keys/create-api-key.handler';
import { KeysController } from './keys/keys.controller';
import { RebuildApiKeysHandler } from './keys/rebuild-api-keys.handler';
import { RevokeApiKeyHandler } from './keys/revoke-api-key.handler';
import { RotateApiKeyHandler } from './keys/rotate-api-key.handler';
import {
  ApproveGrantHandler,
  CreateFirstLegalPersonHandler,
  CreatePrincipalHandler,
  GrantRoleHandler,
  RevokeGrantHandler,
  RevokePrincipalHandler,
} from './principals/principal.commands';
import { PrincipalChanges } from './principals/principal-changes';
import { PrincipalStore } from './principals/principal.store';
import { PrincipalsBootstrap } from './principals/principals-bootstrap';
import { PrincipalsController } from './principals/principals.controller';
import { RebuildPrincipalsHandler } from './principals/rebuild-principals.handler';
import { RateLimiter } from './rate-limiter';
import { ReadRecordInterceptor } from './read-records/read-record.interceptor';
import { RoutePermissionsCheck } from './route-permissions.check';

/**
 * Access: API keys and what they may do. Its guard runs before every route of every context; the
 * decorators its index exports (`RequirePermission`, `CurrentPrincipal`, `RecordRead`) are how a
 * route says what it needs.
 */
@Module({})
export class AccessModule {
  static forRoot(config: AppConfig): DynamicModule {
    return contextModule(AccessModule, config, () => ({
      imports: [LedgerModule.forRoot(config), TypeOrmModule.forFeature([ApiKeyRow])],
      controllers: [KeysController, PrincipalsController],
      providers: [
        ApiKeyStore,
        ApproverStanding,
        ConsoleSessions,
        PrincipalStore,
        PrincipalChanges,
        PrincipalsBootstrap,
        CreatePrincipalHandler,
        GrantRoleHandler,
        ApproveGrantHandler,
        RevokeGrantHandler,
        RevokePrincipalHandler,
        CreateFirstLegalPersonHandler,
        RebuildPrincipalsHandler,
        RateLimiter,
        RoutePermissionsCheck,
        BootstrapAdmin,
        CreateApiKeyHandler,
        RotateApiKeyHandler,
        RevokeApiKeyHandler,
        RebuildApiKeysHandler,
        ReadRecordInterceptor,
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
      exports: [ReadRecordInterceptor, ApproverStanding, ConsoleSessions],
    }));
  }
}
