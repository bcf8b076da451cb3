import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { APP_CONFIG, AppConfig } from '../../platform/config/app-config';
import { ApiKeyStore } from '../api-key.store';

/** Makes AUDIT_BOOTSTRAP_ADMIN_KEY an admin key for every tenant, once, at start. */
@Injectable()
export class BootstrapAdmin implements OnApplicationBootstrap {
  private readonly logger = new Logger(BootstrapAdmin.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: ApiKeyStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const secret = this.config.bootstrapAdminKey;
    if (!secret) return;
    const created = await this.keys.insert({
      id: uuidv7(),
      name: 'bootstrap-admin',
      prefix: secret.slice(0, 4),
      secret,
      roles: ['admin'],
      tenants: ['*'],
      createdBy: null,
      expiresAt: null,
    });
    if (created) this.logger.log('created the bootstrap admin key from AUDIT_BOOTSTRAP_ADMIN_KEY');
  }
}
