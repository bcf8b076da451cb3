import { JsonValue, LedgerEntry, PLATFORM_LOG, personalDigest } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { EventToAppend, SERVICE_SOURCE } from '../../ledger';
import { Principal, actorOf } from '../roles';
import { PrincipalEvent, principalOfEvent } from './principal.decider';

/**
 * Principal events as `platform` log entries and back: the ledger is their event store, and the
 * `principals` and `grants` tables a projection of it. A person's email and identity-provider
 * subject are personal data: they travel beside the leaf (`personal`, subject `principal:<id>`),
 * committed by a salted digest, so erasing that subject erases them and the leaf stays whole.
 */

/** The category of principal entries. */
export const PRINCIPAL_CATEGORY = 'principals';

/** The personal-data subject under which a principal's email and identity-provider subject are kept. */
export function principalSubject(id: string): string {
  return `principal:${id}`;
}

/** The entry recording `event`, done by `by`. */
export function principalEventEntry(event: PrincipalEvent, by: Principal): EventToAppend {
  const id = principalOfEvent(event);
  const base = {
    log: PLATFORM_LOG,
    source: SERVICE_SOURCE,
    type: event.type,
    category: PRINCIPAL_CATEGORY,
    actor: actorOf(by),
    target: { type: 'principal', id },
    outcome: 'success',
    occurredAt: event.at,
  } as const;
  if (event.type !== 'principal.created') {
    const { type: _type, id: _id, at: _at, ...rest } = event;
    return { ...base, context: JSON.parse(JSON.stringify(rest)) as { [member: string]: JsonValue } };
  }
  const { email, oidcSubject, ...principal } = event.principal;
  const context = {
    principal: { ...principal },
    by: event.by,
    ...(event.adoptedKey !== undefined ? { adoptedKey: event.adoptedKey } : {}),
  };
  if (email === null && oidcSubject === null) return { ...base, context };
  const data = { email, oidcSubject };
  const salt = randomBytes(32);
  return {
    ...base,
    context,
    personal: { subject: principalSubject(id), data, salt, digest: personalDigest(salt, data) },
  };
}

/**
 * The event an entry of category `principals` records; `personal` is its personal data when
 * still there (null once erased: the person's email is then gone from the projection too).
 */
export function fromPrincipalEntry(
  entry: LedgerEntry,
  personal: { email: string | null; oidcSubject: string | null } | null,
): PrincipalEvent {
  const context = (entry.context ?? {}) as Record<string, unknown>;
  const id = (entry.target as { id: string }).id;
  const at = entry.occurredAt;
  switch (entry.type) {
    case 'principal.created': {
      const principal = context.principal as { id: string; name: string; kind: 'person' | 'service' | 'operator' };
      return {
        type: entry.type,
        principal: {
          ...principal,
          email: personal?.email ?? null,
          oidcSubject: personal?.oidcSubject ?? null,
        } as never,
        by: (context.by as string | null) ?? null,
        at,
        ...(typeof context.adoptedKey === 'string' ? { adoptedKey: context.adoptedKey } : {}),
      };
    }
    case 'principal.revoked':
    case 'principal.grant_added':
    case 'principal.grant_requested':
    case 'principal.grant_approved':
    case 'principal.grant_revoked':
      return { ...context, id, at, type: entry.type } as unknown as PrincipalEvent;
    default:
      throw new Error(`entry ${entry.log}/${entry.index} is not a principal event (${entry.type})`);
  }
}
