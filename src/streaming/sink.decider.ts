import { Principal, coversAllTenants } from '../access';
import { NewSink, SinkChange, SinkKind, SinkStart } from './sink-request';
import {
  SinkNotApprovableError,
  SinkNotFoundError,
  SinkReplayForwardError,
  SinkScopeError,
  SinkApprovalNotIndependentError,
} from './streaming.errors';

/**
 * Pure rules of sinks (docs/api.md "Sinks"): who may create, see, change, approve and replay one,
 * and what each change records. No I/O: the store and the ledger entry are the caller's.
 */

/** `pending`: carries personal data and waits for a legal person; `error`: stopped after failures. */
export type SinkStatus = 'pending' | 'active' | 'error';

export interface SinkState {
  readonly id: string;
  readonly name: string;
  readonly kind: SinkKind;
  readonly url: string;
  readonly tenants: readonly string[];
  readonly categories: readonly string[] | null;
  readonly types: readonly string[] | null;
  readonly from: SinkStart;
  readonly personalData: boolean;
  readonly status: SinkStatus;
  readonly secretSet: boolean;
  /** Principal id of the admin who created it, and the principals who had seen that key's secret. */
  readonly createdBy: string;
  readonly createdByKnownTo: readonly string[];
  readonly approvedBy: string | null;
  readonly version: number;
}

/** Whether `by` may see and manage `sink`: every tenant of it inside the key's scope. */
export function mayManageSink(by: Principal, sink: Pick<SinkState, 'tenants'>): boolean {
  return coversAllTenants(by, sink.tenants);
}

/** The state of a new sink: `pending` when it carries personal data, else `active`. */
export function decideCreate(by: Principal, id: string, sink: NewSink): SinkState {
  if (!coversAllTenants(by, sink.tenants))
    throw new SinkScopeError("a sink may only cover tenants inside this key's own scope");
  return {
    id,
    name: sink.name,
    kind: sink.kind,
    url: sink.url,
    tenants: sink.tenants,
    categories: sink.categories,
    types: sink.types,
    from: sink.from,
    personalData: sink.personalData,
    status: sink.personalData ? 'pending' : 'active',
    secretSet: sink.secret !== null,
    createdBy: by.principalId,
    createdByKnownTo: by.knownTo,
    approvedBy: null,
    version: 1,
  };
}

// Changes after which an approval no longer says what leaves: personal data goes elsewhere, or more of it.
const APPROVAL_BOUND: readonly (keyof SinkChange)[] = ['url', 'tenants', 'categories', 'types', 'personalData'];

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * A change by an admin whose scope covers the sink before and after. The changed fields (the
 * secret counts as changed whenever given), or none: no change, nothing recorded. A sink that
 * carries personal data goes back to `pending` when where it sends or what it sends changes; a
 * sink in `error` is `active` again (an admin fixed something).
 */
export function decideChange(
  by: Principal,
  current: SinkState | undefined,
  change: SinkChange,
): { next: SinkState; changed: string[] } {
  if (current === undefined || !mayManageSink(by, current)) throw new SinkNotFoundError();
  const tenants = change.tenants ?? current.tenants;
  if (!coversAllTenants(by, tenants))
    throw new SinkScopeError("a sink may only cover tenants inside this key's own scope");
  const changed = (Object.keys(change) as (keyof SinkChange)[]).filter(
    (field) => field === 'secret' || !same(change[field], current[field as keyof SinkState]),
  );
  if (changed.length === 0) return { next: current, changed };
  const personalData = change.personalData ?? current.personalData;
  const reapprove = personalData && changed.some((field) => APPROVAL_BOUND.includes(field));
  const next: SinkState = {
    ...current,
    name: change.name ?? current.name,
    url: change.url ?? current.url,
    tenants,
    categories: change.categories === undefined ? current.categories : change.categories,
    types: change.types === undefined ? current.types : change.types,
    personalData,
    secretSet: current.secretSet || change.secret !== undefined,
    status: reapprove ? 'pending' : personalData && current.status === 'pending' ? 'pending' : 'active',
    approvedBy: reapprove || !personalData ? null : current.approvedBy,
    // Whoever changed what an approval covers is the one a second person must be independent of.
    createdBy: reapprove ? by.principalId : current.createdBy,
    createdByKnownTo: reapprove ? by.knownTo : current.createdByKnownTo,
    version: current.version + 1,
  };
  return { next, changed };
}

/**
 * The approval of a pending sink that carries personal data: by a person who holds `legal` over
 * every tenant of it, who is not whoever created it (or last changed what it sends), through a
 * key whose secret that admin has not seen (the rule of `POST /v1/grants/{id}/approve`).
 */
export function decideApprove(by: Principal, current: SinkState | undefined): SinkState {
  // A sink outside the approver's tenants looks missing, as it does to an admin of other tenants.
  if (current === undefined || !coversAllTenants(by, current.tenants)) throw new SinkNotFoundError();
  if (by.kind !== 'person' || !by.roles.includes('legal'))
    throw new SinkApprovalNotIndependentError(
      'a sink that carries personal data is approved by a person who holds legal',
    );
  if (current.status !== 'pending' || !current.personalData) throw new SinkNotApprovableError(current.status);
  if (by.principalId === current.createdBy)
    throw new SinkApprovalNotIndependentError('whoever created or changed the sink may not approve it');
  if (by.knownTo.some((seen) => seen === current.createdBy || current.createdByKnownTo.includes(seen)))
    throw new SinkApprovalNotIndependentError(
      "this key's secret was issued by whoever created or changed the sink; its holder must rotate it first",
    );
  return { ...current, status: 'active', approvedBy: by.principalId, version: current.version + 1 };
}

/**
 * A replay: the position in `log` moves back to `from`. Only back (forward would skip entries
 * nobody received), only in a log the sink covers.
 */
export function decideReplay(
  by: Principal,
  current: SinkState | undefined,
  log: string,
  from: number,
  position: number,
): void {
  if (current === undefined || !mayManageSink(by, current)) throw new SinkNotFoundError();
  if (!current.tenants.includes('*') && !current.tenants.includes(log))
    throw new SinkScopeError(`the sink does not cover the log ${log}`);
  if (from > position) throw new SinkReplayForwardError(position);
}
