import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { formatTlogProof } from '@audit/ledger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, Principal, RecordRead, RequirePermission } from '../access';
import { LogReader } from '../ledger';
import { RequestValidationError } from '../platform';
import { CosignedCheckpoints, NoQuorumCheckpointError, type CosignedCheckpoint } from '../witness';
import { EventReads } from './event-reads';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `GET /v1/events/{id}/proof`: a receipt for one entry, a C2SP tlog-proof (docs/api.md "Receipts"):
 * its index, its inclusion proof and the checkpoint with its witness cosignatures. The checkpoint
 * is the latest one that met the witness policy's quorum when that covers the entry, else the
 * latest one with the cosignatures it has so far (`X-Witness-Quorum` says which).
 */
@ApiTags('investigation')
@ApiBearerAuth()
@Controller('v1')
export class EventProofController {
  constructor(
    private readonly reads: EventReads,
    private readonly reader: LogReader,
    private readonly cosigned: CosignedCheckpoints,
  ) {}

  @Get('events/:id/proof')
  @RequirePermission('events:read')
  @RecordRead('events.read')
  @ApiOperation({ summary: 'A receipt for one entry: C2SP tlog-proof with the cosigned checkpoint, text/plain' })
  async proof(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (!UUID.test(id))
      throw new RequestValidationError([{ path: '/params/id', message: 'must be an event id (UUID)' }]);
    const event = await this.reads.read(principal, id.toLowerCase());
    const log = event.log as string;
    const index = event.index as number;
    let checkpoint: CosignedCheckpoint | undefined;
    let proof = event.inclusion.proof;
    try {
      const quorum = await this.cosigned.latestWithQuorum(log);
      if (quorum.size > index) {
        checkpoint = quorum;
        proof = (await this.reader.inclusionProof(log, index, quorum.size, principal.tenants)).proof;
      }
    } catch (error) {
      if (!(error instanceof NoQuorumCheckpointError)) throw error;
    }
    checkpoint ??= await this.cosigned.withCosignatures(log, event.inclusion.checkpoint, event.inclusion.size);
    void reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-cache');
    if (checkpoint.quorumMet !== null) void reply.header('x-witness-quorum', checkpoint.quorumMet ? 'met' : 'not-met');
    return formatTlogProof({
      index,
      proof: proof.map((hash) => Buffer.from(hash, 'base64')),
      checkpoint: checkpoint.note,
    });
  }
}
