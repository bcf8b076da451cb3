import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LOG_NAME_PATTERN } from '@audit/ledger';
import { CurrentPrincipal } from '../access/principal.decorator';
import { RequirePermission } from '../access/permission.decorator';
import { Principal, coversTenant } from '../access/roles';
import { NotFoundError } from '../platform/http/request.errors';
import { LogVerification, VerificationReport } from './log-verification';

@ApiTags('logs')
@ApiBearerAuth()
@Controller('v1/logs/:log')
export class LogVerificationController {
  constructor(private readonly verification: LogVerification) {}

  @Post('verify')
  @HttpCode(200)
  @RequirePermission('logs:verify')
  @ApiOperation({ summary: 'Full verification of a log: leaves, chain, tree, checkpoints, mirror' })
  verify(@Param('log') log: string, @CurrentPrincipal() principal: Principal): Promise<VerificationReport> {
    if (!LOG_NAME_PATTERN.test(log) || !coversTenant(principal, log)) throw new NotFoundError('no such log');
    return this.verification.verify(log);
  }
}
