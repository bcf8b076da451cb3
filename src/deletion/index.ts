/** The public face of the deletion context: what other contexts may use. Nothing else is imported across contexts. */
export { ClosedTenants } from './closed-tenants';
export { DeletionModule } from './deletion.module';
