import { SetMetadata, UseInterceptors, applyDecorators } from '@nestjs/common';
import type { CataloguedType, EntityRef, Json } from '@audit/client';
import { AUDITED_METADATA, type AuditedRequest } from './audit.options';
import { AuditInterceptor } from './audit.interceptor';

/** The target of an audited route: fixed, a route parameter, or computed from the request and the result. */
export type AuditedTarget =
  | EntityRef
  | { readonly type: string; readonly param: string }
  | ((request: AuditedRequest, result: unknown) => EntityRef | undefined);

export interface AuditedOptions {
  /** The event type (a catalogued one, or another with `category`). */
  readonly type: CataloguedType | (string & {});
  readonly category?: string;
  readonly target?: AuditedTarget;
  /** More non-personal context from the request and the result. */
  readonly context?: (request: AuditedRequest, result: unknown) => Record<string, Json>;
  /**
   * Fail closed: the response waits for the acknowledgement, and a failure to record turns a
   * success into 503. Default false: recording never delays or breaks the response.
   */
  readonly failClosed?: boolean;
}

/** Records the route's action: actor, outcome (success, or failure with the error's class), context. */
export function Audited(options: AuditedOptions): MethodDecorator {
  return applyDecorators(SetMetadata(AUDITED_METADATA, options), UseInterceptors(AuditInterceptor));
}
