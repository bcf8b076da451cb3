import { DynamicModule, Module } from '@nestjs/common';
import { AccessModule } from '../access';
import { contextModule, type AppConfig } from '../platform';
import { ConsoleApi } from './console-api';
import { ConsoleAssets } from './console-assets';
import { CONSOLE_OIDC, ConsoleController } from './console.controller';
import { OidcClient } from './oidc-client';
import { SignInStateSeal } from './sign-in-state';

/**
 * The console: HTML pages over the JSON API for people (investigators, legal staff, admins). It
 * owns no table and no rule: sessions are the access context's, everything else is an API call.
 */
@Module({})
export class ConsoleModule {
  static forRoot(config: AppConfig): DynamicModule {
    return contextModule(ConsoleModule, config, () => ({
      imports: [AccessModule.forRoot(config)],
      controllers: [ConsoleController],
      providers: [
        ConsoleApi,
        ConsoleAssets,
        {
          provide: CONSOLE_OIDC,
          useValue:
            config.oidc === null
              ? null
              : { client: new OidcClient(config.oidc), seal: new SignInStateSeal(config.oidc.clientSecret) },
        },
      ],
    }));
  }
}
