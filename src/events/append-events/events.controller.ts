import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../access';
import { RequirePermission } from '../../access';
import { Principal } from '../../access';
import { AppendedEntry } from '../../ledger';
import { PersonalDataGuard, RequestValidationError } from '../../platform';
import { BATCH_SCHEMA, EVENT_SCHEMA, prepareBatch, prepareSingleEvent } from '../event-request';
import { AppendEvents } from './append-events.command';

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/events')
export class EventsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly personalData: PersonalDataGuard,
  ) {}

  @Post()
  @HttpCode(201)
  @RequirePermission('events:append')
  @ApiOperation({ summary: 'Append one event; answers after commit' })
  @ApiBody({ schema: EVENT_SCHEMA as object })
  async appendOne(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<AppendedEntry> {
    const [entry] = await this.commands.execute(
      new AppendEvents([prepareSingleEvent(body, principal, idempotencyKey, this.personalData)]),
    );
    return entry;
  }

  @Post('batch')
  @HttpCode(201)
  @RequirePermission('events:append')
  @ApiOperation({ summary: 'Append up to 1,000 events, all or nothing; answers after commit' })
  @ApiBody({ schema: BATCH_SCHEMA as object })
  async appendBatch(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<{ results: AppendedEntry[] }> {
    if (idempotencyKey !== undefined) {
      throw new RequestValidationError([
        { path: '/headers/idempotency-key', message: 'a batch takes an idempotencyKey per event instead' },
      ]);
    }
    const events = await prepareBatch(body, principal, this.personalData);
    return { results: await this.commands.execute(new AppendEvents(events)) };
  }
}
