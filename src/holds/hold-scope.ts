/**
 * Which entries a legal hold covers (docs/domain.md "Legal holds"): the one rule every caller uses:
 * the check API, the deletion jobs, the hold guard's answers. Pure.
 */

/** What a hold covers inside its tenant. An empty or absent dimension matches everything. */
export interface HoldScope {
  readonly subjects?: readonly string[];
  readonly actors?: readonly string[];
  readonly categories?: readonly string[];
  readonly types?: readonly string[];
  /** Start of the window (inclusive), RFC 3339. */
  readonly from?: string;
  /** End of the window (exclusive), RFC 3339. */
  readonly to?: string;
}

/**
 * An entry, or a question about data, to match against holds. A dimension left out is unknown,
 * and an unknown dimension is taken to match: when in doubt, the data is held.
 */
export interface HoldQuestion {
  readonly tenant: string;
  readonly subject?: string;
  /** The actor's id (`actor.id` of an entry). */
  readonly actor?: string;
  readonly category?: string;
  readonly type?: string;
  /** When the data is from (an entry's recordedAt), RFC 3339. */
  readonly at?: string;
}

/** The tenant a hold is placed on, or `*` for every tenant. */
export const EVERY_TENANT = '*';

function dimensionMatches(named: readonly string[] | undefined, value: string | undefined): boolean {
  return named === undefined || named.length === 0 || value === undefined || named.includes(value);
}

/** Whether a hold on `tenant` with `scope` covers `question`. */
export function holdCovers(
  hold: { readonly tenant: string; readonly scope: HoldScope },
  question: HoldQuestion,
): boolean {
  const { tenant, scope } = hold;
  if (tenant !== EVERY_TENANT && tenant !== question.tenant) return false;
  if (question.at !== undefined) {
    const at = Date.parse(question.at);
    if (scope.from !== undefined && at < Date.parse(scope.from)) return false;
    if (scope.to !== undefined && at >= Date.parse(scope.to)) return false;
  }
  return (
    dimensionMatches(scope.subjects, question.subject) &&
    dimensionMatches(scope.actors, question.actor) &&
    dimensionMatches(scope.categories, question.category) &&
    dimensionMatches(scope.types, question.type)
  );
}

const LISTS = ['subjects', 'actors', 'categories', 'types'] as const;

function listWidens(before: readonly string[] | undefined, after: readonly string[] | undefined): boolean {
  if (after === undefined || after.length === 0) return true;
  if (before === undefined || before.length === 0) return false;
  return before.every((value) => after.includes(value));
}

/**
 * The dimensions in which `after` covers less than `before` (empty when `after` covers at least
 * everything `before` did). Amending a hold may only widen it; narrowing is a release.
 */
export function narrowedDimensions(before: HoldScope, after: HoldScope): string[] {
  const narrowed: string[] = LISTS.filter((list) => !listWidens(before[list], after[list]));
  if (after.from !== undefined && (before.from === undefined || Date.parse(after.from) > Date.parse(before.from)))
    narrowed.push('from');
  if (after.to !== undefined && (before.to === undefined || Date.parse(after.to) < Date.parse(before.to)))
    narrowed.push('to');
  return narrowed;
}
