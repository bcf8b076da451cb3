/** The public face of the investigation context: what other contexts may use. Nothing else is imported across contexts. */
export { InvestigationModule } from './investigation.module';
export { EventExports } from './event-exports';
export type { ExportStream } from './event-exports';
export { csvRow } from './csv';
