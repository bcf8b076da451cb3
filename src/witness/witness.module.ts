import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger';
import { WITNESS_HEALTH, type AppConfig } from '../platform';
import { CosignatureStore } from './cosignature.store';
import { CosignedCheckpoints } from './cosigned-checkpoints';
import { SubmissionPolicy } from './submission-policy';
import { Witness } from './witness';
import { WitnessController } from './witness.controller';
import { WitnessKey } from './witness-key';
import { WitnessMonitor } from './witness-monitor';
import { WitnessPolicyController } from './witness-policy.controller';
import { WitnessStateStore } from './witness-state.store';
import {
  WITNESS_SUBMISSION_QUEUE,
  WitnessSubmissionProcessor,
  WitnessSubmissionSchedule,
} from './witness-submission.processor';
import { WitnessSubmitter } from './witness-submitter';
import { WitnessedLogs } from './witnessed-logs';

const built = new WeakMap<AppConfig, DynamicModule>();

/**
 * Witnessing, both ways. Submitting: this deployment's checkpoints offered to the witnesses of
 * `AUDIT_WITNESS_POLICY` by a BullMQ job (worker component), their cosignatures stored and served
 * (`CosignedCheckpoints`), and `GET /v1/witness/policy` (api component). Being a witness: the
 * `witness` component (`POST /v1/witness/add-checkpoint`), nothing of it without the component.
 * Built once per configuration, as every context module (platform's contextModule).
 */
@Module({})
export class WitnessModule {
  static forRoot(config: AppConfig): DynamicModule {
    let dynamic = built.get(config);
    if (dynamic) return dynamic;
    const witness = config.components.has('witness');
    const submitting = config.witnessPolicyFile !== null && config.components.has('worker');
    dynamic = {
      module: WitnessModule,
      imports: [LedgerModule.forRoot(config), BullModule.registerQueue({ name: WITNESS_SUBMISSION_QUEUE })],
      controllers: [
        ...(config.components.has('api') ? [WitnessPolicyController] : []),
        ...(witness ? [WitnessController] : []),
      ],
      providers: [
        SubmissionPolicy,
        CosignatureStore,
        CosignedCheckpoints,
        WitnessSubmitter,
        WitnessMonitor,
        { provide: WITNESS_HEALTH, useExisting: WitnessMonitor },
        ...(submitting ? [WitnessSubmissionProcessor, WitnessSubmissionSchedule] : []),
        ...(witness ? [WitnessKey, WitnessedLogs, WitnessStateStore, Witness] : []),
      ],
      exports: [CosignedCheckpoints, WITNESS_HEALTH],
    };
    built.set(config, dynamic);
    return dynamic;
  }
}
