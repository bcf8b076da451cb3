import { Command } from '@nestjs/cqrs';
import { Principal } from '../roles';
import { IssuedApiKey } from './create-api-key.command';

/** A new secret for a key; the old one stops working at once. Recorded in the `platform` log. */
export class RotateApiKey extends Command<IssuedApiKey> {
  constructor(
    readonly by: Principal,
    readonly id: string,
  ) {
    super();
  }
}
