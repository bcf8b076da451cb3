import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequirePermission } from '../access';
import { Witness } from './witness';
import { NotTextBodyError, OldSizeMismatchError } from './witness.errors';

/**
 * C2SP tlog-witness: `POST /v1/witness/add-checkpoint` (docs/api.md "Witness"). Public, as the
 * protocol has no authentication beyond the log's signature on the checkpoint.
 */
@ApiTags('witness')
@Controller('v1/witness')
export class WitnessController {
  constructor(private readonly witness: Witness) {}

  @Post('add-checkpoint')
  @HttpCode(200)
  @RequirePermission('public')
  @ApiOperation({ summary: 'Cosign a checkpoint consistent with the last one cosigned (C2SP tlog-witness)' })
  async addCheckpoint(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    if (!Buffer.isBuffer(body)) throw new NotTextBodyError();
    try {
      const lines = await this.witness.addCheckpoint(body);
      void reply.header('content-type', 'text/plain; charset=utf-8');
      return lines;
    } catch (error) {
      if (!(error instanceof OldSizeMismatchError)) throw error;
      // The protocol's answer: the size the witness holds, as text/x.tlog.size.
      void reply.status(409).header('content-type', 'text/x.tlog.size');
      return `${error.witnessSize}\n`;
    }
  }
}
