import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LedgerModule } from '../ledger';
import { contextModule, type AppConfig } from '../platform';
import { ChangeRetentionPolicyHandler } from './change-retention-policy.handler';
import { RetentionPolicies } from './retention-policies';
import { RetentionPoliciesController } from './retention-policies.controller';
import { RetentionPolicyRow } from './retention-policy.entity';
import { RebuildRetentionPoliciesHandler } from './rebuild-retention-policies.handler';

/** Retention policies per category: minimums nobody may cut short in compliance mode, maximums that purge. */
@Module({})
export class RetentionModule {
  static forRoot(config: AppConfig): DynamicModule {
    return contextModule(RetentionModule, config, () => ({
      imports: [LedgerModule.forRoot(config), TypeOrmModule.forFeature([RetentionPolicyRow])],
      controllers: [RetentionPoliciesController],
      providers: [RetentionPolicies, ChangeRetentionPolicyHandler, RebuildRetentionPoliciesHandler],
      exports: [RetentionPolicies],
    }));
  }
}
