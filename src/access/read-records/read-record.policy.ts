/**
 * Which reads are recorded in the `platform` log, and what a record says. Pure: the caller passes
 * the random draw for sampling.
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
  'events.search',
  'events.read',
  'exports',
] as const;
export type ReadRoute = (typeof READ_ROUTES)[number];

/** Metadata key of `@RecordRead` on a route handler. */
export const RECORD_READ = 'audit:record-read';

/** What `@RecordRead` says of a route. */
export interface RecordReadOptions {
  readonly route: ReadRoute;
  /** Filters that identify a person (a subject): recorded beside the leaf, erasable. */
  readonly personal?: readonly string[];
}

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

/** Whether this read is recorded, given a uniform draw from [0, 1). */
export function shouldRecord(switches: ReadRecordSwitches, route: ReadRoute, draw: number): boolean {
  return draw < (switches.get(route) ?? 1);
}

// Filter values are the caller's input, recorded before any validation: keep records bounded.
const MAX_FILTERS = 20;
const MAX_FILTER_CHARS = 200;

/**
 * The filters of a read as recorded: the route's parameters and query, strings only, bounded;
 * `personal` names the filters that identify a person (they go beside the leaf, erasable, never
 * into it).
 */
export function recordedFilters(
  input: Readonly<Record<string, unknown>>,
  personal: readonly string[],
): { filters: Record<string, string>; personal: Record<string, string> } {
  const filters: Record<string, string> = {};
  const personalFilters: Record<string, string> = {};
  for (const [name, value] of Object.entries(input).slice(0, MAX_FILTERS)) {
    const text = (Array.isArray(value) ? value.join(',') : String(value)).slice(0, MAX_FILTER_CHARS);
    if (personal.includes(name)) personalFilters[name] = text;
    else filters[name.slice(0, MAX_FILTER_CHARS)] = text;
  }
  return { filters, personal: personalFilters };
}
