import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal } from '../access';
import { RequirePermission } from '../access';
import { RecordRead } from '../access';
import { readableLog } from '../access';
import { Principal } from '../access';
import { ReadReplica, RequestValidationError, type ReadTarget } from '../platform';
import { SigningKey } from '../ledger';
import { ConsistencyProof, InclusionProof, LogReader, lacksEntries } from '../ledger';
import { CosignedCheckpoints } from '../witness';

/** The tree size of a signed checkpoint note (its second line). */
function checkpointSize(note: string): number {
  return Number(note.split('\n', 2)[1]);
}

function count(value: string | undefined, name: string): number {
  if (value === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new RequestValidationError([{ path: `/query/${name}`, message: 'must be a non-negative integer' }]);
  }
  return Number(value);
}

/**
 * The log read API (docs/api.md "Log read API"; formats in docs/ledger-format.md): what standard
 * transparency-log clients fetch.
 */
@ApiTags('logs')
@ApiBearerAuth()
@Controller('v1/logs/:log')
export class LogReadController {
  constructor(
    private readonly reader: LogReader,
    private readonly key: SigningKey,
    private readonly cosigned: CosignedCheckpoints,
    private readonly replica: ReadReplica,
  ) {}

  /**
   * Runs a proof or tile read on the read replica when it holds the log up to the size asked, on
   * the primary otherwise, and says which in `x-audit-read-from` (docs/architecture.md "Read replicas").
   */
  private async routed<T>(reply: FastifyReply, read: (on: ReadTarget) => Promise<T>): Promise<T> {
    const { value, from } = await this.replica.orPrimary(read, lacksEntries);
    void reply.header('x-audit-read-from', from);
    return value;
  }

  @Get('checkpoint')
  @RequirePermission('logs:read')
  @RecordRead('logs.checkpoint')
  @ApiOperation({
    summary:
      'The latest signed checkpoint (C2SP tlog-checkpoint) with every witness cosignature so far, text/plain; ?quorum=1: the latest one that met the witness quorum',
  })
  async checkpoint(
    @Param('log') log: string,
    @Query('quorum') quorum: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (quorum !== undefined && quorum !== '1') {
      throw new RequestValidationError([{ path: '/query/quorum', message: 'must be 1 when given' }]);
    }
    const readable = readableLog(log, principal);
    const note = await this.reader.latestCheckpoint(readable, principal.tenants);
    const answer =
      quorum === '1'
        ? await this.cosigned.latestWithQuorum(readable)
        : await this.cosigned.withCosignatures(readable, note, checkpointSize(note));
    void reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-cache');
    if (answer.quorumMet !== null) void reply.header('x-witness-quorum', answer.quorumMet ? 'met' : 'not-met');
    return answer.note;
  }

  @Get('key')
  @RequirePermission('logs:read')
  @RecordRead('logs.key')
  @ApiOperation({ summary: 'The verifier key of the checkpoints (Go note format), text/plain' })
  verifierKey(
    @Param('log') log: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): string {
    readableLog(log, principal);
    void reply.header('content-type', 'text/plain; charset=utf-8');
    return `${this.key.verifierKey}\n`;
  }

  @Get('proof/inclusion')
  @RequirePermission('logs:read')
  @RecordRead('logs.proof.inclusion')
  @ApiOperation({ summary: 'RFC 6962 inclusion proof of leaf `index` in the tree of `size` leaves' })
  inclusion(
    @Param('log') log: string,
    @Query('index') index: string,
    @Query('size') size: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InclusionProof> {
    const readable = readableLog(log, principal);
    const [i, n] = [count(index, 'index'), count(size, 'size')];
    return this.routed(reply, (on) => this.reader.inclusionProof(readable, i, n, principal.tenants, on));
  }

  @Get('proof/consistency')
  @RequirePermission('logs:read')
  @RecordRead('logs.proof.consistency')
  @ApiOperation({ summary: 'RFC 6962 consistency proof between trees of `from` and `size` leaves' })
  consistency(
    @Param('log') log: string,
    @Query('from') from: string,
    @Query('size') size: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConsistencyProof> {
    const readable = readableLog(log, principal);
    const [m, n] = [count(from, 'from'), count(size, 'size')];
    return this.routed(reply, (on) => this.reader.consistencyProof(readable, m, n, principal.tenants, on));
  }

  // Entry bundles carry the events themselves, hash tiles only hashes: two routes, so their
  // reads can be recorded (or sampled) apart.
  @Get('tile/entries/*')
  @RequirePermission('logs:read')
  @RecordRead('logs.entries')
  @ApiOperation({ summary: 'C2SP tlog-tiles entry bundle (tile/entries/<N>[.p/<W>])' })
  entries(
    @Param('log') log: string,
    @Param('*') rest: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    return this.tileBytes(readableLog(log, principal), `tile/entries/${rest}`, principal, reply);
  }

  @Get('tile/*')
  @RequirePermission('logs:read')
  @RecordRead('logs.tile')
  @ApiOperation({ summary: 'C2SP tlog-tiles hash tile (tile/<L>/<N>[.p/<W>])' })
  tile(
    @Param('log') log: string,
    @Param('*') rest: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    return this.tileBytes(readableLog(log, principal), `tile/${rest}`, principal, reply);
  }

  private async tileBytes(log: string, path: string, principal: Principal, reply: FastifyReply): Promise<Buffer> {
    const tile = await this.routed(reply, (on) => this.reader.tile(log, path, principal.tenants, on));
    void reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', tile.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    return tile.bytes;
  }
}
