import { Controller, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../access';
import { RequirePermission } from '../access';
import { RecordRead } from '../access';
import { readableLog } from '../access';
import { Principal } from '../access';
import { CheckpointSigner } from '../ledger';
import { NoCheckpointError } from '../ledger';
import { LogVerification, VerificationReport } from '../ledger';

@ApiTags('logs')
@ApiBearerAuth()
@Controller('v1/logs/:log')
export class LogVerificationController {
  constructor(
    private readonly verification: LogVerification,
    private readonly signer: CheckpointSigner,
  ) {}

  @Post('checkpoint')
  @HttpCode(200)
  @RequirePermission('logs:verify')
  @RecordRead('logs.sign')
  @ApiOperation({ summary: 'Sign a checkpoint of the current head now (on demand), and return the latest, text/plain' })
  async signNow(
    @Param('log') log: string,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const note = await this.signer.signNow(readableLog(log, principal));
    if (note === null) throw new NoCheckpointError();
    void reply.header('content-type', 'text/plain; charset=utf-8');
    return note;
  }

  @Post('verify')
  @HttpCode(200)
  @RequirePermission('logs:verify')
  @RecordRead('logs.verify')
  @ApiOperation({ summary: 'Full verification of a log: leaves, chain, tree, checkpoints, mirror' })
  verify(@Param('log') log: string, @CurrentPrincipal() principal: Principal): Promise<VerificationReport> {
    return this.verification.verify(readableLog(log, principal), principal.tenants);
  }
}
