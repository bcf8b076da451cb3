/** The public face of the retention context: what other contexts may use. Nothing else is imported across contexts. */
export { RetentionPolicies } from './retention-policies';
export { RetentionPolicyChangedEvent } from './retention-policy-changed.event';
export { minimumUntil, purgeDue } from './retention-policy.decider';
export { RetentionModule } from './retention.module';
