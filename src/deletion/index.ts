/** The public face of the deletion context: what other contexts may use. Nothing else is imported across contexts. */
export { ClosedTenants } from './closed-tenants';
export { DeletionModule } from './deletion.module';
export { DeletionParts } from './deletion-parts';
export type { DeletionPart } from './deletion-parts';
export { RequestDeletion } from './request-deletion.handler';
export type { RequestedDeletion } from './request-deletion.handler';
export type { BlockReason } from './erasure-plan';
