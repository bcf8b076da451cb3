import { InjectQueue } from '@nestjs/bullmq';
import { Controller, Get, Inject, UseFilters } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Queue } from 'bullmq';
import { RequirePermission } from '../access';
import { MAINTENANCE_QUEUE } from '../platform';
import { PROJECTIONS_HEALTH, ProjectionsHealth, projectionsIndicator } from '../platform';
import { UnhealthyFilter } from '../platform';
import { within } from '../platform';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
    @Inject(PROJECTIONS_HEALTH) private readonly projections: ProjectionsHealth,
  ) {}

  @Get()
  @HealthCheck()
  @UseFilters(UnhealthyFilter)
  @RequirePermission('public')
  check(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('postgres', { timeout: 2000 }),
      () => projectionsIndicator(this.indicators, this.projections),
      async () => {
        const indicator = this.indicators.check('redis');
        try {
          // Any command answered proves Redis is there; this one is cheap and needs no extra client.
          await within(this.queue.getJobCounts('waiting'), 2000);
          return indicator.up();
        } catch {
          return indicator.down({ message: 'unreachable' });
        }
      },
    ]);
  }
}
