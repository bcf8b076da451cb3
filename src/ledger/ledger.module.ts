import { DynamicModule, Module } from '@nestjs/common';
import { LEDGER_HEALTH, contextModule, type AppConfig } from '../platform';
import { CheckpointMirror } from './checkpoint-mirror';
import { CheckpointSigner } from './checkpoint-signer';
import { ErasureJournal } from './erasure-journal';
import { LedgerErasure } from './ledger-erasure';
import { LegacyPersonalData } from './legacy-personal-data';
import { LogReader } from './log-reader';
import { LogStore } from './log-store';
import { AppendPressure } from './append-pressure';
import { LogVerification } from './log-verification';
import { MaintenanceProcessor, MaintenanceSchedule } from './maintenance.processor';
import { MirrorCheck } from './mirror-check';
import { PersonalDataReader } from './personal-data-reader';
import { PersonalSearch } from './personal-search-key';
import { PersonalSearchBackfill } from './personal-search-backfill';
import { RollbackAcknowledgement } from './rollback-acknowledgement';
import { SecretSealer } from './secret-sealer';
import { Sequencer } from './sequencer';
import { ServiceEntries } from './service-entries';
import { SigningKey } from './signing-key';
import { SubjectKeyCompaction } from './subject-key-compaction';
import { SubjectKeyRotation } from './subject-key-rotation';
import { SubjectKeys } from './subject-keys';

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
      ErasureJournal,
      PersonalDataReader,
      PersonalSearch,
      SigningKey,
      CheckpointSigner,
      LogReader,
      LogVerification,
      RollbackAcknowledgement,
      SecretSealer,
    ];
    return contextModule(LedgerModule, config, () => ({
      providers: [
        ...ports,
        AppendPressure,
        SubjectKeys,
        SubjectKeyCompaction,
        SubjectKeyRotation,
        PersonalSearchBackfill,
        LegacyPersonalData,
        CheckpointMirror,
        MirrorCheck,
        { provide: LEDGER_HEALTH, useExisting: MirrorCheck },
      ],
      workers: [MaintenanceProcessor, MaintenanceSchedule],
      exports: [...ports, LEDGER_HEALTH],
    }));
  }
}
