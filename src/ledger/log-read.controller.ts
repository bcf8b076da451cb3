import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal } from '../access/principal.decorator';
import { RequirePermission } from '../access/permission.decorator';
import { readableLog } from '../access/readable-log';
import { Principal } from '../access/roles';
import { RequestValidationError } from '../platform/http/request.errors';
import { SigningKey } from './signing-key';
import { ConsistencyProof, InclusionProof, LogReader } from './log-reader';


function count(value: string | undefined, name: string): number {
  if (value === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new RequestValidationError([{ path: `/query/${name}`, message: 'must be a non-negative integer' }]);
  }
  return Number(value);
}

/** The log read API (DESIGN.md "Read API of a log"): what standard transparency-log clients fetch. */
@ApiTags('logs')
@ApiBearerAuth()
@Controller('v1/logs/:log')
export class LogReadController {
  constructor(
    private readonly reader: LogReader,
    private readonly key: SigningKey,
  ) {}

  @Get('checkpoint')
  @RequirePermission('logs:read')
  @ApiOperation({ summary: 'The latest signed checkpoint (C2SP tlog-checkpoint), text/plain' })
  async checkpoint(@Param('log') log: string, @CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply): Promise<void> {
    const note = await this.reader.latestCheckpoint(readableLog(log, principal));
    await reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-cache').send(note);
  }

  @Get('key')
  @RequirePermission('logs:read')
  @ApiOperation({ summary: 'The verifier key of the checkpoints (Go note format), text/plain' })
  async verifierKey(@Param('log') log: string, @CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply): Promise<void> {
    readableLog(log, principal);
    await reply.header('content-type', 'text/plain; charset=utf-8').send(`${this.key.verifierKey}\n`);
  }

  @Get('proof/inclusion')
  @RequirePermission('logs:read')
  @ApiOperation({ summary: 'RFC 6962 inclusion proof of leaf `index` in the tree of `size` leaves' })
  inclusion(@Param('log') log: string, @Query('index') index: string, @Query('size') size: string, @CurrentPrincipal() principal: Principal): Promise<InclusionProof> {
    return this.reader.inclusionProof(readableLog(log, principal), count(index, 'index'), count(size, 'size'));
  }

  @Get('proof/consistency')
  @RequirePermission('logs:read')
  @ApiOperation({ summary: 'RFC 6962 consistency proof between trees of `from` and `size` leaves' })
  consistency(@Param('log') log: string, @Query('from') from: string, @Query('size') size: string, @CurrentPrincipal() principal: Principal): Promise<ConsistencyProof> {
    return this.reader.consistencyProof(readableLog(log, principal), count(from, 'from'), count(size, 'size'));
  }

  @Get('tile/*')
  @RequirePermission('logs:read')
  @ApiOperation({ summary: 'C2SP tlog-tiles hash tile (tile/<L>/<N>[.p/<W>]) or entry bundle (tile/entries/<N>[.p/<W>])' })
  async tile(@Param('log') log: string, @Param('*') rest: string, @CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply): Promise<void> {
    const tile = await this.reader.tile(readableLog(log, principal), `tile/${rest}`);
    await reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', tile.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(tile.bytes);
  }
}
