import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, Principal, RequirePermission, mayReadLog } from '../access';
import { LogStore, SigningKey } from '../ledger';
import { APP_CONFIG, AppConfig } from '../platform';

/**
 * `GET /v1/witness/policy`: the `log` line to hand to the witnesses of this deployment (one key
 * signs every log, so one line; docs/api.md "Key names"), each current log's origin as a comment
 * under it, and `quorum none` so the text is a complete tlog-policy file a witness can read.
 */
@ApiTags('witness')
@ApiBearerAuth()
@Controller('v1/witness')
export class WitnessPolicyController {
  constructor(
    private readonly logs: LogStore,
    private readonly key: SigningKey,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('policy')
  @RequirePermission('logs:read')
  @ApiOperation({ summary: "The tlog-policy log line of this deployment's logs, for witnesses, text/plain" })
  async policy(
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const logs = (await this.logs.latestCheckpointNotes())
      .map((row) => row.log)
      .filter((log) => mayReadLog(principal, log));
    const origins = logs.map((log) => `# origin ${this.config.logOriginPrefix}/${log}\n`).join('');
    void reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-cache');
    return (
      `# One key signs every log of this deployment: this line covers every origin ${this.config.logOriginPrefix}/<log>.\n` +
      `log ${this.key.verifierKey}\n${origins}quorum none\n`
    );
  }
}
