import { Controller, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LOG_NAME_PATTERN } from '@audit/ledger';
import { CurrentPrincipal } from '../access/principal.decorator';
import { RequirePermission } from '../access/permission.decorator';
import { Principal, coversTenant } from '../access/roles';
import { NotFoundError } from '../platform/http/request.errors';
import { CheckpointSigner } from './checkpoint-signer';
import { NoCheckpointError } from './ledger.errors';
import { LogVerification, VerificationReport } from './log-verification';

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
  @ApiOperation({ summary: 'Sign a checkpoint of the current head now (on demand), and return the latest, text/plain' })
  async signNow(@Param('log') log: string, @CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply): Promise<void> {
    if (!LOG_NAME_PATTERN.test(log) || !coversTenant(principal, log)) throw new NotFoundError('no such log');
    const note = await this.signer.signNow(log);
    if (note === null) throw new NoCheckpointError();
    await reply.header('content-type', 'text/plain; charset=utf-8').send(note);
  }

  @Post('verify')
  @HttpCode(200)
  @RequirePermission('logs:verify')
  @ApiOperation({ summary: 'Full verification of a log: leaves, chain, tree, checkpoints, mirror' })
  verify(@Param('log') log: string, @CurrentPrincipal() principal: Principal): Promise<VerificationReport> {
    if (!LOG_NAME_PATTERN.test(log) || !coversTenant(principal, log)) throw new NotFoundError('no such log');
    return this.verification.verify(log);
  }
}
