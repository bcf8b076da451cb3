import { DynamicModule, Module } from '@nestjs/common';
import { AccessModule } from '../access';
import { DeletionModule } from '../deletion';
import { InvestigationModule } from '../investigation';
import { LedgerModule } from '../ledger';
import { contextModule, type AppConfig } from '../platform';
import { RebuildSubjectRequestsHandler } from './rebuild-subject-requests.handler';
import { SubjectRequestStore } from './subject-request.store';
import { SubjectRequests } from './subject-requests';
import { SubjectRequestsController } from './subject-requests.controller';

/** Data-subject requests (access, rectification, erasure) as recorded cases with a due date. */
@Module({})
export class PrivacyModule {
  static forRoot(config: AppConfig): DynamicModule {
    return contextModule(PrivacyModule, config, () => ({
      imports: [
        AccessModule.forRoot(config),
        LedgerModule.forRoot(config),
        DeletionModule.forRoot(config),
        InvestigationModule.forRoot(config),
      ],
      controllers: [SubjectRequestsController],
      providers: [SubjectRequestStore, SubjectRequests, RebuildSubjectRequestsHandler],
    }));
  }
}
