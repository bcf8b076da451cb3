import { DynamicModule, Module } from '@nestjs/common';
import { AccessModule } from './access';
import { ConsoleModule } from './console';
import { ClosedTenants, DeletionModule } from './deletion';
import { EventsModule } from './events';
import { HoldsModule } from './holds';
import { InvestigationModule } from './investigation';
import { LedgerModule } from './ledger';
import { NotificationsModule } from './notifications';
import { OperationsModule } from './operations';
import { AppConfig, PlatformModule } from './platform';
import { PrivacyModule } from './privacy';
import { RetentionModule } from './retention';
import { StreamingModule } from './streaming';
import { TransparencyModule } from './transparency';
import { WitnessModule } from './witness';

/**
 * The composition root: one module per context (docs/architecture.md), and the ports one context
 * declares bound to the context that answers them. `config.components` decides what this process
 * runs: the HTTP API (controllers), the checkpoint signer, the projector, the BullMQ workers.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    const deletion = DeletionModule.forRoot(config);
    const investigation = InvestigationModule.forRoot(config);
    const ledger = LedgerModule.forRoot(config);
    const witness = WitnessModule.forRoot(config);
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot(config),
        ledger,
        AccessModule.forRoot(config),
        NotificationsModule.forRoot(config),
        EventsModule.forRoot(config, { ingestionGate: { imports: [deletion], useExisting: ClosedTenants } }),
        HoldsModule.forRoot(config),
        RetentionModule.forRoot(config),
        deletion,
        investigation,
        TransparencyModule.forRoot(config),
        PrivacyModule.forRoot(config),
        StreamingModule.forRoot(config),
        witness,
        ConsoleModule.forRoot(config),
        OperationsModule.forRoot({
          projectionsHealth: [investigation],
          ledgerHealth: [ledger],
          witnessHealth: [witness],
        }),
      ],
    };
  }
}
