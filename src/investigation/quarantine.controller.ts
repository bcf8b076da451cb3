import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../access';
import { RequirePermission } from '../access';
import { RecordRead } from '../access';
import { readableLog } from '../access';
import { Principal } from '../access';
import { UnknownLogError } from '../ledger';
import { LogStore } from '../ledger';
import { EventSearchStore } from './event-search.store';

/** One quarantined entry as the route answers it: where it is, why, since when; never its values. */
export interface QuarantineItem {
  readonly index: number;
  readonly id: string;
  readonly error: string;
  readonly since: string;
}

/**
 * The entries of a log that the search read model could not project (docs/api.md "Search and
 * exports"): what searches and exports covering them flag as incomplete. Read like the log read
 * API: investigators of the tenant, tenant-scoped in the database, recorded in the platform log.
 */
@ApiTags('investigation')
@ApiBearerAuth()
@Controller('v1/logs/:log')
export class QuarantineController {
  constructor(
    private readonly logs: LogStore,
    private readonly search: EventSearchStore,
  ) {}

  @Get('quarantine')
  @RequirePermission('logs:read')
  @RecordRead('logs.quarantine')
  @ApiOperation({
    summary: 'Entries the search read model could not project: {items: [{index, id, error, since}]}, index order',
  })
  async quarantine(
    @Param('log') log: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<{ items: QuarantineItem[] }> {
    const name = readableLog(log, principal);
    const items = await this.logs.tenantScoped(principal.tenants, async (sql) => {
      if (!(await this.logs.head(name, sql))) throw new UnknownLogError();
      return this.search.quarantineOf(sql, name);
    });
    return { items: items.map(({ index, id, error, since }) => ({ index, id, error, since })) };
  }
}
