import type { JsonValue } from '../canonical-json';

// The export format (docs/ledger-format.md "Export format", `GET /exports`): NDJSON, a header line
// then one line per entry.
// The writers below sit on the service's streaming path, once per exported entry, so they build
// an object literal in a fixed member order and hand it to JSON.stringify: no canonicalization
// (nothing here is hashed or signed as text; the verifier reads the lines back with JSON.parse).

/** The export format version this library writes and reads (`v` of the header). */
export const EXPORT_FORMAT_VERSION = 1;

/**
 * Line 1 of an export: which log, the signed checkpoint every entry's proof leads to, the key
 * that signed it, and how many entry lines follow. `filter` and `exportedAt` are informational:
 * nothing in the file proves them.
 */
export interface ExportHeader {
  readonly v: typeof EXPORT_FORMAT_VERSION;
  /** The log name (LOG_NAME_PATTERN). */
  readonly log: string;
  /** The log's signed checkpoint note, as signCheckpoint produces it (ends in "\n"). */
  readonly checkpoint: string;
  /** The verifier key in Go note format, as formatVerifierKey produces it. */
  readonly key: string;
  /** Number of entry lines that follow (an integer >= 0). */
  readonly count: number;
  /** The filters the export was made with. */
  readonly filter: { readonly [name: string]: string };
  /** When the export was made, RFC 3339 UTC. */
  readonly exportedAt: string;
  /**
   * Present, and true, exactly when `quarantined` is: entries in the export's range that the
   * service's read model could not project, so its filter could not select them. Informational
   * like `filter`: an entry line of one is checked like any other.
   */
  readonly incomplete?: true;
  /** Their indices, strictly ascending, each below the checkpoint's size; never empty. */
  readonly quarantined?: readonly number[];
  /**
   * Present when the service has a witness policy: the witnesses whose cosignatures the
   * checkpoint note carries (names from the policy) and whether they meet its quorum.
   * Informational: the note's cosignature lines are the evidence, and a verifier given the
   * policy decides from them alone.
   */
  readonly witnessed?: ExportWitnessed;
}

/** The header's account of the checkpoint's cosignatures (ExportHeader.witnessed). */
export interface ExportWitnessed {
  readonly quorumMet: boolean;
  readonly cosigners: readonly string[];
}

/**
 * The personal data kept beside a leaf, as an export carries it: the data and its salt (so that
 * `verifyPersonalDigest(salt, data, leaf.personal.digest)` holds), or the mark that it was erased.
 */
export type ExportPersonal =
  { readonly data: { readonly [member: string]: JsonValue }; readonly salt: string } | { readonly erased: true };

/** One entry line of an export. */
export interface ExportEntryLine {
  /** The leaf's index in the log (an integer >= 0, below the checkpoint's size). */
  readonly index: number;
  /** Standard base64 (with padding) of the exact leaf bytes. */
  readonly leaf: string;
  /** Standard base64 of each hash of the RFC 6962 inclusion proof of `index` at the checkpoint's size, leaf upward. */
  readonly proof: readonly string[];
  /** Present exactly when the leaf has a `personal` member. */
  readonly personal?: ExportPersonal;
}

/**
 * The header line of an export: its JSON with members in the order of ExportHeader, then "\n";
 * `incomplete` and `quarantined` only when `quarantined` is given and not empty, so a complete
 * export reads as it always did; `witnessed` only when given. `v` is always EXPORT_FORMAT_VERSION. Nothing is checked, for speed: requires members of the
 * types ExportHeader states, a JSON-safe `filter` (string values only) and a checkpoint note and
 * key text as the note library produces them; ExportVerifier is what finds a bad one.
 */
export function formatExportHeader(
  header: Omit<ExportHeader, 'v'> & { readonly v?: typeof EXPORT_FORMAT_VERSION },
): string {
  return `${JSON.stringify({
    v: EXPORT_FORMAT_VERSION,
    log: header.log,
    checkpoint: header.checkpoint,
    key: header.key,
    count: header.count,
    filter: header.filter,
    exportedAt: header.exportedAt,
    ...(header.quarantined !== undefined && header.quarantined.length > 0
      ? { incomplete: true, quarantined: header.quarantined }
      : {}),
    ...(header.witnessed !== undefined
      ? { witnessed: { quorumMet: header.witnessed.quorumMet, cosigners: header.witnessed.cosigners } }
      : {}),
  })}\n`;
}

/**
 * One entry line of an export: its JSON with members `index`, `leaf`, `proof`, `personal` (that
 * one only when given), then "\n". Nothing is checked, for speed: requires the types
 * ExportEntryLine states, `leaf` and every proof hash in standard base64 as Buffer#toString
 * produces it (nothing in them needs escaping, so they are written as they are: five times faster
 * than JSON.stringify of the line, which the service runs once per exported entry) and, in
 * `personal.data`, values JSON carries unchanged (as the canonical JSON the digest was computed
 * over already guarantees for stored data).
 */
export function formatExportEntry(entry: ExportEntryLine): string {
  const proof = entry.proof.length === 0 ? '[]' : `["${entry.proof.join('","')}"]`;
  const line = `{"index":${entry.index},"leaf":"${entry.leaf}","proof":${proof}`;
  const p = entry.personal;
  if (p === undefined) return `${line}}\n`;
  const personal = 'erased' in p ? '{"erased":true}' : `{"data":${JSON.stringify(p.data)},"salt":"${p.salt}"}`;
  return `${line},"personal":${personal}}\n`;
}
