/** The public face of the holds context: what other contexts may use. Nothing else is imported across contexts. */
export { HoldReleased } from './hold-released.event';
export { DeletionRequestsCovered } from './hold-preview';
export type { CoveredDeletionRequest, CoveredEntries } from './hold-preview';
export { EVERY_TENANT, HoldScope, holdCovers } from './hold-scope';
export { HoldsReader } from './holds-reader';
export { UnknownTenantError } from './holds.errors';
export { HoldsModule } from './holds.module';
