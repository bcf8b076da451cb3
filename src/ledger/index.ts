/** The public face of the ledger context: what other contexts may use. Nothing else is imported across contexts. */
export { AppendedEntry, EventToAppend, SERVICE_SOURCE, entryFor } from './append-plan';
export { CheckpointSigner } from './checkpoint-signer';
export { LedgerBehindMirrorError, NoCheckpointError, UnknownLogError } from './ledger.errors';
export { LedgerErasure } from './ledger-erasure';
export type { ErasableEntry, ErasableFilter } from './ledger-erasure';
export { ConsistencyProof, InclusionProof, LogReader } from './log-reader';
export { PersonalDataReader, PersonalDataUnreadableError } from './personal-data-reader';
export type { OpenPersonalData, StoredPersonalData } from './personal-data-reader';
export { LogStore } from './log-store';
export type { Sql } from './log-store';
export { LogVerification, VerificationReport } from './log-verification';
export { Sequencer } from './sequencer';
export { LEDGER_CATEGORY, ROLLBACK_ACKNOWLEDGED, RollbackAcknowledgement } from './rollback-acknowledgement';
export type { AcknowledgedLog, RollbackAcknowledged } from './rollback-acknowledgement';
export { SigningKey } from './signing-key';
export { LedgerModule } from './ledger.module';
export { ServiceEntries, foldBy } from './service-entries';
export type { RebuildTransaction } from './service-entries';
