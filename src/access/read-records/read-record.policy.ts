/**
 * Which reads are recorded in the `platform` log, and what a record says. Pure: the caller passes
 * the random draw for sampling.
 */
import type { ReadRecordSwitches, ReadRoute } from '../../platform';

/** Metadata key of `@RecordRead` on a route handler. */
export const RECORD_READ = 'audit:record-read';

/** What `@RecordRead` says of a route. */
export interface RecordReadOptions {
  readonly route: ReadRoute;
  /** Filters that identify a person (a subject): recorded beside the leaf, erasable. */
  readonly personal?: readonly string[];
  /**
   * Filters whose value is personal data but names no subject (an email address, an IP address):
   * recorded as WITHHELD_FILTER, never the value, which no record could erase.
   */
  readonly withheld?: readonly string[];
}

/** What a record says instead of a withheld filter's value. */
export const WITHHELD_FILTER = '[personal]';

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
 * into it); `withheld` those recorded without their value.
 */
export function recordedFilters(
  input: Readonly<Record<string, unknown>>,
  personal: readonly string[],
  withheld: readonly string[] = [],
): { filters: Record<string, string>; personal: Record<string, string> } {
  const filters: Record<string, string> = {};
  const personalFilters: Record<string, string> = {};
  for (const [name, value] of Object.entries(input).slice(0, MAX_FILTERS)) {
    const text = (Array.isArray(value) ? value.join(',') : String(value)).slice(0, MAX_FILTER_CHARS);
    // An empty value identifies nobody: a plain filter, not personal data (which needs a subject).
    if (withheld.includes(name)) filters[name] = WITHHELD_FILTER;
    else if (personal.includes(name) && text !== '') personalFilters[name] = text;
    else filters[name.slice(0, MAX_FILTER_CHARS)] = text;
  }
  return { filters, personal: personalFilters };
}
