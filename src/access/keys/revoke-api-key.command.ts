import { Command } from '@nestjs/cqrs';
import { ApiKeyRecord } from '../api-key.store';
import { Principal } from '../roles';

/** Revoke a key: it stops working at once. Recorded in the `platform` log (once). */
export class RevokeApiKey extends Command<ApiKeyRecord> {
  constructor(
    readonly by: Principal,
    readonly id: string,
  ) {
    super();
  }
}
