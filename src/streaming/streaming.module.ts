import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger';
import { contextModule, type AppConfig } from '../platform';
import { SinkChanges } from './sink-changes';
import { SinkDelivery } from './sink-delivery';
import { SinkFormatter } from './sink-formatter';
import { SinkTester } from './sink-tester';
import { SinkStore } from './sink.store';
import { SinksController } from './sinks.controller';

/** Streaming the logs to security tools: sinks, their positions, their delivery. */
@Module({})
export class StreamingModule {
  static forRoot(config: AppConfig): DynamicModule {
    return contextModule(StreamingModule, config, () => ({
      imports: [LedgerModule.forRoot(config)],
      controllers: [SinksController],
      providers: [SinkStore, SinkChanges, SinkTester],
      workers: [SinkDelivery, SinkFormatter],
      exports: [],
    }));
  }
}
