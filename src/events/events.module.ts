import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger';
import { oncePerConfig, type AppConfig, type PortBinding } from '../platform';
import { AppendEventsHandler } from './append-events/append-events.handler';
import { EventsController } from './append-events/events.controller';
import { INGESTION_GATE } from './ingestion-gate';

/** Ingestion: platform services' events, checked against the catalogue, appended to the ledger. */
@Module({})
export class EventsModule {
  static forRoot(config: AppConfig, ports: { ingestionGate: PortBinding }): DynamicModule {
    return oncePerConfig(EventsModule, config, () => {
      return {
        module: EventsModule,
        imports: [LedgerModule.forRoot(config), ...ports.ingestionGate.imports],
        controllers: config.components.has('api') ? [EventsController] : [],
        providers: [AppendEventsHandler, { provide: INGESTION_GATE, useExisting: ports.ingestionGate.useExisting }],
      };
    });
  }
}
