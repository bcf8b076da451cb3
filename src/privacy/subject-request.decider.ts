import { Principal, coversAllTenants, keyIdOf } from '../access';
import { dueDateOf } from './due-date';
import {
  NotAnErasureError,
  SubjectRequestKindError,
  SubjectRequestTenantOutOfScopeError,
  SubjectRequestFinishedError,
} from './privacy.errors';

/**
 * A data-subject request (docs/privacy.md) as plain functions: its events, its state, `evolve`,
 * and one `decide…` per step, time passed in. Every event is a ledger entry of the service
 * (subject-request.entries.ts); the `subject_requests` table is the state `evolve` leaves.
 */

export const SUBJECT_REQUEST_KINDS = ['access', 'rectification', 'erasure'] as const;
export type SubjectRequestKind = (typeof SUBJECT_REQUEST_KINDS)[number];

/** Every tenant the key may see (a `*` scope), plus the `platform` log's records about the subject. */
export const EVERY_TENANT = '*';

/** The status the request's own events give; an erasure's is completed from its parts (caseStatus). */
export type RecordedStatus = 'received' | 'in_progress' | 'completed';
export type SubjectRequestStatus = RecordedStatus | 'blocked' | 'partially_blocked';

/** Who asked: the key and the name of its principal (never the subject). */
export interface RequestedBy {
  readonly keyId: string | null;
  readonly name: string;
}

export interface EntryRef {
  readonly log: string;
  readonly index: number;
}

/** An erasure's part: the deletion request opened for one tenant. */
export interface ErasurePart {
  readonly tenant: string;
  readonly deletionId: string;
}

export type SubjectRequestEvent =
  | {
      readonly type: 'privacy.request.received';
      readonly id: string;
      readonly kind: SubjectRequestKind;
      readonly subject: string;
      readonly tenants: readonly string[];
      readonly reason: string;
      readonly dueAt: string;
      readonly corrects: EntryRef | null;
      readonly by: RequestedBy;
      readonly at: string;
    }
  | {
      readonly type: 'privacy.erasure.parts_opened';
      readonly id: string;
      readonly parts: readonly ErasurePart[];
      readonly at: string;
    }
  | { readonly type: 'privacy.rectification.corrected'; readonly id: string; readonly log: string; readonly at: string }
  | { readonly type: 'privacy.access.delivered'; readonly id: string; readonly at: string };

export interface SubjectRequestState {
  readonly id: string;
  readonly kind: SubjectRequestKind;
  readonly subject: string;
  readonly tenants: readonly string[];
  readonly reason: string;
  readonly receivedAt: string;
  readonly dueAt: string;
  readonly requestedBy: RequestedBy;
  /** Rectification: the entry corrected. */
  readonly corrects: EntryRef | null;
  /** Rectification: where the correction entry went (its index is known once it is appended). */
  readonly correction: { readonly log: string; readonly index: number | null } | null;
  readonly parts: readonly ErasurePart[];
  readonly status: RecordedStatus;
  readonly completedAt: string | null;
  /** Events folded in: a change is written only over the version it was decided on. */
  readonly version: number;
}

export interface ReceiveSubjectRequest {
  readonly id: string;
  readonly kind: SubjectRequestKind;
  readonly subject: string;
  readonly tenants: readonly string[];
  readonly reason: string;
  readonly corrects?: EntryRef;
}

/** Whether a key may act on a request over `tenants` (`*` only with a `*` scope). */
export function mayReachRequest(by: Principal, tenants: readonly string[]): boolean {
  return coversAllTenants(by, tenants);
}

/** Whether `log` is one a request over `tenants` covers. */
export function requestCovers(tenants: readonly string[], log: string): boolean {
  return tenants.includes(EVERY_TENANT) || tenants.includes(log);
}

export function decideReceive(by: Principal, command: ReceiveSubjectRequest, now: Date): SubjectRequestEvent[] {
  if (!mayReachRequest(by, command.tenants)) throw new SubjectRequestTenantOutOfScopeError(command.tenants);
  if ((command.kind === 'rectification') !== (command.corrects !== undefined))
    throw new SubjectRequestKindError('`corrects` (and `data`) go with a rectification, and only with one');
  if (command.corrects !== undefined && !requestCovers(command.tenants, command.corrects.log))
    throw new SubjectRequestKindError('the corrected entry must be in one of the tenants of the request');
  return [
    {
      type: 'privacy.request.received',
      id: command.id,
      kind: command.kind,
      subject: command.subject,
      tenants: [...command.tenants],
      reason: command.reason,
      dueAt: dueDateOf(now).toISOString(),
      corrects: command.corrects ?? null,
      by: { keyId: keyIdOf(by), name: by.name },
      at: now.toISOString(),
    },
  ];
}

