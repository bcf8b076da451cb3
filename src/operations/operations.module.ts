import { DynamicModule, Module, Type } from '@nestjs/common';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';

/** What operators poll: `/health` (liveness, dependencies, projections, ledger, witnesses) and `/metrics`. Served by every process. */
@Module({})
export class OperationsModule {
  /**
   * `projectionsHealth`, `ledgerHealth`, `witnessHealth`: the modules that export the platform's
   * PROJECTIONS_HEALTH, LEDGER_HEALTH and WITNESS_HEALTH ports.
   */
  static forRoot(ports: {
    projectionsHealth: readonly (Type | DynamicModule)[];
    ledgerHealth: readonly (Type | DynamicModule)[];
    witnessHealth: readonly (Type | DynamicModule)[];
  }): DynamicModule {
    return {
      module: OperationsModule,
      imports: [...ports.projectionsHealth, ...ports.ledgerHealth, ...ports.witnessHealth],
      controllers: [HealthController, MetricsController],
    };
  }
}
