import { DynamicModule, Module, Type } from '@nestjs/common';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';

/** What operators poll: `/health` (liveness, dependencies, projections, ledger) and `/metrics`. Served by every process. */
@Module({})
export class OperationsModule {
  /**
   * `projectionsHealth`, `ledgerHealth`: the modules that export the platform's PROJECTIONS_HEALTH
   * and LEDGER_HEALTH ports.
   */
  static forRoot(ports: {
    projectionsHealth: readonly (Type | DynamicModule)[];
    ledgerHealth: readonly (Type | DynamicModule)[];
  }): DynamicModule {
    return {
      module: OperationsModule,
      imports: [...ports.projectionsHealth, ...ports.ledgerHealth],
      controllers: [HealthController, MetricsController],
    };
  }
}
