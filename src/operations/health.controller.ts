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
import {
  LEDGER_HEALTH,
  LedgerHealth,
  PROJECTIONS_HEALTH,
  ProjectionsHealth,
  WITNESS_HEALTH,
  WitnessHealth,
  ledgerIndicator,
  projectionsIndicator,
  redisIndicator,
  witnessIndicator,
} from '../platform';
import { UnhealthyFilter } from '../platform';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
    @Inject(PROJECTIONS_HEALTH) private readonly projections: ProjectionsHealth,
    @Inject(LEDGER_HEALTH) private readonly ledger: LedgerHealth,
    @Inject(WITNESS_HEALTH) private readonly witnesses: WitnessHealth,
  ) {}

  @Get()
  @HealthCheck()
  @UseFilters(UnhealthyFilter)
  @RequirePermission('public')
  check(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('postgres', { timeout: 2000 }),
      () => projectionsIndicator(this.indicators, this.projections),
      () => ledgerIndicator(this.indicators, this.ledger),
      () => redisIndicator(this.indicators, this.queue),
      // Only when checkpoints are witnessed (AUDIT_WITNESS_POLICY).
      ...(this.witnesses.witnessed() ? [() => witnessIndicator(this.indicators, this.witnesses)] : []),
    ]);
  }
}
