import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger';
import { PROJECTIONS_HEALTH, contextModule, type AppConfig } from '../platform';
import { WitnessModule } from '../witness';
import { EventExports } from './event-exports';
import { EventProofController } from './event-proof.controller';
import { EventReads } from './event-reads';
import { EventSearchStore } from './event-search.store';
import { InvestigationController } from './investigation.controller';
import { LogStream } from './log-stream';
import { LogStreamController } from './log-stream.controller';
import { QuarantineController } from './quarantine.controller';
import { RebuildEventSearchHandler } from './rebuild-event-search.handler';
import { SearchProjector } from './search-projector';

/** Investigation: search, event reads and exports with proofs, over the search read model. */
@Module({})
export class InvestigationModule {
  static forRoot(config: AppConfig): DynamicModule {
    return contextModule(InvestigationModule, config, () => ({
      imports: [LedgerModule.forRoot(config), WitnessModule.forRoot(config)],
      controllers: [InvestigationController, EventProofController, QuarantineController, LogStreamController],
      providers: [
        EventSearchStore,
        SearchProjector,
        { provide: PROJECTIONS_HEALTH, useExisting: SearchProjector },
        EventReads,
        EventExports,
        LogStream,
        RebuildEventSearchHandler,
      ],
      exports: [PROJECTIONS_HEALTH, EventExports],
    }));
  }
}
