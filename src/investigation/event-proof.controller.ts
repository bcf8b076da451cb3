import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { formatTlogProof } from '@audit/ledger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, Principal, RecordRead, RequirePermission } from '../access';
import { LogReader, lacksEntries } from '../ledger';
import { ReadReplica, RequestValidationError, type ReadFrom } from '../platform';
import { CosignedCheckpoints, NoQuorumCheckpointError, type CosignedCheckpoint } from '../witness';
import { EventReads } from './event-reads';
import { readFrom } from './investigation.controller';

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
    private readonly replica: ReadReplica,
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
    const read = await this.reads.read(principal, id.toLowerCase());
    const event = read.value;
    // The primary when any part of the answer was read there.
    let from: ReadFrom = read.from;
    const log = event.log as string;
    const index = event.index as number;
    let checkpoint: CosignedCheckpoint | undefined;
    let proof = event.inclusion.proof;
    try {
      const quorum = await this.cosigned.latestWithQuorum(log);
      if (quorum.size > index) {
        checkpoint = quorum;
        const proven = await this.replica.orPrimary(
          (on) => this.reader.inclusionProof(log, index, quorum.size, principal.tenants, on),
          lacksEntries,
        );
        proof = proven.value.proof;
        if (proven.from === 'primary') from = 'primary';
      }
    } catch (error) {
      if (!(error instanceof NoQuorumCheckpointError)) throw error;
    }
    checkpoint ??= await this.cosigned.withCosignatures(log, event.inclusion.checkpoint, event.inclusion.size);
    void reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-cache');
    readFrom(reply, from);
    if (checkpoint.quorumMet !== null) void reply.header('x-witness-quorum', checkpoint.quorumMet ? 'met' : 'not-met');
    return formatTlogProof({
      index,
      proof: proof.map((hash) => Buffer.from(hash, 'base64')),
      checkpoint: checkpoint.note,
    });
  }
}
