import { JsonValue, LedgerEntry, PLATFORM_LOG } from '@audit/ledger';
import { EventToAppend, SERVICE_SOURCE } from '../ledger';
import { HoldActor, HoldEvent } from './hold.decider';
import { EVERY_TENANT, HoldScope } from './hold-scope';

/**
 * Hold events as ledger entries and back: the ledger is the hold's event store, and the `holds`
 * table a projection of it that `fromHoldEntry` can rebuild. A hold's entries go to its tenant's
 * log (`platform` for `*`). Category `holds`; type the event type.
 */

/** The log that records the events of a hold on `tenant`. */
export function holdLog(tenant: string): string {
  return tenant === EVERY_TENANT ? PLATFORM_LOG : tenant;
}

function actorRef(by: HoldActor): { type: string; id: string } {
  return by.keyId === null ? { type: 'operator', id: by.name } : { type: 'api_key', id: by.keyId };
}

function scopeJson(scope: HoldScope): { [member: string]: JsonValue } {
  return JSON.parse(JSON.stringify(scope)) as { [member: string]: JsonValue };
}

/** The entry of `event` on a hold of `tenant`; every entry names the hold's matter, so each reads on its own. */
export function holdEventEntry(
  event: HoldEvent,
  hold: { readonly tenant: string; readonly matter: string },
): EventToAppend {
  const { tenant, matter } = hold;
  const { type, id, at, ...rest } = event;
  const acting = 'by' in event ? event.by : event.approvers[event.approvers.length - 1];
  const context: { [member: string]: JsonValue } = {};
  for (const [member, value] of Object.entries(rest))
    context[member] =
      member === 'scope' ? scopeJson(value as HoldScope) : (JSON.parse(JSON.stringify(value)) as JsonValue);
  return {
    log: holdLog(tenant),
    source: SERVICE_SOURCE,
    type,
    category: 'holds',
    actor: actorRef(acting),
    target: { type: 'hold', id },
    outcome: 'success',
    // The decision's time: a rebuilt hold has exactly the times the live one had.
    occurredAt: at,
    context: { ...context, tenant, matter },
  };
}

/** The hold event an entry of category `holds` records. */
export function fromHoldEntry(entry: LedgerEntry): HoldEvent {
  // Every entry names the hold's tenant and matter; only the placement carries them as event fields.
  const { tenant, matter, ...context } = (entry.context ?? {}) as Record<string, unknown>;
  if (entry.type === 'hold.placed') Object.assign(context, { tenant, matter });
  const base = { id: (entry.target as { id: string }).id, at: entry.occurredAt };
  switch (entry.type) {
    case 'hold.placed':
    case 'hold.amended':
    case 'hold.release_requested':
    case 'hold.released':
      return { ...context, ...base, type: entry.type } as unknown as HoldEvent;
    default:
      throw new Error(`entry ${entry.log}/${entry.index} is not a hold event (${entry.type})`);
  }
}
