/**
 * `AUDIT_READ_RECORDS`: which reads the access context records in the `platform` log. The route
 * names live here, beside the setting that names them, so the configuration is checked at start
 * without the platform knowing the access context (which owns the recording itself).
 */

/** Every route that reads the ledger on a caller's behalf. Names are permanent record (`access.<route>`). */
export const READ_ROUTES = [
  'logs.checkpoint',
  'logs.key',
  'logs.proof.inclusion',
  'logs.proof.consistency',
  'logs.tile',
  'logs.entries',
  'logs.verify',
  'logs.sign',
  'logs.quarantine',
  'logs.stream',
  'events.search',
  'events.read',
  'exports',
  'subjects.bundle',
] as const;
export type ReadRoute = (typeof READ_ROUTES)[number];

/**
 * The share of a route's reads that is recorded: 1 (all, the default), 0 (none) or a sample.
 * Routes not named keep 1.
 */
export type ReadRecordSwitches = ReadonlyMap<ReadRoute, number>;

/**
 * Parses `AUDIT_READ_RECORDS`: comma-separated `<route>=<on|off|fraction>`, where `<route>` is a
 * route name or a group such as `logs.*`; later items win. Returns every problem found.
 */
export function parseReadRecordSwitches(raw: string | undefined): { switches: ReadRecordSwitches; problems: string[] } {
  const switches = new Map<ReadRoute, number>();
  const problems: string[] = [];
  for (const item of (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const [pattern, value, ...rest] = item.split('=').map((s) => s.trim());
    const share = value === 'on' ? 1 : value === 'off' ? 0 : /^(0|1|0?\.\d+)$/.test(value ?? '') ? Number(value) : NaN;
    if (rest.length > 0 || Number.isNaN(share)) {
      problems.push(`AUDIT_READ_RECORDS item "${item}" must be <route>=on, off or a fraction from 0 to 1`);
      continue;
    }
    const routes = READ_ROUTES.filter(
      (route) =>
        route === pattern || (pattern.endsWith('.*') && route.startsWith(pattern.slice(0, -1))) || pattern === '*',
    );
    if (routes.length === 0) {
      problems.push(`AUDIT_READ_RECORDS names an unknown route "${pattern}" (known: ${READ_ROUTES.join(', ')})`);
      continue;
    }
    for (const route of routes) switches.set(route, share);
  }
  return { switches, problems };
}
