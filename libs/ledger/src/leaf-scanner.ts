// Reads the three members a chain check needs (v, log, index, prev) straight from the leaf bytes,
// without building the whole object: JSON.parse of every leaf would cost more than hashing it,
// and full verification of a large log must run near hashing speed. Leaves are canonical JSON,
// so there is no whitespace to skip; anything this scanner cannot follow is reported as malformed.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Byte ranges [start, end) of the members' raw values inside the leaf; -1 when absent. */
export interface ScannedLeaf {
  version: number;
  index: number;
  logStart: number;
  logEnd: number;
  prevStart: number;
  prevEnd: number;
}

/** Position of the quote that closes the string whose content starts at `from`, or -1. */
function stringEnd(b: Buffer, from: number): number {
  // A plain loop: the strings of a leaf are short, and a native indexOf costs more in call
  // overhead than it saves on them.
  const end = b.length;
  for (let p = from; p < end; p++) {
    const c = b[p];
    if (c === QUOTE) return p;
    if (c === BACKSLASH) p++;
  }
  return -1;
}

/** Position just after the value that starts at `from`, or -1. */
function valueEnd(b: Buffer, from: number): number {
  const first = b[from];
  if (first === QUOTE) {
    const end = stringEnd(b, from + 1);
    return end < 0 ? -1 : end + 1;
  }
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let p = from; p < b.length; p++) {
      const c = b[p];
      if (c === QUOTE) {
        p = stringEnd(b, p + 1);
        if (p < 0) return -1;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return p + 1;
      }
    }
    return -1;
  }
  let p = from;
  while (p < b.length) {
    const c = b[p];
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET) break;
    p++;
  }
  return p === from ? -1 : p;
}

/** A canonical non-negative integer (no sign, no leading zero, no fraction), or -1. */
function parseIndex(b: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 16 || (b[start] === 0x30 && end - start > 1)) return -1;
  let n = 0;
  for (let p = start; p < end; p++) {
    const d = b[p] - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return Number.isSafeInteger(n) ? n : -1;
}

function keyIs(b: Buffer, start: number, end: number, key: string): boolean {
  if (end - start !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (b[start + i] !== key.charCodeAt(i)) return false;
  return true;
}

/**
 * Scans the top-level members of a canonical leaf. Returns null when the bytes are not a JSON
 * object this scanner can follow; members it does not find are left at -1. The result is written
 * into `out` when given (a verifier passes one object for every leaf: no allocation per leaf).
 */
export function scanLeaf(b: Buffer, out?: ScannedLeaf): ScannedLeaf | null {
  if (out === undefined) {
    out = { version: -1, index: -1, logStart: -1, logEnd: -1, prevStart: -1, prevEnd: -1 };
  } else {
    out.version = out.index = out.logStart = out.logEnd = out.prevStart = out.prevEnd = -1;
  }
  if (b.length < 2 || b[0] !== OPEN_BRACE) return null;
  let p = 1;
  if (b[p] === CLOSE_BRACE) return p + 1 === b.length ? out : null;
  for (;;) {
    if (b[p] !== QUOTE) return null;
    const keyStart = p + 1;
    const keyEnd = stringEnd(b, keyStart);
    if (keyEnd < 0 || b[keyEnd + 1] !== COLON) return null;
    const vStart = keyEnd + 2;
    const vEnd = valueEnd(b, vStart);
    if (vEnd < 0) return null;
    const keyLength = keyEnd - keyStart;
    if (keyLength === 1 && b[keyStart] === 0x76 /* v */) {
      out.version = parseIndex(b, vStart, vEnd);
    } else if (keyLength === 5 && keyIs(b, keyStart, keyEnd, 'index')) {
      out.index = parseIndex(b, vStart, vEnd);
    } else if (keyLength === 3 && keyIs(b, keyStart, keyEnd, 'log') && b[vStart] === QUOTE) {
      out.logStart = vStart + 1;
      out.logEnd = vEnd - 1;
    } else if (keyLength === 4 && keyIs(b, keyStart, keyEnd, 'prev') && b[vStart] === QUOTE) {
      out.prevStart = vStart + 1;
      out.prevEnd = vEnd - 1;
    }
    p = vEnd;
    if (b[p] === COMMA) {
      p++;
      continue;
    }
    if (b[p] === CLOSE_BRACE && p + 1 === b.length) return out;
    return null;
  }
}
