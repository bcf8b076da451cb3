import { toErrorBody } from '../platform';
import {
  ComplianceMinimumError,
  ComplianceModeError,
  ReasonRequiredError,
  RetentionPeriodError,
  RetentionPolicyChangedError,
  RetentionRebuildRefusedError,
  UnknownCategoryError,
} from './retention.errors';
import * as errors from './retention.errors';

describe('retention errors as HTTP', () => {
  it('every error of the context has its status, and field errors name their field', () => {
    const cases: [Error, number, unknown?][] = [
      [new UnknownCategoryError('weather'), 404],
      [new ComplianceMinimumError('billing', 3653), 409],
      [new ComplianceModeError('billing'), 409],
      [new RetentionPolicyChangedError(), 409],
      [new RetentionRebuildRefusedError(['admin: a row no entry records']), 409],
      [
        new ReasonRequiredError(365),
        400,
        [{ path: '/reason', message: 'is required to shorten the minimum (now 365 days)' }],
      ],
      [
        new RetentionPeriodError('/maxDays', 'must be at least minDays (10), or null'),
        400,
        [{ path: '/maxDays', message: 'must be at least minDays (10), or null' }],
      ],
    ];
    for (const [error, status, details] of cases) {
      const body = toErrorBody(error);
      expect(body).toMatchObject({ statusCode: status, code: (error as unknown as { code: string }).code });
      expect(body.details).toEqual(details);
    }
    // A new concrete error class must be added above.
    const concrete = Object.values(errors).filter(
      (value) => typeof value === 'function' && !['RetentionError', 'RetentionFieldError'].includes(value.name),
    );
    expect(concrete.map((c) => c.name).sort()).toEqual(cases.map(([e]) => e.constructor.name).sort());
  });
});
