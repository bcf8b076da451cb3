import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { within } from '../clock/within';

/** Token of the ProjectionsHealth that `/health` reports as `projections`. */
export const PROJECTIONS_HEALTH = Symbol('PROJECTIONS_HEALTH');

/** How the read models behind the ledger are doing, as the context that projects them sees it. */
export interface ProjectionsHealth {
  /**
   * `degraded` when an entry is quarantined or this process's projector fails its passes;
   * `details` says which (counts and states only: no entry's values).
   */
  projectionsHealth(): Promise<{ degraded: boolean; details: Record<string, unknown> }>;
}

/**
 * The `projections` indicator. Degraded, never down: a quarantined entry stays until an operator
 * mends its cause, and every other entry, search and export still works (they say what they miss),
 * so a 503 would only take every instance out of its load balancer for good. Not answered within
 * 2 s (or at all): degraded too, the postgres indicator says why.
 */
export async function projectionsIndicator(
  indicators: HealthIndicatorService,
  source: ProjectionsHealth,
): Promise<HealthIndicatorResult> {
  const indicator = indicators.check('projections');
  try {
    const { degraded, details } = await within(source.projectionsHealth(), 2000);
    return degraded ? indicator.degraded(details) : indicator.up(details);
  } catch {
    return indicator.degraded({ message: 'unknown' });
  }
}
