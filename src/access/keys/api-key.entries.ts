import { PLATFORM_LOG } from '@audit/ledger';
import { EventToAppend, SERVICE_SOURCE } from '../../ledger/append-plan';
import { Principal, actorOf } from '../roles';
import { ApiKeyEvent, ApiKeyState } from './api-key.decider';

/**
 * The `platform` log entry recording a key event: who acted, which key, its roles and tenants;
 * never the secret. Event type strings are permanent record.
 */
export function keyEventEntry(event: ApiKeyEvent, key: ApiKeyState, by: Principal): EventToAppend {
  const base = {
    log: PLATFORM_LOG,
    source: SERVICE_SOURCE,
    type: event.type,
    category: 'api_keys',
    actor: actorOf(by),
    target: { type: 'api_key', id: key.id },
    outcome: 'success',
  } as const;
  const subject = { name: key.name, roles: [...key.roles], tenants: [...key.tenants] };
  switch (event.type) {
    case 'api_key.created':
      return { ...base, context: { ...subject, prefix: key.prefix, expiresAt: key.expiresAt } };
    case 'api_key.rotated':
      return { ...base, context: { ...subject, prefix: event.prefix, previousPrefix: event.previousPrefix } };
    case 'api_key.revoked':
      return { ...base, context: { ...subject, prefix: key.prefix } };
    default: {
      const never: never = event;
      throw new Error(`unknown key event ${(never as { type: string }).type}`);
    }
  }
}
