import { Ledger1764201600000 } from '../../../migrations/1764201600000-ledger';
import { TenantIsolation1764288000000 } from '../../../migrations/1764288000000-tenant-isolation';
import { ApiKeyRotation1764374400000 } from '../../../migrations/1764374400000-api-key-rotation';
import { Holds1764460800000 } from '../../../migrations/1764460800000-holds';
import { Retention1764547200000 } from '../../../migrations/1764547200000-retention';
import { Deletion1764633600000 } from '../../../migrations/1764633600000-deletion';
import { EventSearch1764720000000 } from '../../../migrations/1764720000000-event-search';
import { SearchProjector1764806400000 } from '../../../migrations/1764806400000-search-projector';
import { CheckpointSizeOffTheHead1764892800000 } from '../../../migrations/1764892800000-checkpoint-size-off-the-head';
import { ProjectionQuarantine1765152000000 } from '../../../migrations/1765152000000-projection-quarantine';
import { LedgerReadContract1765238400000 } from '../../../migrations/1765238400000-ledger-read-contract';
import { Principals1765324800000 } from '../../../migrations/1765324800000-principals';
import { KeyCustody1765411200000 } from '../../../migrations/1765411200000-key-custody';
import { SubjectRequests1765670400000 } from '../../../migrations/1765670400000-subject-requests';
import { PersonalDataAtRest1765756800000 } from '../../../migrations/1765756800000-personal-data-at-rest';
import { PersonalSearch1796358047001 } from '../../../migrations/1796358047001-personal-search';
import { Sinks1796358055004 } from '../../../migrations/1796358055004-sinks';
import { ConsoleSessions1796358072007 } from '../../../migrations/1796358072007-console-sessions';
import { WitnessState1796358301003 } from '../../../migrations/1796358301003-witness-state';
import { SinkSecretsSealed1796358420008 } from '../../../migrations/1796358420008-sink-secrets-sealed';
import { KeyEncryptionKeyRotation1796358500011 } from '../../../migrations/1796358500011-key-encryption-key-rotation';
import { IdempotencyKeysByEntry1796358900000 } from '../../../migrations/1796358900000-idempotency-keys-by-entry';
import { ErasureInReadContract1796359200000 } from '../../../migrations/1796359200000-erasure-in-read-contract';

/** Every migration, in order. Listed rather than globbed so the build cannot miss one. */
export const MIGRATIONS = [
  Ledger1764201600000,
  TenantIsolation1764288000000,
  ApiKeyRotation1764374400000,
  Holds1764460800000,
  Retention1764547200000,
  Deletion1764633600000,
  EventSearch1764720000000,
  SearchProjector1764806400000,
  CheckpointSizeOffTheHead1764892800000,
  ProjectionQuarantine1765152000000,
  LedgerReadContract1765238400000,
  Principals1765324800000,
  KeyCustody1765411200000,
  SubjectRequests1765670400000,
  PersonalDataAtRest1765756800000,
  PersonalSearch1796358047001,
  Sinks1796358055004,
  ConsoleSessions1796358072007,
  WitnessState1796358301003,
  SinkSecretsSealed1796358420008,
  KeyEncryptionKeyRotation1796358500011,
  IdempotencyKeysByEntry1796358900000,
  ErasureInReadContract1796359200000,
];
