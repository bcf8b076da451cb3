import { Principal, coversAllTenants, keyIdOf } from '../access';
import { HoldScope, narrowedDimensions } from './hold-scope';
import {
  ApprovalNotIndependentError,
  HoldNarrowingError,
  HoldNotFoundError,
  HoldReleasedError,
  HoldTenantOutOfScopeError,
  ReleaseNeedsPersonError,
} from './holds.errors';

/**
 * A legal hold as plain functions: events, state, decide, evolve (docs/domain.md "Legal holds"). No
 * clock, ids or storage inside: the caller passes the time, the id and the current state. Event
 * type strings are permanent record.
 */

/**
 * Who acted: the key id (null for the operator) and the principal's name, as recorded; from
 * principals on, also the principal's id and every person who has seen the key's secret (entries
 * older than principals lack both, and name the key).
 */
export interface HoldActor {
  readonly keyId: string | null;
  readonly name: string;
  readonly principal?: string;
  readonly persons?: readonly string[];
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
  /** Distinct legal persons needed (HOLD_RELEASE_APPROVALS, at least 2). */
  readonly required: number;
  /** How long a release request counts. */
  readonly approvalTtlMs: number;
}

export function actorOfPrincipal(principal: Principal): HoldActor {
  return {
    keyId: keyIdOf(principal),
    name: principal.name,
    principal: principal.principalId,
    persons: [...new Set([principal.principalId, ...principal.knownTo])],
  };
}

/**
 * How each key that asked to release acts now (`ApproverStanding`): a request counts only while
 * its key still works, for the same principal, and that principal is a person still holding
 * `legal` over the hold's tenant. A key missing here counts as gone.
 */
export type Standing = ReadonlyMap<string, Principal | null>;

function standingOf(actor: HoldActor, standing: Standing): Principal | null {
  return actor.keyId === null ? null : (standing.get(actor.keyId) ?? null);
}

function stillCounts(approval: Approval, hold: HoldState, standing: Standing): boolean {
  const now = standingOf(approval.by, standing);
  return (
    now !== null &&
    now.kind === 'person' &&
    (approval.by.principal === undefined || approval.by.principal === now.principalId) &&
    now.roles.includes('legal') &&
    coversAllTenants(now, [hold.tenant])
  );
}

/** Everyone behind a request: as recorded, or for requests older than principals, as the key stands now. */
function personsOf(actor: HoldActor, standing: Standing): readonly string[] {
  if (actor.persons !== undefined) return actor.persons;
  const now = standingOf(actor, standing);
  return now === null ? [] : [now.principalId, ...now.knownTo];
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
 * A request to release, by a legal person. It counts while its key, its principal and their legal
 * grant last (`standing`) and while it lives (`rules.approvalTtlMs`); when the counting requests
 * reach `rules.required` distinct persons, the hold is released in the same decision. Persons are
 * distinct when no one stands behind two of the requests: not the same principal, and no one who
 * has seen the secret of the key behind the other (ApprovalNotIndependentError). The same person
 * asking again changes nothing.
 */
export function decideRelease(
  by: Principal,
  hold: HoldState | undefined,
  reason: string,
  rules: ReleaseRules,
  now: Date,
  standing: Standing,
): HoldEvent[] {
  const current = reachable(by, hold);
  if (by.kind !== 'person') throw new ReleaseNeedsPersonError();
  const actor = actorOfPrincipal(by);
  const counting = countingApprovals(current, rules, now, standing);
  if (counting.some((approval) => standingOf(approval.by, standing)?.principalId === by.principalId)) return [];
  const mine = actor.persons ?? [];
  if (counting.some((approval) => personsOf(approval.by, standing).some((person) => mine.includes(person))))
    throw new ApprovalNotIndependentError();
  const at = now.toISOString();
  const requested: HoldEvent = { type: 'hold.release_requested', id: current.id, reason, by: actor, at };
  if (counting.length + 1 < rules.required) return [requested];
  return [
    requested,
    {
      type: 'hold.released',
      id: current.id,
      reason,
      approvers: [...counting.map((approval) => approval.by), actor],
      at,
    },
  ];
}

/**
 * A release under way, as `GET /v1/holds/{id}` shows it: the requests that count now (each with
 * when it stops counting), how many more distinct legal persons must ask, and when the earliest
 * counting request expires (the count drops then unless the release completed).
 */
export interface PendingRelease {
  readonly required: number;
  readonly missing: number;
  readonly approvals: readonly (Approval & { readonly expiresAt: string })[];
  readonly expiresAt: string | null;
}

/** The release rule's state of an active hold at `now`, counted exactly as `decideRelease` counts. */
export function pendingRelease(hold: HoldState, rules: ReleaseRules, now: Date, standing: Standing): PendingRelease {
  const approvals = countingApprovals(hold, rules, now, standing).map((approval) => ({
    ...approval,
    expiresAt: new Date(Date.parse(approval.at) + rules.approvalTtlMs).toISOString(),
  }));
  return {
    required: rules.required,
    missing: Math.max(0, rules.required - approvals.length),
    approvals,
    expiresAt: approvals.length === 0 ? null : approvals.map((a) => a.expiresAt).sort()[0],
  };
}

/** The keys whose standing `decideRelease` needs: every requester's of the hold, and the asker's. */
export function keysToStand(hold: HoldState | undefined, by: Principal): string[] {
  const keys = (hold?.approvals ?? []).map((approval) => approval.by.keyId);
  return [...new Set([...keys, keyIdOf(by)].filter((key): key is string => key !== null))];
}

/** The requests that count at `now`, as `decideRelease` counts them. */
export function countingApprovals(hold: HoldState, rules: ReleaseRules, now: Date, standing: Standing): Approval[] {
  return liveApprovals(hold, rules, now).filter((approval) => stillCounts(approval, hold, standing));
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
