import { DynamicModule, Module, ModuleMetadata, Provider } from '@nestjs/common';
import { AUDIT_MODULE_OPTIONS, AuditModuleOptions } from './audit.options';
import { AuditInterceptor } from './audit.interceptor';
import { AuditService } from './audit.service';

export interface AuditModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  readonly useFactory: (...args: never[]) => AuditModuleOptions | Promise<AuditModuleOptions>;
  readonly inject?: unknown[];
}

/** The audit trail in a NestJS app: `AuditService`, and the interceptor behind `@Audited`. Global. */
@Module({})
export class AuditModule {
  static forRoot(options: AuditModuleOptions): DynamicModule {
    return AuditModule.with([{ provide: AUDIT_MODULE_OPTIONS, useValue: options }]);
  }

  static forRootAsync(options: AuditModuleAsyncOptions): DynamicModule {
    return {
      ...AuditModule.with([
        { provide: AUDIT_MODULE_OPTIONS, useFactory: options.useFactory, inject: (options.inject ?? []) as never[] },
      ]),
      imports: options.imports ?? [],
    };
  }

  private static with(providers: Provider[]): DynamicModule {
    return {
      module: AuditModule,
      global: true,
      providers: [...providers, AuditService, AuditInterceptor],
      exports: [AuditService, AuditInterceptor],
    };
  }
}
