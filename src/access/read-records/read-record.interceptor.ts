import { CallHandler, ExecutionContext, Inject, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PLATFORM_LOG, personalDigest } from '@audit/ledger';
import { randomBytes, randomInt } from 'node:crypto';
import { Observable, catchError, from, mergeMap, throwError } from 'rxjs';
import { EventToAppend, SERVICE_SOURCE } from '../../ledger';
import { Sequencer } from '../../ledger';
import { APP_CONFIG, AppConfig, isConnectionFailure, sqlState } from '../../platform';
import { ReadNotRecordedError } from '../access.errors';
import type { AuthenticatedRequest } from '../auth.guard';
import { Principal, actorOf } from '../roles';
import { RECORD_READ, RecordReadOptions, recordedFilters, shouldRecord } from './read-record.policy';

/**
 * Makes every read of a `@RecordRead` route an entry in the `platform` log, committed before the
 * answer leaves: a read that cannot be recorded is not answered. Failed reads (no such log, bad
 * filters) are recorded too, with the error's code: an attempt on another tenant is worth seeing.
 * A record the ledger does not take, for whatever reason (a lost grant, PostgreSQL down, a value
 * refused), refuses the read with 503 `unavailable` (ReadNotRecordedError), never the route's
 * answer and never the sequencer's own error, which would blame the caller's request (422).
 */
@Injectable()
export class ReadRecordInterceptor implements NestInterceptor {
  private readonly logger = new Logger('ReadRecords');

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
    const record = async (outcome: 'success' | 'failure', error?: unknown): Promise<void> => {
      try {
        await this.sequencer.appendReadRecord(this.entry(options, request, principal, outcome, error));
      } catch (failure) {
        throw this.notRecorded(options.route, failure);
      }
    };
    return next.handle().pipe(
      mergeMap(async (answer: unknown) => {
        await record('success');
        return answer;
      }),
      // A read refused because its record failed is not recorded again (that would fail too).
      catchError((error: unknown) =>
        error instanceof ReadNotRecordedError
          ? throwError(() => error)
          : from(record('failure', error)).pipe(mergeMap(() => throwError(() => error))),
      ),
    );
  }

  /**
   * The refusal of a read whose record failed. Logged with the route and the SQLSTATE only (the
   * database's message may quote the record, personal filters included); PostgreSQL being down is
   * not logged here: the dependency tracker says it once (the error filter finds it in `cause`).
   */
  private notRecorded(route: string, failure: unknown): ReadNotRecordedError {
    if (!isConnectionFailure(failure)) {
      const name = failure instanceof Error ? failure.name : typeof failure;
      this.logger.error(
        `a read of ${route} was refused: the ledger did not take its record (${name}, SQLSTATE ${sqlState(failure) ?? 'none'})`,
      );
    }
    return new ReadNotRecordedError(failure);
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
    const { filters, personal } = recordedFilters(input, options.personal ?? [], options.withheld ?? []);
    const share = this.config.readRecords.get(options.route) ?? 1;
    const code = (error as { code?: unknown } | undefined)?.code;
    const entry: EventToAppend = {
      log: PLATFORM_LOG,
      source: SERVICE_SOURCE,
      type: `access.${options.route}`,
      category: 'access',
      actor: actorOf(principal),
      // An empty tenant (a refused `?tenant=`) names no target: a ref with an empty id is no entry.
      ...(tenant ? { target: { type: 'tenant', id: tenant.slice(0, 200) } } : {}),
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
