import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  UseInterceptors,
} from '@nestjs/common';
import type { EntityRef } from '@audit/client';
import { Audited, AuditedRequest } from '@audit/nestjs';
import { AuditRelay, BusinessTransaction, ConsoleConfig, Database, Deletions } from './console.services';

/** A required non-empty string of the request, or a 400 naming the field (never its value). */
function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 200)
    throw new BadRequestException(`${field} must be a non-empty string of at most 200 characters`);
  return value;
}

/** The target of a route that created `type`: the result's `member`; none when the route failed. */
function created(type: string, member = 'id') {
  return (_req: AuditedRequest, result: unknown): EntityRef | undefined => {
    const id = (result as Record<string, unknown> | undefined)?.[member];
    return typeof id === 'string' ? { type, id } : undefined;
  };
}

/** Context from a route's result (none when it failed). */
function fromResult(pick: (result: Record<string, string>) => Record<string, string>) {
  return (_req: AuditedRequest, result: unknown) => (result ? pick(result as Record<string, string>) : {});
}

/**
 * The console's actions. Each audited route runs in one transaction (BusinessTransaction) with
 * its outbox row; `failClosed` makes the answer wait for that row, which here is a local INSERT in
 * the same transaction, never a call to the audit service.
 */
@Controller()
@UseInterceptors(BusinessTransaction)
export class ConsoleController {
  constructor(
    private readonly db: Database,
    private readonly config: ConsoleConfig,
    private readonly relay: AuditRelay,
    private readonly deletions: Deletions,
  ) {}

  @Post('sign-in')
  @Audited({
    type: 'auth.login.succeeded',
    target: created('session', 'sessionId'),
    context: fromResult((r) => ({ sessionId: r.sessionId, method: 'password' })),
    failClosed: true,
  })
  async signIn(@Body() body: { user?: unknown }): Promise<{ sessionId: string }> {
    const user = text(body?.user, 'user');
    const { rows } = await this.db.tx().query('INSERT INTO sessions (user_id) VALUES ($1) RETURNING id', [user]);
    return { sessionId: rows[0].id };
  }

  @Post('api-keys')
  @Audited({
    type: 'api_key.created',
    target: created('api_key'),
    context: fromResult((r) => ({ keyId: r.id })),
    failClosed: true,
  })
  async createApiKey(@Headers('x-user-id') owner: unknown, @Body() body: { name?: unknown }): Promise<{ id: string }> {
    const { rows } = await this.db
      .tx()
      .query('INSERT INTO api_keys (owner, name) VALUES ($1, $2) RETURNING id', [
        text(owner, 'x-user-id'),
        text(body?.name, 'name'),
      ]);
    return { id: rows[0].id };
  }

  @Post('users/:id/roles')
  @Audited({
    type: 'admin.role.granted',
    target: { type: 'user', param: 'id' },
    context: fromResult((r) => ({ userId: r.userId, role: r.role })),
    failClosed: true,
  })
  async grantRole(
    @Param('id') userId: string,
    @Body() body: { role?: unknown },
  ): Promise<{ userId: string; role: string }> {
    const role = text(body?.role, 'role');
    await this.db
      .tx()
      .query('INSERT INTO role_grants (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, role]);
    return { userId, role };
  }

  @Post('deployments')
  @Audited({
    type: 'deployment.created',
    target: created('deployment'),
    context: fromResult((r) => ({ deploymentId: r.id, region: r.region })),
    failClosed: true,
  })
  async deploy(
    @Headers('x-user-id') owner: unknown,
    @Body() body: { region?: unknown },
  ): Promise<{ id: string; region: string }> {
    const region = text(body?.region, 'region');
    const { rows } = await this.db
      .tx()
      .query('INSERT INTO deployments (owner, region) VALUES ($1, $2) RETURNING id', [
        text(owner, 'x-user-id'),
        region,
      ]);
    return { id: rows[0].id, region };
  }

  /** Queues the user's deletion; the worker runs it unless a legal hold covers the user. */
  @Post('users/:id/deletion')
  @HttpCode(202)
  async deleteUser(@Param('id') userId: string): Promise<{ jobId: string }> {
    const job = await this.deletions.queue.add('delete-user', { tenant: this.config.tenant, userId });
    return { jobId: job.id as string };
  }

  @Get('deletions/:jobId')
  async deletion(@Param('jobId') jobId: string): Promise<{ state: string; progress: unknown }> {
    const job = await this.deletions.queue.getJob(jobId);
    if (!job) throw new NotFoundException('no such deletion job');
    return { state: await job.getState(), progress: job.progress };
  }

  /** The outbox, the dead letters, the receipts acknowledged and proven, and the alarms raised. */
  @Get('audit/status')
  status(): Promise<object> {
    return this.relay.status();
  }
}
