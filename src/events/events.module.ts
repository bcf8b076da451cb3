import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger';
import { contextModule, type AppConfig, type PortBinding } from '../platform';
import { AppendEventsHandler } from './append-events/append-events.handler';
import { EventsController } from './append-events/events.controller';
import { EventTypesController } from './event-types/event-types.controller';
import { INGESTION_GATE } from './ingestion-gate';

/** Ingestion: platform services' events, checked against the catalogue, appended to the ledger. */
@Module({})
export class EventsModule {
  static forRoot(config: AppConfig, ports: { ingestionGate: PortBinding }): DynamicModule {
    return contextModule(EventsModule, config, () => ({
      imports: [LedgerModule.forRoot(config), ...ports.ingestionGate.imports],
      controllers: [EventsController, EventTypesController],
      providers: [AppendEventsHandler, { provide: INGESTION_GATE, useExisting: ports.ingestionGate.useExisting }],
    }));
  }
}
