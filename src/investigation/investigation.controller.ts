import { Controller, Get, Param, Query, Res, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal } from '../access';
import { RequirePermission } from '../access';
import { RecordRead } from '../access';
import { Principal } from '../access';
import { RequestValidationError, type ReadFrom } from '../platform';
import { parseExportQuery, parseSearchQuery } from './event-query';
import { EventExports } from './event-exports';
import { EventReads, EventWithProof, SearchPage } from './event-reads';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Says which server answered (docs/architecture.md "Read replicas"). */
export function readFrom(reply: FastifyReply, from: ReadFrom): void {
  void reply.header('x-audit-read-from', from);
}

/**
 * What investigators read (docs/api.md "Search and exports"): search, one entry with its proof,
 * and verifiable exports. Every call is recorded in the `platform` log; a subject filter names a
 * person, so it is recorded beside the leaf, erasable.
 */
@ApiTags('investigation')
@ApiBearerAuth()
@Controller('v1')
export class InvestigationController {
  constructor(
    private readonly reads: EventReads,
    private readonly exports: EventExports,
  ) {}

  @Get('events')
  @RequirePermission('events:read')
  @RecordRead('events.search', { personal: ['subject'], withheld: ['personalEmail', 'personalIp'] })
  @ApiOperation({
    summary:
      'Search entries (newest first, keyset pages): tenant, type, category, actor, target, subject, source, outcome, from, to, personalEmail, personalIp, limit, cursor',
  })
  async searchEvents(
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SearchPage> {
    const { value, from } = await this.reads.find(principal, parseSearchQuery(query));
    readFrom(reply, from);
    return value;
  }

  @Get('events/:id')
  @RequirePermission('events:read')
  @RecordRead('events.read')
  @ApiOperation({ summary: 'One entry, with its inclusion proof against a signed checkpoint of its log' })
  async readEvent(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<EventWithProof> {
    if (!UUID.test(id))
      throw new RequestValidationError([{ path: '/params/id', message: 'must be an event id (UUID)' }]);
    const { value, from } = await this.reads.read(principal, id.toLowerCase());
    readFrom(reply, from);
    return value;
  }

  @Get('exports')
  @RequirePermission('events:read')
  @RecordRead('exports', { personal: ['subject'], withheld: ['personalEmail', 'personalIp'] })
  @ApiOperation({
    summary: 'Stream a verifiable export of one log (NDJSON, or CSV with format=csv) for the filters of a search',
  })
  async exportEvents(
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StreamableFile> {
    const opened = await this.exports.open(principal, parseExportQuery(query));
    if (opened.readFrom) readFrom(reply, opened.readFrom);
    return new StreamableFile(opened.stream, {
      type: opened.contentType,
      disposition: `attachment; filename="${opened.fileName}"`,
    });
  }
}
