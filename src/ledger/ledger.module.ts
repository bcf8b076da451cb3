import { DynamicModule, Module } from '@nestjs/common';
import { LEDGER_HEALTH, contextModule, type AppConfig } from '../platform';
import { CheckpointMirror } from './checkpoint-mirror';
import { CheckpointSigner } from './checkpoint-signer';
import { LedgerErasure } from './ledger-erasure';
import { LogReader } from './log-reader';
import { LogStore } from './log-store';
import { LogVerification } from './log-verification';
import { MaintenanceProcessor, MaintenanceSchedule } from './maintenance.processor';
import { MirrorCheck } from './mirror-check';
import { RollbackAcknowledgement } from './rollback-acknowledgement';
import { Sequencer } from './sequencer';
import { ServiceEntries } from './service-entries';
import { SigningKey } from './signing-key';

/**
 * The ledger: the only context that touches its tables (entries, personal data, idempotency keys,
 * logs, tree nodes, checkpoints, service keys). Others append through the sequencer and read,
 * prove and erase through the ports its index exports.
 */
@Module({})
export class LedgerModule {
  static forRoot(config: AppConfig): DynamicModule {
    const ports = [
      LogStore,
      Sequencer,
      ServiceEntries,
      LedgerErasure,
      SigningKey,
      CheckpointSigner,
      LogReader,
      LogVerification,
      RollbackAcknowledgement,
    ];
    return contextModule(LedgerModule, config, () => ({
      providers: [...ports, CheckpointMirror, MirrorCheck, { provide: LEDGER_HEALTH, useExisting: MirrorCheck }],
      workers: [MaintenanceProcessor, MaintenanceSchedule],
      exports: [...ports, LEDGER_HEALTH],
    }));
  }
}
