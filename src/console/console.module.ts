import { DynamicModule, Module } from '@nestjs/common';
import { AccessModule } from '../access';
import { contextModule, type AppConfig } from '../platform';
import { ConsoleApi } from './console-api';
import { ConsoleAssets } from './console-assets';
import { ConsoleController } from './console.controller';

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
      providers: [ConsoleApi, ConsoleAssets],
    }));
  }
}
