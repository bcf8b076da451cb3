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
}

/** Create an API key; the creation is recorded in the `platform` log. */
export class CreateApiKey extends Command<IssuedApiKey> {
  constructor(
    readonly by: Principal,
    readonly name: string,
    readonly roles: Role[],
    readonly tenants: string[],
    readonly expiresAt: string | null,
  ) {
    super();
  }
}
