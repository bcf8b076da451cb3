import { Command } from '@nestjs/cqrs';
import { Principal, Role } from '../roles';

export interface CreatedApiKey {
  readonly id: string;
  /** The secret, shown once. */
  readonly key: string;
  readonly prefix: string;
  readonly name: string;
  readonly roles: Role[];
  readonly tenants: string[];
  readonly expiresAt: string | null;
}

/** Create an API key; the creation is recorded in the `platform` log. */
export class CreateApiKey extends Command<CreatedApiKey> {
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
