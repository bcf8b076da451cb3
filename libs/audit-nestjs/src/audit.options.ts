import type { Acknowledgement, AuditClientOptions, AuditEvent, EntityRef } from '@audit/client';

/** Where recorded events go: an AuditClient, or anything with its `emit`. */
export interface AuditSink {
  emit(event: AuditEvent): Promise<Acknowledgement | unknown>;
}

/** The request as the module reads it (Fastify's and Express's both fit). */
export interface AuditedRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly ip?: string;
  readonly id?: string;
  readonly params?: Record<string, string>;
  readonly [member: string]: unknown;
}

export interface AuditModuleOptions {
  /** Options of the in-memory AuditClient the module makes (lossy: see @audit/client). */
  readonly client?: AuditClientOptions;
  /** Or a sink of your own (a client shared with other code, a test double). One of the two. */
  readonly sink?: AuditSink;
  /** The tenant (log) of a request's events. */
  readonly tenant: (request: AuditedRequest) => string;
  /**
   * The actor from the request's principal. Default: `request.user` or `request.principal` when
   * it has an `id` (`{type: 'user', id}`), else `{type: 'anonymous', id: 'anonymous'}`.
   */
  readonly actor?: (request: AuditedRequest) => EntityRef;
  /** Called when recording failed (the response went on unless the route is fail-closed). Default: a warning log line without the event. */
  readonly onRecordingFailed?: (error: Error, type: string) => void;
}

/** The injection token of the options. */
export const AUDIT_MODULE_OPTIONS = Symbol('AUDIT_MODULE_OPTIONS');

/** The metadata key @Audited sets on a route handler. */
export const AUDITED_METADATA = Symbol('AUDITED_METADATA');
