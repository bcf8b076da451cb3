import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../platform';
import { RateLimitedError } from '../platform';
import { TokenBuckets } from './rate-limit';
import { Principal } from './roles';

/**
 * Request budgets per API key, kept in this process's memory: the ingestion path must not wait
 * on Redis (Redis carries BullMQ jobs only: docs/domain.md "Components and how they start"), so
 * with N API processes a key may make up to N times its budget. Keys with the `emitter` role get
 * the high budget; all others the low one.
 */
@Injectable()
export class RateLimiter {
  private readonly buckets = new TokenBuckets();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Counts one request of `principal`; throws RateLimitedError when its budget is used up. */
  admit(principal: Principal, nowMs = Date.now()): void {
    const limits = this.config.rateLimits;
    const limit = principal.roles.includes('emitter') ? limits.emitter : limits.other;
    if (limit === null) return;
    const admission = this.buckets.take(principal.keyId, limit, nowMs);
    if (!admission.admitted) throw new RateLimitedError(admission.retryAfterSeconds);
  }
}
