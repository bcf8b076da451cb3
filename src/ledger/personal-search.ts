import { createHmac } from 'node:crypto';
import { SocketAddress, isIP } from 'node:net';

/**
 * The personal-data search index, pure part (docs/api.md "Search by personal data"): which values
 * of an entry's `personal.data` are indexed, how a value is normalised, and its keyed digest. The
 * index holds HMAC-SHA256 digests under the search key (kept outside the database), never a value.
 */

/** The kinds of personal value that can be searched, as stored in `personal_search.field`. */
export const PERSONAL_SEARCH_FIELDS = ['email', 'ip'] as const;
export type PersonalSearchField = (typeof PERSONAL_SEARCH_FIELDS)[number];

/** One searchable value of an entry: its kind and normalised form. */
export interface PersonalSearchTerm {
  readonly field: PersonalSearchField;
  readonly value: string;
}

/** Most index rows one entry gets: personal data with more distinct emails and addresses is indexed by its first ones. */
export const MAX_TERMS_PER_ENTRY = 16;

const MAX_EMAIL_CHARS = 254;
// A whole value that is an email address: local part, `@`, dot-separated domain labels ending in a
// letters-only top-level domain (the same shape the personal-data guard refuses outside `personal`).
const EMAIL = /^[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

/** The searchable form of an email address (trimmed, lower case), or null when `text` is not one. */
export function normaliseEmail(text: string): string | null {
  const value = text.trim();
  if (value.length > MAX_EMAIL_CHARS || !EMAIL.test(value)) return null;
  return value.toLowerCase();
}

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * The searchable form of an IP address, or null when `text` is not one: the address as `node:net`
 * prints it (IPv4 dotted decimal; IPv6 lower case with the longest run of zero groups compressed,
 * RFC 5952), an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, `::ffff:a00:1`) as its IPv4 address,
 * and an IPv6 zone (`%eth0`) dropped. Leading zeros in IPv4 parts are refused, as `isIP` does.
 */
export function normaliseIp(text: string): string | null {
  const value = text.trim();
  const family = isIP(value);
  if (family === 0) return null;
  const printed = new SocketAddress({ address: value, family: family === 4 ? 'ipv4' : 'ipv6' }).address.toLowerCase();
  return MAPPED_V4.exec(printed)?.[1] ?? printed;
}

/** The normalised value of `text` as a `field`, or null when it is not one. */
export function normaliseTerm(field: PersonalSearchField, text: string): string | null {
  return field === 'email' ? normaliseEmail(text) : normaliseIp(text);
}

/**
 * The values of `data` (an entry's `personal.data`) that are indexed: every string member of the
 * top-level object, and every string in a top-level array member, whose whole value (trimmed) is
 * an email address or an IP address, whatever the member is called. Nested objects are not
 * indexed. Distinct terms, in the order met, at most MAX_TERMS_PER_ENTRY.
 */
export function searchTermsOf(data: unknown): PersonalSearchTerm[] {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return [];
  const terms = new Map<string, PersonalSearchTerm>();
  const consider = (text: unknown) => {
    if (typeof text !== 'string' || terms.size >= MAX_TERMS_PER_ENTRY) return;
    // Cheap first: every email has an `@`, every address a `.` or `:`.
    const email = text.includes('@') ? normaliseEmail(text) : null;
    const term: PersonalSearchTerm | null = email
      ? { field: 'email', value: email }
      : text.includes('.') || text.includes(':')
        ? ((ip) => (ip ? { field: 'ip' as const, value: ip } : null))(normaliseIp(text))
        : null;
    if (term) terms.set(`${term.field}\u0000${term.value}`, term);
  };
  for (const member of Object.values(data as Record<string, unknown>)) {
    if (Array.isArray(member)) member.forEach(consider);
    else consider(member);
  }
  return [...terms.values()];
}

/** Bytes of a search key, and of each digest. */
export const SEARCH_KEY_BYTES = 32;

/**
 * The digest the index holds for a normalised term: HMAC-SHA256 under the search key of
 * `audit-personal-search/v1`, the field and the value, separated by NUL (which neither contains),
 * so an email and an address never share a digest.
 */
export function searchDigest(key: Buffer, term: PersonalSearchTerm): Buffer {
  return createHmac('sha256', key).update(`audit-personal-search/v1\u0000${term.field}\u0000${term.value}`).digest();
}

/** What a deployment's search key is checked against at start: its digest of a fixed text. */
export function searchKeyCheck(key: Buffer): Buffer {
  return createHmac('sha256', key).update('audit-personal-search/v1\u0000key-check').digest();
}
