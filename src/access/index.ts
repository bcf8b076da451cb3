/** The public face of the access context: what other contexts may use. Nothing else is imported across contexts. */
export { RequirePermission } from './permission.decorator';
export { CurrentPrincipal } from './principal.decorator';
export { RecordRead } from './read-records/record-read.decorator';
export { readableLog } from './readable-log';
export { Principal, actorOf, coversAllTenants, coversTenant, keyIdOf, mayReadLog, operator, rolesGrant } from './roles';
export { AccessModule } from './access.module';
export { ApproverStanding } from './approver-standing';
export { ConsoleSessions, SESSION_PREFIX } from './console-sessions';
export type { OpenedSession } from './console-sessions';
