import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

/** Token of the LedgerHealth that `/health` reports as `ledger`. */
export const LEDGER_HEALTH = Symbol('LEDGER_HEALTH');

/** Whether the ledger takes appends, as the context that keeps it sees it in this process. */
export interface LedgerHealth {
  /**
   * `degraded` while appends are refused because the database disagrees with the checkpoint
   * mirror; `details` says so with counts and codes only (no log names: `/health` needs no key).
   * From memory: no I/O.
   */
  ledgerHealth(): { degraded: boolean; details: Record<string, unknown> };
}

/**
 * The `ledger` indicator. Degraded, never down: while the database is behind or forked from its
 * checkpoint mirror appends are refused, but reads, searches, exports and verification are what
 * investigators need then, so a 503 would take every instance out of its load balancer exactly
 * when they are needed.
 */
export function ledgerIndicator(indicators: HealthIndicatorService, source: LedgerHealth): HealthIndicatorResult {
  const indicator = indicators.check('ledger');
  const { degraded, details } = source.ledgerHealth();
  return degraded ? indicator.degraded(details) : indicator.up(details);
}
