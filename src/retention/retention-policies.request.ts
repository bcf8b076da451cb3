import { validator } from '../platform';
import { PolicyChange, RETENTION_MODES, RetentionMode } from './retention-policy.decider';

/** Limits on policies (docs/api.md "Retention policies"). */
export const RETENTION_LIMITS = { maxDays: 36_525, reasonLength: 2000 } as const;

const days = { type: 'integer', minimum: 0, maximum: RETENTION_LIMITS.maxDays };

export const PUT_RETENTION_POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['minDays', 'maxDays', 'mode'],
  properties: {
    minDays: days,
    // null: no automatic purge. Named explicitly, so leaving it out is a mistake, not a choice.
    maxDays: { type: ['integer', 'null'], minimum: 0, maximum: RETENTION_LIMITS.maxDays },
    mode: { type: 'string', enum: RETENTION_MODES },
    // Text that says something: not empty, not only spaces.
    reason: { type: 'string', minLength: 1, maxLength: RETENTION_LIMITS.reasonLength, pattern: '\\S' },
  },
} as const;

const validatePut = validator<{ minDays: number; maxDays: number | null; mode: RetentionMode; reason?: string }>(
  PUT_RETENTION_POLICY_SCHEMA,
);

export function parsePutRetentionPolicy(body: unknown): PolicyChange {
  const { minDays, maxDays, mode, reason } = validatePut(body);
  return reason === undefined ? { minDays, maxDays, mode } : { minDays, maxDays, mode, reason };
}
