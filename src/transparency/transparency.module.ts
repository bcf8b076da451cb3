import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger';
import { contextModule, type AppConfig } from '../platform';
import { WitnessModule } from '../witness';
import { LogReadController } from './log-read.controller';
import { LogVerificationController } from './log-verification.controller';

/**
 * The log's public face for outside verifiers: checkpoints, tiles, entry bundles, proofs and the
 * service's own verification, over the ledger's read ports.
 */
@Module({})
export class TransparencyModule {
  static forRoot(config: AppConfig): DynamicModule {
    return contextModule(TransparencyModule, config, () => ({
      imports: [LedgerModule.forRoot(config), WitnessModule.forRoot(config)],
      controllers: [LogReadController, LogVerificationController],
    }));
  }
}
