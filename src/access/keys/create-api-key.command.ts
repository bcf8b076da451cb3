import { Command } from '@nestjs/cqrs';
import { Principal, Role } from '../roles';

/** A key as answered once, at creation or rotation: the only time its secret is shown. */
export interface IssuedApiKey {
  readonly id: string;
  /** The secret, shown once. */
  readonly key: string;
  readonly prefix: string;
  readonly name: string;
  readonly roles: readonly Role[];
  readonly tenants: readonly string[];
  readonly expiresAt: string | null;
  /** The principal the key acts for. */
  readonly principal: string;
}

/**
 * Create an API key for `principal`, or without one for a new service principal named as the key
 * (holding exactly the key's roles); the creation is recorded in the `platform` log.
 */
export class CreateApiKey extends Command<IssuedApiKey> {
  constructor(
    readonly by: Principal,
    readonly name: string,
    readonly roles: Role[],
    readonly tenants: string[],
    readonly expiresAt: string | null,
    readonly principal: string | null = null,
  ) {
    super();
  }
}
