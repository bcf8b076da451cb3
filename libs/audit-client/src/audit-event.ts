import { CataloguedType, EVENT_TYPES } from './event-types';

/** A JSON value, as the service stores it in `context` and `personal.data`. */
export type Json = null | boolean | number | string | Json[] | { [member: string]: Json };

/** `{type, id}`: who or what, by id; never a name or an email. */
export interface EntityRef {
  readonly type: string;
  readonly id: string;
}

export type Outcome = 'success' | 'failure' | 'unknown';

interface BaseEvent {
  /** The tenant: the log the event goes to. */
  readonly tenant: string;
  readonly actor: EntityRef;
  readonly target?: EntityRef;
  /** `unknown` when absent. */
  readonly outcome?: Outcome;
  /** When it happened, the emitter's time; the time of `emit` when absent. */
  readonly occurredAt?: string | Date;
}

type Spec<T extends CataloguedType> = (typeof EVENT_TYPES)[T];

/** A catalogued event: its context and personal fields are the catalogue's (others may be added to context). */
export type CataloguedEvent<T extends CataloguedType> = BaseEvent & {
  readonly type: T;
  readonly category?: Spec<T>['category'];
  readonly context?: { readonly [K in Spec<T>['context'][number]]?: Json } & { readonly [member: string]: Json };
  readonly personal?: {
    readonly subject: string;
    readonly data: { readonly [K in Spec<T>['personal'][number]]?: Json };
  };
};

/** An event of a type outside the catalogue: it must name its (declared) category. */
export type CustomEvent = BaseEvent & {
  readonly type: string;
  readonly category: string;
  readonly context?: { readonly [member: string]: Json };
  readonly personal?: { readonly subject: string; readonly data: { readonly [member: string]: Json } };
};

/** What `emit` takes. */
export type AuditEvent = { [T in CataloguedType]: CataloguedEvent<T> }[CataloguedType] | CustomEvent;

/** The event as it travels (and as the outbox stores it): `occurredAt` fixed, RFC 3339 UTC with milliseconds. */
export interface WireEvent {
  readonly tenant: string;
  readonly type: string;
  readonly category?: string;
  readonly actor: EntityRef;
  readonly target?: EntityRef;
  readonly outcome?: Outcome;
  readonly occurredAt: string;
  readonly context?: { readonly [member: string]: Json };
  readonly personal?: { readonly subject: string; readonly data: { readonly [member: string]: Json } };
}

/** The category the service will record for `type` (the catalogue's), or the one the event names. */
export function categoryOf(event: Pick<WireEvent, 'type' | 'category'>): string | undefined {
  const known = (EVENT_TYPES as Record<string, { category: string } | undefined>)[event.type];
  return known?.category ?? event.category;
}

/**
 * The event as sent: `occurredAt` set (now when absent) and written as the service writes it, so
 * the leaf's `occurredAt` can be compared byte for byte. A time that is not a real time throws.
 */
export function toWire(event: AuditEvent, now: () => Date = () => new Date()): WireEvent {
  const at = event.occurredAt === undefined ? now() : new Date(event.occurredAt);
  if (Number.isNaN(at.getTime())) throw new RangeError('occurredAt is not a valid time');
  const { occurredAt: _occurredAt, ...rest } = event;
  return { ...(rest as Omit<WireEvent, 'occurredAt'>), occurredAt: at.toISOString() };
}
