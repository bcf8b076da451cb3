import { DynamicModule, Module, Type } from '@nestjs/common';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';

/** What operators poll: `/health` (liveness, dependencies, projections) and `/metrics`. Served by every process. */
@Module({})
export class OperationsModule {
  /** `projectionsHealth`: the modules that export the platform's PROJECTIONS_HEALTH port. */
  static forRoot(ports: { projectionsHealth: readonly (Type | DynamicModule)[] }): DynamicModule {
    return {
      module: OperationsModule,
      imports: [...ports.projectionsHealth],
      controllers: [HealthController, MetricsController],
    };
  }
}
