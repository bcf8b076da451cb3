import { Principal, coversAllTenants, keyIdOf } from '../access';
import { HoldScope, narrowedDimensions } from './hold-scope';
import { HoldNarrowingError, HoldNotFoundError, HoldReleasedError, HoldTenantOutOfScopeError } from './holds.errors';

/**
 * A legal hold as plain functions: events, state, decide, evolve (docs/domain.md "Legal holds"). No
 * clock, ids or storage inside: the caller passes the time, the id and the current state. Event
 * type strings are permanent record.
 */

/** Who acted: the key id (null for the operator) and its name, as recorded. */
export interface HoldActor {
  readonly keyId: string | null;
  readonly name: string;
}

export type HoldEvent =
  | {
      readonly type: 'hold.placed';
      readonly id: string;
      readonly tenant: string;
      readonly matter: string;
      readonly description: string;
      readonly scope: HoldScope;
      readonly by: HoldActor;
      readonly at: string;
    }
  | {
      readonly type: 'hold.amended';
      readonly id: string;
      readonly scope: HoldScope;
      readonly description: string;
      readonly reason: string;
      readonly by: HoldActor;
      readonly at: string;
    }
  | {
      readonly type: 'hold.release_requested';
      readonly id: string;
      readonly reason: string;
      readonly by: HoldActor;
      readonly at: string;
    }
  | {
      readonly type: 'hold.released';
      readonly id: string;
      readonly reason: string;
      readonly approvers: readonly HoldActor[];
      readonly at: string;
    };

export type HoldEventType = HoldEvent['type'];

/** A release request that still counts (not expired). */
export interface Approval {
  readonly by: HoldActor;
  readonly reason: string;
  readonly at: string;
}

export interface HoldState {
  readonly id: string;
  readonly tenant: string;
  readonly matter: string;
  readonly description: string;
  readonly scope: HoldScope;
  readonly status: 'active' | 'released';
  readonly placedAt: string;
  readonly placedBy: HoldActor;
  readonly releasedAt: string | null;
  /** Release requests since the hold was placed or last amended, oldest first. */
  readonly approvals: readonly Approval[];
  /** Every event of the hold, in order: a released hold stays readable with its history. */
  readonly history: readonly HoldEvent[];
}

export interface PlaceHold {
  readonly id: string;
  readonly tenant: string;
  readonly matter: string;
  readonly description: string;
  readonly scope: HoldScope;
}

export interface ReleaseRules {
  /** Distinct legal keys needed (HOLD_RELEASE_APPROVALS). */
  readonly required: number;
  /** How long a release request counts. */
  readonly approvalTtlMs: number;
}

export function actorOfPrincipal(principal: Principal): HoldActor {
  return { keyId: keyIdOf(principal), name: principal.name };
}

function sameActor(a: HoldActor, b: HoldActor): boolean {
  return a.keyId === b.keyId && a.name === b.name;
}

/** Whether `principal` may see and act on holds of `tenant` (`*` only with a `*` scope). */
export function mayReachHold(principal: Principal, hold: Pick<HoldState, 'tenant'>): boolean {
  return coversAllTenants(principal, [hold.tenant]);
}

export function decidePlace(by: Principal, command: PlaceHold, now: Date): HoldEvent[] {
  if (!mayReachHold(by, command)) throw new HoldTenantOutOfScopeError(command.tenant);
  return [{ type: 'hold.placed', ...command, by: actorOfPrincipal(by), at: now.toISOString() }];
}

function reachable(by: Principal, hold: HoldState | undefined): HoldState {
  if (hold === undefined || !mayReachHold(by, hold)) throw new HoldNotFoundError();
  if (hold.status === 'released') throw new HoldReleasedError();
  return hold;
}

/** A wider scope (or a new description); narrowing is refused: it is a release. */
export function decideAmend(
  by: Principal,
  hold: HoldState | undefined,
  change: { scope: HoldScope; description?: string; reason: string },
  now: Date,
): HoldEvent[] {
  const current = reachable(by, hold);
  const narrowed = narrowedDimensions(current.scope, change.scope);
  if (narrowed.length > 0) throw new HoldNarrowingError(narrowed);
  return [
    {
      type: 'hold.amended',
      id: current.id,
      scope: change.scope,
      description: change.description ?? current.description,
      reason: change.reason,
      by: actorOfPrincipal(by),
      at: now.toISOString(),
    },
  ];
}

/** The approvals that still count at `now`. */
export function liveApprovals(hold: HoldState, rules: ReleaseRules, now: Date): Approval[] {
  return hold.approvals.filter((approval) => Date.parse(approval.at) + rules.approvalTtlMs > now.getTime());
}

/**
 * A request to release. It counts once per key while it lives; when the live requests reach
 * `rules.required` distinct keys, the hold is released in the same decision. The same key asking
 * again changes nothing.
 */
export function decideRelease(
  by: Principal,
  hold: HoldState | undefined,
  reason: string,
  rules: ReleaseRules,
  now: Date,
): HoldEvent[] {
  const current = reachable(by, hold);
  const actor = actorOfPrincipal(by);
  const live = liveApprovals(current, rules, now);
  if (live.some((approval) => sameActor(approval.by, actor))) return [];
  const at = now.toISOString();
  const requested: HoldEvent = { type: 'hold.release_requested', id: current.id, reason, by: actor, at };
  if (live.length + 1 < rules.required) return [requested];
  return [
    requested,
    { type: 'hold.released', id: current.id, reason, approvers: [...live.map((approval) => approval.by), actor], at },
  ];
}

export function evolve(hold: HoldState | undefined, event: HoldEvent): HoldState {
  switch (event.type) {
    case 'hold.placed':
      return {
        id: event.id,
        tenant: event.tenant,
        matter: event.matter,
        description: event.description,
        scope: event.scope,
        status: 'active',
        placedAt: event.at,
        placedBy: event.by,
        releasedAt: null,
        approvals: [],
        history: [event],
      };
    case 'hold.amended': {
      const current = hold as HoldState;
      // A release asked for the narrower hold does not carry over to the wider one.
      return {
        ...current,
        scope: event.scope,
        description: event.description,
        approvals: [],
        history: [...current.history, event],
      };
    }
    case 'hold.release_requested': {
      const current = hold as HoldState;
      return {
        ...current,
        approvals: [...current.approvals, { by: event.by, reason: event.reason, at: event.at }],
        history: [...current.history, event],
      };
    }
    case 'hold.released': {
      const current = hold as HoldState;
      return { ...current, status: 'released', releasedAt: event.at, history: [...current.history, event] };
    }
    default: {
      const never: never = event;
      throw new Error(`unknown hold event ${(never as { type: string }).type}`);
    }
  }
}

/** The state after `events`, starting from `hold` (undefined before it is placed). */
export function applyHoldEvents(hold: HoldState | undefined, events: readonly HoldEvent[]): HoldState | undefined {
  return events.reduce<HoldState | undefined>(evolve, hold);
}
