import { Controller, Get, Header, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../access';
import { RequirePermission } from '../access';
import { RecordRead } from '../access';
import { Principal } from '../access';
import { LogStream, STREAM_LIMITS, parseStreamQuery, streamNdjson } from './log-stream';

/**
 * `GET /v1/logs/{log}/stream`: the pull stream for tools that fetch rather than receive
 * (docs/api.md "Pull stream"). Investigators of the tenant; every pull is recorded in the
 * `platform` log like a search, and is not answered when the record fails.
 */
@ApiTags('investigation')
@ApiBearerAuth()
@Controller('v1/logs/:log')
export class LogStreamController {
  constructor(private readonly stream: LogStream) {}

  @Get('stream')
  @RequirePermission('events:read')
  @RecordRead('logs.stream')
  @Header('content-type', 'application/x-ndjson; charset=utf-8')
  @ApiProduces('application/x-ndjson')
  @ApiQuery({ name: 'from', required: false, description: 'first index wanted (default 0)', type: Number })
  @ApiQuery({
    name: 'limit',
    required: false,
    description: `entries at most, 1 to ${STREAM_LIMITS.maxLimit} (default ${STREAM_LIMITS.defaultLimit})`,
    type: Number,
  })
  @ApiOperation({
    summary:
      'Entries of one log in index order from `from`, under its latest signed checkpoint, as NDJSON: first line {log, from, next, checkpoint}, then one entry a line',
  })
  async pull(
    @Param('log') log: string,
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() principal: Principal,
  ): Promise<string> {
    return streamNdjson(await this.stream.pull(principal, log, parseStreamQuery(query)));
  }
}
