import { LedgerEntry, PLATFORM_LOG } from '@audit/ledger';
import { EventToAppend, SERVICE_SOURCE } from '../../ledger';
import { Principal, Role, actorOf } from '../roles';
import { ApiKeyEvent, ApiKeyState } from './api-key.decider';

/**
 * Key events as `platform` log entries and back: the ledger is the keys' event store, and the
 * `api_keys` table a projection of it (secret hashes aside) that `fromKeyEntry` can rebuild. Event
 * type strings and context members are permanent record.
 */

/** The category of key entries. */
export const KEY_CATEGORY = 'api_keys';

/** The entry recording `event` on `key` (the state after it): who acted, which key, never the secret. */
export function keyEventEntry(event: ApiKeyEvent, key: ApiKeyState, by: Principal): EventToAppend {
  const base = {
    log: PLATFORM_LOG,
    source: SERVICE_SOURCE,
    type: event.type,
    category: KEY_CATEGORY,
    // The creator of a key is this actor: `fromKeyEntry` reads `createdBy` back from it.
    actor: actorOf(by),
    target: { type: 'api_key', id: key.id },
    outcome: 'success',
    // The decision's time, which the table holds too: a rebuilt key has exactly the live times.
    occurredAt: event.at,
  } as const;
  const subject = {
    name: key.name,
    roles: [...key.roles],
    tenants: [...key.tenants],
    ...(key.principal !== null ? { principal: key.principal } : {}),
  };
  switch (event.type) {
    case 'api_key.created':
      return {
        ...base,
        context: { ...subject, prefix: key.prefix, expiresAt: key.expiresAt, byPrincipal: event.byPrincipal },
      };
    case 'api_key.rotated':
      return {
        ...base,
        context: {
          ...subject,
          prefix: event.prefix,
          previousPrefix: event.previousPrefix,
          ...(event.byPrincipal !== undefined ? { byPrincipal: event.byPrincipal } : {}),
        },
      };
    case 'api_key.revoked':
      return { ...base, context: { ...subject, prefix: key.prefix } };
    case 'api_key.adopted':
      return { ...base, context: { ...subject, prefix: key.prefix, knownTo: [...event.knownTo] } };
    default: {
      const never: never = event;
      throw new Error(`unknown key event ${(never as { type: string }).type}`);
    }
  }
}

/**
 * The key event an entry of category `api_keys` records. Entries written before the decision's
 * time was set as `occurredAt` carry the time of recording there instead, milliseconds later:
 * their keys rebuild with those times.
 */
export function fromKeyEntry(entry: LedgerEntry): ApiKeyEvent {
  const context = (entry.context ?? {}) as Record<string, unknown>;
  const id = (entry.target as { id: string }).id;
  const at = entry.occurredAt;
  switch (entry.type) {
    case 'api_key.created':
      return {
        type: entry.type,
        key: {
          id,
          name: context.name as string,
          prefix: context.prefix as string,
          roles: context.roles as Role[],
          tenants: context.tenants as string[],
          expiresAt: (context.expiresAt as string | null | undefined) ?? null,
          // Absent from keys created before principals: adopted later (api_key.adopted).
          principal: context.principal as string,
        },
        by: entry.actor.type === 'api_key' ? entry.actor.id : null,
        byPrincipal: context.byPrincipal as string,
        at,
      };
    case 'api_key.rotated':
      return {
        type: entry.type,
        id,
        prefix: context.prefix as string,
        previousPrefix: context.previousPrefix as string,
        ...(typeof context.byPrincipal === 'string' ? { byPrincipal: context.byPrincipal } : {}),
        at,
      };
    case 'api_key.revoked':
      return { type: entry.type, id, at };
    case 'api_key.adopted':
      return {
        type: entry.type,
        id,
        principal: context.principal as string,
        knownTo: context.knownTo as string[],
        at,
      };
    default:
      throw new Error(`entry ${entry.log}/${entry.index} is not a key event (${entry.type})`);
  }
}
