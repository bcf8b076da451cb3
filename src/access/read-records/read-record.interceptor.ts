import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PLATFORM_LOG, personalDigest } from '@audit/ledger';
import { randomBytes, randomInt } from 'node:crypto';
import { Observable, catchError, from, mergeMap, throwError } from 'rxjs';
import { EventToAppend, SERVICE_SOURCE } from '../../ledger';
import { Sequencer } from '../../ledger';
import { APP_CONFIG, AppConfig } from '../../platform';
import type { AuthenticatedRequest } from '../auth.guard';
import { Principal, actorOf } from '../roles';
import { RECORD_READ, RecordReadOptions, recordedFilters, shouldRecord } from './read-record.policy';

/**
 * Makes every read of a `@RecordRead` route an entry in the `platform` log, committed before the
 * answer leaves: a read that cannot be recorded is not answered. Failed reads (no such log, bad
 * filters) are recorded too, with the error's code: an attempt on another tenant is worth seeing.
 */
@Injectable()
export class ReadRecordInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly sequencer: Sequencer,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const options = this.reflector.get<RecordReadOptions | undefined>(RECORD_READ, context.getHandler());
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = request.principal;
    // randomInt is uniform over [0, 2^48): a draw in [0, 1) without Math.random.
    if (
      !options ||
      !principal ||
      !shouldRecord(this.config.readRecords, options.route, randomInt(2 ** 48 - 1) / 2 ** 48)
    )
      return next.handle();
    const record = (outcome: 'success' | 'failure', error?: unknown) =>
      this.sequencer.append([this.entry(options, request, principal, outcome, error)]);
    return next.handle().pipe(
      mergeMap(async (answer: unknown) => {
        await record('success');
        return answer;
      }),
      catchError((error: unknown) => from(record('failure', error)).pipe(mergeMap(() => throwError(() => error)))),
    );
  }

  private entry(
    options: RecordReadOptions,
    request: AuthenticatedRequest,
    principal: Principal,
    outcome: 'success' | 'failure',
    error: unknown,
  ): EventToAppend {
    const { log, '*': path, ...params } = (request.params ?? {}) as Record<string, unknown>;
    const query = (request.query ?? {}) as Record<string, unknown>;
    const tenant = typeof log === 'string' ? log : typeof query.tenant === 'string' ? query.tenant : undefined;
    const input = { ...(path !== undefined ? { path } : {}), ...params, ...query };
    const { filters, personal } = recordedFilters(input, options.personal ?? []);
    const share = this.config.readRecords.get(options.route) ?? 1;
    const code = (error as { code?: unknown } | undefined)?.code;
    const entry: EventToAppend = {
      log: PLATFORM_LOG,
      source: SERVICE_SOURCE,
      type: `access.${options.route}`,
      category: 'access',
      actor: actorOf(principal),
      ...(tenant !== undefined ? { target: { type: 'tenant', id: tenant.slice(0, 200) } } : {}),
      outcome,
      context: {
        route: options.route,
        method: request.method,
        filters,
        ...(outcome === 'failure' ? { error: typeof code === 'string' ? code : 'internal' } : {}),
        ...(share < 1 ? { sampled: share } : {}),
      },
    };
    const subject = Object.values(personal)[0];
    if (subject === undefined) return entry;
    const salt = randomBytes(32);
    return { ...entry, personal: { subject, data: personal, salt, digest: personalDigest(salt, personal) } };
  }
}