/** An erasure fans out to one deletion request per tenant, once. */
export function decideOpenParts(
  request: SubjectRequestState,
  parts: readonly ErasurePart[],
  now: Date,
): SubjectRequestEvent[] {
  if (request.kind !== 'erasure') throw new NotAnErasureError();
  if (request.parts.length > 0) return [];
  return [{ type: 'privacy.erasure.parts_opened', id: request.id, parts: [...parts], at: now.toISOString() }];
}

/** A rectification is done by one correction entry; a second is refused (ask again). */
export function decideCorrected(request: SubjectRequestState, log: string, now: Date): SubjectRequestEvent[] {
  if (request.kind !== 'rectification') throw new SubjectRequestKindError('only a rectification is corrected');
  if (request.status === 'completed') throw new SubjectRequestFinishedError();
  return [{ type: 'privacy.rectification.corrected', id: request.id, log, at: now.toISOString() }];
}

/** An access request completes when its bundle is first delivered; later deliveries change nothing. */
export function decideDelivered(request: SubjectRequestState, now: Date): SubjectRequestEvent[] {
  if (request.kind !== 'access') throw new SubjectRequestKindError('only an access request has a bundle');
  if (request.status === 'completed') return [];
  return [{ type: 'privacy.access.delivered', id: request.id, at: now.toISOString() }];
}

export function evolve(request: SubjectRequestState | undefined, event: SubjectRequestEvent): SubjectRequestState {
  switch (event.type) {
    case 'privacy.request.received':
      return {
        id: event.id,
        kind: event.kind,
        subject: event.subject,
        tenants: event.tenants,
        reason: event.reason,
        receivedAt: event.at,
        dueAt: event.dueAt,
        requestedBy: event.by,
        corrects: event.corrects,
        correction: null,
        parts: [],
        status: 'received',
        completedAt: null,
        version: 1,
      };
    case 'privacy.erasure.parts_opened': {
      const current = request as SubjectRequestState;
      return { ...current, parts: event.parts, status: 'in_progress', version: current.version + 1 };
    }
    case 'privacy.rectification.corrected': {
      const current = request as SubjectRequestState;
      return {
        ...current,
        correction: { log: event.log, index: null },
        status: 'completed',
        completedAt: event.at,
        version: current.version + 1,
      };
    }
    case 'privacy.access.delivered': {
      const current = request as SubjectRequestState;
      return { ...current, status: 'completed', completedAt: event.at, version: current.version + 1 };
    }
    default: {
      const never: never = event;
      throw new Error(`unknown subject request event ${(never as { type: string }).type}`);
    }
  }
}

export function applySubjectRequestEvents(
  request: SubjectRequestState | undefined,
  events: readonly SubjectRequestEvent[],
): SubjectRequestState | undefined {
  return events.reduce<SubjectRequestState | undefined>(evolve, request);
}

/** Where one deletion request stands, as the deletion context reports it. */
export interface PartProgress {
  readonly tenant: string;
  readonly status: string;
  readonly blockedBy?: readonly unknown[];
}

/**
 * The status of a request: its own for access and rectification; for an erasure, from its parts
 * (read from the deletion context when asked): completed when every part is, blocked when every
 * part is, partially_blocked when any part is blocked in whole or in part, else in progress.
 */
export function caseStatus(request: SubjectRequestState, parts: readonly PartProgress[]): SubjectRequestStatus {
  if (request.kind !== 'erasure' || request.parts.length === 0) return request.status;
  if (parts.length > 0 && parts.every((part) => part.status === 'completed')) return 'completed';
  if (parts.length > 0 && parts.every((part) => part.status === 'blocked')) return 'blocked';
  if (parts.some((part) => part.status === 'blocked' || part.status === 'partially_blocked'))
    return 'partially_blocked';
  return 'in_progress';
}
