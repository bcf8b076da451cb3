/** The public face of the events context: what other contexts may use. Nothing else is imported across contexts. */
export { CATEGORIES, Category, EVENT_CATALOGUE } from './event-catalogue';
export { INGESTION_GATE } from './ingestion-gate';
export type { IngestionGate } from './ingestion-gate';
export { EventsModule } from './events.module';
