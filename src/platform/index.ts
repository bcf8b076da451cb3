/** The public face of the platform context: what other contexts may use. Nothing else is imported across contexts. */
export { CLOCK, Clock, SYSTEM_CLOCK } from './clock/clock';
export { DeadlineExceededError, within } from './clock/within';
export { APP_CONFIG, AppConfig } from './config/app-config';
export type { OidcSetting } from './config/app-config';
export { READ_ROUTES, parseReadRecordSwitches } from './config/read-record-switches';
export type { ReadRecordSwitches, ReadRoute } from './config/read-record-switches';
export { isConnectionFailure } from './database/dependency-failure';
export { refusesValue, sqlState } from './database/sql-state';
export { withTenantScope } from './database/tenant-scoped-reads';
export { DATA_KEY_BYTES, IV_BYTES, SealedValueError, open, seal } from './crypto/sealing';
export { Dependencies } from './dependencies/dependencies';
export { CodedError, erringWith } from './errors/coded-error';
export { PROJECTIONS_HEALTH, ProjectionsHealth, projectionsIndicator } from './health/projections-health';
export { LEDGER_HEALTH, LedgerHealth, ledgerIndicator } from './health/ledger-health';
export { WITNESS_HEALTH, WitnessHealth, witnessIndicator } from './health/witness-health';
export { redisIndicator } from './health/redis-health';
export { UnhealthyFilter } from './health/unhealthy.filter';
export { toErrorBody } from './http/error.filter';
export { enforceInputRule } from './http/input-rule.edge';
export { normaliseRfc3339, parseRfc3339 } from './http/input-rule';
export { RFC3339_PATTERN, jsonDepth, validator } from './http/json-schema';
export {
  AuthenticationError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionError,
  RateLimitedError,
  RequestValidationError,
} from './http/request.errors';
export { MetricsService } from './metrics/metrics.service';
export {
  PERSONAL_DATA_KINDS,
  findPersonalData,
  luhnValid,
  personalDataIn,
  pointerSegment,
} from './personal-data/personal-data.detector';
export type { PersonalDataFinding, PersonalDataKind } from './personal-data/personal-data.detector';
export { PersonalDataGuard, PersonalDataOutsideError } from './personal-data/personal-data.guard';
export type { GuardedField, GuardedFinding } from './personal-data/personal-data.guard';
export { MAINTENANCE_QUEUE, MIRROR_CHECK_EVERY_MS, MIRROR_CHECK_JOB } from './queue/maintenance.queue';
export { redisReady } from './queue/redis-connection';
export { DatabasePool } from './database/database-pool';
export { ReadReplica } from './database/read-replica';
export type { ReadTarget } from './database/read-replica';
export type { ReadFrom } from './database/replica-freshness';
export { IDS } from './clock/ids';
export type { Ids } from './clock/ids';
export { PlatformModule } from './platform.module';
export type { PortBinding } from './port-binding';
export { contextModule } from './config/context-module';
export type { ContextParts } from './config/context-module';
