import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { within } from '../clock/within';

/** Token of the WitnessHealth that `/health` reports as `witnesses`. */
export const WITNESS_HEALTH = Symbol('WITNESS_HEALTH');

/** Whether this deployment's checkpoints get the witnesses' quorum in time, as the witness context sees it. */
export interface WitnessHealth {
  /** False when no witness policy is configured: `/health` then has no `witnesses` entry. */
  witnessed(): boolean;
  /**
   * `degraded` when a log's signed checkpoint has waited longer than the configured age for a
   * checkpoint that meets the quorum; `details` says how many logs and how late (counts and
   * policy-local witness names only: no log names, `/health` needs no key).
   */
  witnessHealth(): Promise<{ degraded: boolean; details: Record<string, unknown> }>;
}

/**
 * The `witnesses` indicator. Degraded, never down: appends, reads and verification work without
 * the witnesses' cosignatures, which are added when a quorum of them answers again, so a 503 would
 * only take every instance out of its load balancer over a third party. Not answered within 2 s:
 * degraded too, the postgres indicator says why.
 */
export async function witnessIndicator(
  indicators: HealthIndicatorService,
  source: WitnessHealth,
): Promise<HealthIndicatorResult> {
  const indicator = indicators.check('witnesses');
  try {
    const { degraded, details } = await within(source.witnessHealth(), 2000);
    return degraded ? indicator.degraded(details) : indicator.up(details);
  } catch {
    return indicator.degraded({ message: 'unknown' });
  }
}
