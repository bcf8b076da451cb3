/** The public face of the privacy context: what other contexts may use. Nothing else is imported across contexts. */
export { PrivacyModule } from './privacy.module';
export { RebuildSubjectRequests } from './rebuild-subject-requests.handler';
