import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { PLATFORM_LOG } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { Sequencer } from '../../ledger/sequencer';
import { PermissionError } from '../../platform/http/request.errors';
import { ApiKeyStore } from '../api-key.store';
import { newKeySecret } from '../api-key-secret';
import { coversTenant } from '../roles';
import { CreateApiKey, CreatedApiKey } from './create-api-key.command';

/** The `source` of entries the service writes about itself. */
export const SERVICE_SOURCE = 'audit-trail';

@CommandHandler(CreateApiKey)
export class CreateApiKeyHandler implements ICommandHandler<CreateApiKey> {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly sequencer: Sequencer,
  ) {}

  async execute(command: CreateApiKey): Promise<CreatedApiKey> {
    // A key cannot hand out a tenant scope wider than its own.
    for (const tenant of command.tenants) {
      if (tenant === '*' ? !command.by.tenants.includes('*') : !coversTenant(command.by, tenant)) {
        throw new PermissionError(`this key may not grant access to tenant ${tenant}`);
      }
    }
    const id = uuidv7();
    const { secret, prefix } = newKeySecret(randomBytes(32));
    await this.keys.insert({ id, name: command.name, prefix, secret, roles: command.roles, tenants: command.tenants, createdBy: command.by.keyId, expiresAt: command.expiresAt });
    await this.sequencer.append([
      {
        log: PLATFORM_LOG,
        source: SERVICE_SOURCE,
        type: 'api_key.created',
        category: 'api_keys',
        actor: { type: 'api_key', id: command.by.keyId },
        target: { type: 'api_key', id },
        outcome: 'success',
        context: { name: command.name, prefix, roles: command.roles, tenants: command.tenants, expiresAt: command.expiresAt },
      },
    ]);
    return { id, key: secret, prefix, name: command.name, roles: command.roles, tenants: command.tenants, expiresAt: command.expiresAt };
  }
}
