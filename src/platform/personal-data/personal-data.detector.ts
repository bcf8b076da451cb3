import { isIP } from 'node:net';

/**
 * What the personal-data guard recognises in a string (docs/api.md "Personal data outside
 * `personal`"). `email` and `ip` are precise enough to be on by default; `phone` and `card` are
 * switched on by `AUDIT_PERSONAL_DATA_DETECT`.
 */
export const PERSONAL_DATA_KINDS = ['email', 'ip', 'phone', 'card'] as const;
export type PersonalDataKind = (typeof PERSONAL_DATA_KINDS)[number];

/** One value that looks like personal data: where (a JSON pointer into the request) and what. */
export interface PersonalDataFinding {
  readonly path: string;
  readonly kind: PersonalDataKind;
}

// Precompiled once: the guard runs on every event. Every pattern matches a whole token (never
// inside a longer run of the characters it is made of), so `a1.2.3.4b` or `Foo::bar` are not one.
// An email: local part, `@`, a domain of dot-separated labels ending in a letters-only TLD; so
// `user@host`, `idp|ada@x` without a dot, or `@scope/pkg` are not emails.
const EMAIL =
  /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-])/;
// A dotted quad not part of a longer dotted run (`1.2.3.4.5` and version strings `1.2.3` are not).
const IPV4 = /(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)/g;
// IPv6 candidates: runs of hex digits, colons and dots with two colons at least, not touching a
// word character (`std::vector`, `12:30:45` in a timestamp are not runs of their own or not valid).
const IPV6 = /(?<![\w:.])[0-9A-Fa-f:.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?![\w:])/g;
// A phone number in international form only (`+` then 8 to 15 digits, with spaces, dots, dashes
// or brackets between groups): national forms are indistinguishable from ids and amounts.
const PHONE = /(?<![\w+])\+\d[\d ().-]{6,22}\d(?![\w])/g;
// 13 to 19 digits, possibly grouped by single spaces or dashes, not part of a longer number.
const CARD = /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d]|-\d)/g;
const HAS_DIGIT = /\d/;

function isIpv4(candidate: string): boolean {
  return isIP(candidate) === 4;
}

function anyMatch(pattern: RegExp, value: string, accept: (candidate: string) => boolean): boolean {
  pattern.lastIndex = 0;
  for (let m = pattern.exec(value); m !== null; m = pattern.exec(value)) {
    if (accept(m[0])) return true;
  }
  return false;
}

function isIpv6(candidate: string): boolean {
  // `::` alone (the unspecified address) says nothing about anyone.
  return candidate !== '::' && isIP(candidate) === 6;
}

function isPhone(candidate: string): boolean {
  const digits = candidate.replace(/\D/g, '');
  return digits.length >= 8 && digits.length <= 15;
}

/**
 * Luhn check of a digit string (ISO/IEC 7812-1 annex B). Requires `digits` to hold only 0–9.
 * `luhnValid('4111111111111111')` is true.
 */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function isCard(candidate: string): boolean {
  const digits = candidate.replace(/[ -]/g, '');
  // Issuer ranges start with 2 to 6 (Mastercard 2/5, Amex 3, Visa 4, Discover 6): a 13-digit
  // millisecond timestamp (starting with 1) or a zero-padded id never counts.
  const first = digits.charCodeAt(0) - 48;
  return first >= 2 && first <= 6 && luhnValid(digits);
}

/**
 * The kind of personal data `value` holds somewhere in it, among `kinds`, or null. Cheap for the
 * common case: a string with none of `@`, `:` or `.` (and, when phone or card are on, no digit)
 * is answered without running a pattern.
 */
export function personalDataIn(value: string, kinds: ReadonlySet<PersonalDataKind>): PersonalDataKind | null {
  const at = value.includes('@');
  const colon = value.includes(':');
  const dot = value.includes('.');
  const numbers = (kinds.has('phone') || kinds.has('card')) && HAS_DIGIT.test(value);
  if (!at && !colon && !dot && !numbers) return null;
  if (at && kinds.has('email') && EMAIL.test(value)) return 'email';
  if (kinds.has('ip')) {
    if (dot && anyMatch(IPV4, value, isIpv4)) return 'ip';
    if (colon && value.indexOf(':') !== value.lastIndexOf(':') && anyMatch(IPV6, value, isIpv6)) return 'ip';
  }
  if (numbers) {
    if (kinds.has('phone') && value.includes('+') && anyMatch(PHONE, value, isPhone)) return 'phone';
    if (kinds.has('card') && anyMatch(CARD, value, isCard)) return 'card';
  }
  return null;
}

/** A member name as a JSON pointer segment (RFC 6901: `~` as `~0`, `/` as `~1`). */
export function pointerSegment(name: string): string {
  return name.includes('~') || name.includes('/') ? name.replace(/~/g, '~0').replace(/\//g, '~1') : name;
}

/**
 * Every string inside `value` (recursively through arrays and objects; member names are not
 * looked at) that holds personal data of `kinds`, with its JSON pointer under `path`. A path
 * for which `skip` answers true is not entered (a field declared not personal).
 */
export function findPersonalData(
  value: unknown,
  path: string,
  kinds: ReadonlySet<PersonalDataKind>,
  skip?: (path: string) => boolean,
  found: PersonalDataFinding[] = [],
): PersonalDataFinding[] {
  if (skip !== undefined && skip(path)) return found;
  if (typeof value === 'string') {
    const kind = personalDataIn(value, kinds);
    if (kind !== null) found.push({ path, kind });
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) findPersonalData(value[i], `${path}/${i}`, kinds, skip, found);
  } else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      findPersonalData((value as Record<string, unknown>)[key], `${path}/${pointerSegment(key)}`, kinds, skip, found);
    }
  }
  return found;
}
