import {
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  ServiceUnavailableException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AuditEvent, EntityRef, Json, Outcome } from '@audit/client';
import { Observable, catchError, from, mergeMap, of, tap, throwError } from 'rxjs';
import { AUDITED_METADATA, type AuditedRequest } from './audit.options';
import { AuditService } from './audit.service';
import type { AuditedOptions } from './audited.decorator';

function header(request: AuditedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function defaultActor(request: AuditedRequest): EntityRef {
  for (const who of [request.user, request.principal]) {
    const id = (who as { id?: unknown } | undefined)?.id;
    if (typeof id === 'string' && id.length > 0) return { type: 'user', id };
  }
  return { type: 'anonymous', id: 'anonymous' };
}

/**
 * Records what an @Audited route did, after it did it: never delaying or breaking the response
 * (failures go to `onRecordingFailed`), unless the route is fail-closed. The IP address and the
 * user agent are personal data: they travel in `personal.data` with the actor as subject.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const options = this.reflector.get<AuditedOptions | undefined>(AUDITED_METADATA, context.getHandler());
    if (!options || context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<AuditedRequest>();
    const record = (outcome: Outcome, result: unknown, error?: unknown): Promise<unknown> => {
      let event: AuditEvent;
      try {
        event = this.eventFor(options, request, outcome, result, error);
      } catch (e) {
        return Promise.reject(e);
      }
      return this.audit.record(event);
    };
    const quietly = (p: Promise<unknown>) =>
      void p.catch((e: unknown) => this.audit.recordingFailed(e as Error, options.type));
    return next.handle().pipe(
      catchError((error: unknown) => {
        const recording = record('failure', undefined, error);
        if (!options.failClosed) {
          quietly(recording);
          return throwError(() => error);
        }
        return from(recording.catch(() => undefined)).pipe(mergeMap(() => throwError(() => error)));
      }),
      options.failClosed
        ? mergeMap((result) =>
            from(
              record('success', result).catch((e: unknown) => {
                this.audit.recordingFailed(e as Error, options.type);
                throw new ServiceUnavailableException('the action could not be recorded in the audit trail');
              }),
            ).pipe(mergeMap(() => of(result))),
          )
        : tap((result) => quietly(record('success', result))),
    );
  }

  private eventFor(
    options: AuditedOptions,
    request: AuditedRequest,
    outcome: Outcome,
    result: unknown,
    error: unknown,
  ): AuditEvent {
    const moduleOptions = this.audit.options;
    const actor = (moduleOptions.actor ?? defaultActor)(request);
    const target = this.targetOf(options, request, result);
    const requestId = header(request, 'x-request-id') ?? (typeof request.id === 'string' ? request.id : undefined);
    const context: Record<string, Json> = {
      ...(requestId ? { requestId } : {}),
      ...(error !== undefined ? { error: (error as Error)?.constructor?.name ?? 'Error' } : {}),
      ...(options.context ? options.context(request, result) : {}),
    };
    const personalData: Record<string, Json> = {};
    if (request.ip) personalData.ip = request.ip;
    const userAgent = header(request, 'user-agent');
    if (userAgent) personalData.userAgent = userAgent;
    const event = {
      tenant: moduleOptions.tenant(request),
      type: options.type,
      ...(options.category ? { category: options.category } : {}),
      actor,
      ...(target ? { target } : {}),
      outcome,
      ...(Object.keys(context).length > 0 ? { context } : {}),
      ...(Object.keys(personalData).length > 0 && actor.type !== 'anonymous'
        ? { personal: { subject: actor.id, data: personalData } }
        : {}),
    };
    return event as AuditEvent;
  }

  private targetOf(options: AuditedOptions, request: AuditedRequest, result: unknown): EntityRef | undefined {
    const target = options.target;
    if (target === undefined) return undefined;
    if (typeof target === 'function') return target(request, result);
    if ('param' in target) {
      const id = request.params?.[target.param];
      return id ? { type: target.type, id } : undefined;
    }
    return target;
  }
}
