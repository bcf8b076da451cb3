import { CanonicalJsonError, JsonValue } from '../canonical-json';
import { LOG_NAME_PATTERN, LedgerEntry, decodeLeaf } from '../entry';
import { HASH_SIZE, MAX_LEAF_BYTES, leafHash } from '../hashing';
import { LedgerError } from '../ledger.errors';
import { InvalidProofError, RootMismatchError, verifyInclusion } from '../merkle';
import { Checkpoint, NoteVerificationError, NoteVerifier, openCheckpoint, parseVerifierKey } from '../note';
import { PERSONAL_SALT_BYTES, verifyPersonalDigest } from '../personal-data';
import type { WitnessPolicy } from '../witness/policy';
import { openCheckpointWithPolicy } from '../witness/tlog-proof';
import { EXPORT_FORMAT_VERSION } from './export-format';

/**
 * What a check of an export found wrong:
 * - header (line 1): `malformed_header` (not a JSON object, a member missing, of the wrong type
 *   or unknown, or no header at all), `unsupported_version`, `bad_key` (the key does not parse),
 *   `key_mismatch` (not the trusted key), `bad_checkpoint` (not signed by the key, or not a
 *   checkpoint), `wrong_log` (the checkpoint's origin is not this log's); with a witness
 *   policy: `policy_log_mismatch` (no log of the policy signed the checkpoint), `bad_cosignature`
 *   (a signature line by one of the policy's witnesses does not verify), `quorum_not_met`;
 * - entry lines: `blank_line`, `malformed_line` (not JSON, a member missing, malformed or
 *   unknown), `malformed_leaf` (not strict base64, or not a well-formed leaf), `wrong_log`,
 *   `wrong_index` (the leaf says another index), `out_of_order`, `beyond_checkpoint`,
 *   `bad_proof`, `personal_missing`, `personal_unexpected`, `personal_mismatch`;
 * - the file: `count_mismatch` (more or fewer entry lines than the header announced).
 */
export type ExportProblemCode =
  | 'malformed_header'
  | 'unsupported_version'
  | 'bad_key'
  | 'key_mismatch'
  | 'bad_checkpoint'
  | 'wrong_log'
  | 'policy_log_mismatch'
  | 'bad_cosignature'
  | 'quorum_not_met'
  | 'blank_line'
  | 'malformed_line'
  | 'malformed_leaf'
  | 'wrong_index'
  | 'out_of_order'
  | 'beyond_checkpoint'
  | 'bad_proof'
  | 'personal_missing'
  | 'personal_unexpected'
  | 'personal_mismatch'
  | 'count_mismatch';

/**
 * One problem: `line` is the 1-based line number in the file (the header is line 1), `index`
 * the leaf index the line claims when it has a readable one. `message` names what is wrong and
 * never quotes personal data (nor any text of the line).
 */
export interface ExportProblem {
  readonly line: number;
  readonly index?: number;
  readonly code: ExportProblemCode;
  readonly message: string;
}

/** The outcome of checking an export. `ok` is true exactly when no problem was found. */
export interface ExportVerificationReport {
  readonly ok: boolean;
  /** The header's log name, or null when the header has none usable. */
  readonly log: string | null;
  /** The size of the verified checkpoint, or null when none could be verified. */
  readonly size: number | null;
  /** The number of entries the header announces, or null when it has no usable count. */
  readonly count: number | null;
  /** Entry lines read (every non-blank line after the header). */
  readonly entries: number;
  /** Entry lines that passed every check, their inclusion proof included (0 without a verified checkpoint). */
  readonly verified: number;
  /** Entry lines whose leaf commits to personal data that the export marks erased. */
  readonly erased: number;
  /** True exactly when a trusted key was given and the file's key is that key. */
  readonly keyTrusted: boolean;
  /** The first problems found, in line order (count_mismatch last), at most `maxProblems`. */
  readonly problems: ExportProblem[];
  /** How many more problems were found but not listed; absent when none were left out. */
  readonly problemsOmitted?: number;
  /** The smallest line number with a problem, listed or not. */
  readonly firstBadLine?: number;
  /**
   * The indices the header lists as quarantined (the export says it is incomplete: its filter
   * could not select them); absent when it lists none. The file alone cannot prove the list.
   */
  readonly quarantined?: number[];
  /**
   * With a witness policy and a checkpoint signed by one of its logs: the policy's witnesses
   * whose cosignatures on the checkpoint verified, and whether they meet its quorum.
   */
  readonly witness?: { readonly cosigners: string[]; readonly quorumMet: boolean };
}

/** What an export is checked against. */
export interface ExportVerifierOptions {
  /**
   * The log's verifier key as published out of band (`GET /v1/logs/<log>/key`), in Go note
   * format. Without it the file's own key is used, which shows the file is intact and
   * self-consistent but not that the log's owner signed it.
   */
  readonly trustedKey?: string;
  /** Stop listing problems after this many (default 100); the check still reads every line. */
  readonly maxProblems?: number;
  /**
   * A witness policy (C2SP tlog-policy, parseWitnessPolicy): the checkpoint must also be signed
   * by one of its logs and carry cosignatures that meet its quorum. Without it cosignatures are
   * ignored, as any signature by an unknown key is.
   */
  readonly policy?: WitnessPolicy;
}

/** ExportVerifier.push or finish called after finish. */
export class ExportVerifierFinishedError extends LedgerError {
  readonly code = 'export_verifier_finished';
}

const HEADER_MEMBERS = new Set([
  'v',
  'log',
  'checkpoint',
  'key',
  'count',
  'filter',
  'exportedAt',
  'incomplete',
  'quarantined',
  'witnessed',
]);
const ENTRY_MEMBERS = new Set(['index', 'leaf', 'proof', 'personal']);
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;
const BLANK = /^\s*$/;

type JsonObject = { [member: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The bytes of `text` when it is strict standard base64 (padding required, canonical), else
 * undefined. Buffer's decoder skips bad characters and accepts URL-safe or unpadded input, but
 * then its re-encoding differs from `text`: one comparison is the whole check, and cheaper on a
 * long leaf than a validating regular expression first.
 */
function strictBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** The entry line's personal member, checked for shape only. */
type LinePersonal =
  { readonly data: { [member: string]: JsonValue }; readonly salt: Buffer } | { readonly erased: true };

/**
 * Checks an export (see export-format.ts) line by line, as it streams: the header's signed
 * checkpoint under the trusted key (or, without one, the file's own key); for every entry line
 * its leaf's format, log and index, ascending order, the inclusion proof of the leaf in the
 * checkpoint's tree, and the personal data against the leaf's digest; finally the number of
 * entry lines against the header's count. Holds O(1) memory in the number of lines (the
 * problems listed are capped), so a file of any length can be checked.
 * Feed every line of the file, in order and without its newline, to `push`, then call `finish`
 * once. One empty line at the very end (what splitting a file that ends in "\n" gives) is
 * allowed; any other blank line is a problem.
 */
export class ExportVerifier {
  private readonly trustedKey: string | undefined;
  private readonly trusted: NoteVerifier | null;
  private readonly maxProblems: number;
  private readonly policy: WitnessPolicy | null;
  private witness: { cosigners: string[]; quorumMet: boolean } | null = null;
  private readonly problems: ExportProblem[] = [];
  private problemCount = 0;
  private firstBadLine = 0;

  private log: string | null = null;
  private count: number | null = null;
  private checkpoint: Checkpoint | null = null;
  private keyTrusted = false;
  private quarantined: number[] | null = null;

  private lineNumber = 0;
  private lastLine = 0;
  private pendingBlank = 0;
  private previousIndex = -1;
  private entries = 0;
  private verified = 0;
  private erased = 0;
  private surplusLine = 0;
  private finished = false;

  /**
   * Requires `trustedKey`, when given, to be a valid verifier key text: a NoteKeyError
   * (`malformed_key`) otherwise, since checking against a key that cannot be read proves nothing.
   */
  constructor(options: ExportVerifierOptions = {}) {
    this.trustedKey = options.trustedKey;
    this.trusted = options.trustedKey === undefined ? null : parseVerifierKey(options.trustedKey);
    this.maxProblems = options.maxProblems ?? 100;
    this.policy = options.policy ?? null;
  }

  /** Checks the next line of the file, given without its line ending. Throws ExportVerifierFinishedError after finish. */
  push(line: string): void {
    if (this.finished) throw new ExportVerifierFinishedError('ExportVerifier.push after finish');
    const n = ++this.lineNumber;
    if (n === 1) {
      this.lastLine = n;
      this.readHeader(line);
      return;
    }
    // A blank line is a problem only once another line follows it: the last one may be the
    // empty string after the file's final newline.
    if (this.pendingBlank !== 0) {
      this.report({ line: this.pendingBlank, code: 'blank_line', message: 'blank line between entry lines' });
      this.pendingBlank = 0;
    }
    if (BLANK.test(line)) {
      this.pendingBlank = n;
      return;
    }
    this.lastLine = n;
    this.readEntry(line, n);
  }

  /** Ends the check and reports. Throws ExportVerifierFinishedError when called twice. */
  finish(): ExportVerificationReport {
    if (this.finished) throw new ExportVerifierFinishedError('ExportVerifier.finish called twice');
    this.finished = true;
    if (this.lineNumber === 0) {
      this.report({ line: 1, code: 'malformed_header', message: 'the file is empty: there is no header line' });
    }
    if (this.count !== null && this.entries !== this.count) {
      const fewer = this.entries < this.count;
      this.report({
        line: fewer ? this.lastLine + 1 : this.surplusLine,
        code: 'count_mismatch',
        message: fewer
          ? `the header announces ${this.count} entry lines but the file has ${this.entries}: lines are missing (a truncated file?)`
          : `the header announces ${this.count} entry lines but the file has ${this.entries}: the entry lines from this one on were added, or the count was changed`,
      });
    }
    const omitted = this.problemCount - this.problems.length;
    return {
      ok: this.problemCount === 0,
      log: this.log,
      size: this.checkpoint === null ? null : this.checkpoint.size,
      count: this.count,
      entries: this.entries,
      verified: this.verified,
      erased: this.erased,
      keyTrusted: this.keyTrusted,
      problems: this.problems,
      ...(omitted > 0 ? { problemsOmitted: omitted } : {}),
      ...(this.firstBadLine > 0 ? { firstBadLine: this.firstBadLine } : {}),
      ...(this.quarantined !== null ? { quarantined: this.quarantined } : {}),
      ...(this.witness !== null ? { witness: this.witness } : {}),
    };
  }

  private readHeader(line: string): void {
    const bad = (message: string, code: ExportProblemCode = 'malformed_header') =>
      this.report({ line: 1, code, message });
    let header: unknown;
    try {
      header = JSON.parse(line);
    } catch {
      // JSON.parse's message quotes the input: never passed on.
      bad(line === '' ? 'the header line is empty' : 'the header line is not JSON');
      return;
    }
    if (!isObject(header)) {
      bad('the header line is not a JSON object');
      return;
    }
    if (header.v !== EXPORT_FORMAT_VERSION) {
      if (typeof header.v === 'number')
        bad(`export format version is not ${EXPORT_FORMAT_VERSION}`, 'unsupported_version');
      else bad(`v must be ${EXPORT_FORMAT_VERSION}`);
    }
    if (typeof header.log === 'string' && LOG_NAME_PATTERN.test(header.log)) this.log = header.log;
    else bad('log must be a log name');
    if (isCount(header.count)) this.count = header.count;
    else bad('count must be an integer >= 0');
    if (!isObject(header.filter) || !Object.values(header.filter).every((value) => typeof value === 'string')) {
      bad('filter must be an object of strings');
    }
    if (
      typeof header.exportedAt !== 'string' ||
      !RFC3339_UTC.test(header.exportedAt) ||
      Number.isNaN(Date.parse(header.exportedAt))
    ) {
      bad('exportedAt must be an RFC 3339 UTC time');
    }
    if ('incomplete' in header || 'quarantined' in header) {
      const list = header.quarantined;
      if (
        header.incomplete !== true ||
        !Array.isArray(list) ||
        list.length === 0 ||
        !list.every((n, i) => isCount(n) && (i === 0 || n > (list[i - 1] as number)))
      ) {
        bad('incomplete must be true and quarantined a non-empty list of ascending indices, both or neither');
      } else this.quarantined = list as number[];
    }
    if ('witnessed' in header) {
      const w = header.witnessed;
      if (
        !isObject(w) ||
        typeof w.quorumMet !== 'boolean' ||
        !Array.isArray(w.cosigners) ||
        !w.cosigners.every((name) => typeof name === 'string') ||
        Object.keys(w).some((member) => member !== 'quorumMet' && member !== 'cosigners')
      ) {
        bad('witnessed must be an object of quorumMet (a boolean) and cosigners (a list of names)');
      }
    }
    if (Object.keys(header).some((member) => !HEADER_MEMBERS.has(member))) {
      bad(
        'the header has members other than v, log, checkpoint, key, count, filter, exportedAt, incomplete, quarantined and witnessed',
      );
    }

    let own: NoteVerifier | null = null;
    if (typeof header.key !== 'string') {
      bad('key must be a verifier key');
    } else {
      try {
        own = parseVerifierKey(header.key);
      } catch (e) {
        bad(`key: ${e instanceof LedgerError ? e.message : 'unreadable'}`, 'bad_key');
      }
    }
    let verifier = own;
    if (this.trusted !== null) {
      // Both texts parsed as canonical key texts, so equal text means the same name and key.
      if (header.key === this.trustedKey) this.keyTrusted = true;
      else
        bad("the file's key is not the trusted key: the entries are checked against the trusted key", 'key_mismatch');
      verifier = this.trusted;
    }

    if (typeof header.checkpoint !== 'string') {
      bad('checkpoint must be a signed checkpoint note');
    } else if (verifier !== null) {
      try {
        this.checkpoint = openCheckpoint(header.checkpoint, verifier);
      } catch (e) {
        const reason = e instanceof LedgerError ? e.message : 'unreadable';
        bad(`checkpoint rejected: ${reason}; no entry's inclusion can be checked`, 'bad_checkpoint');
      }
    }
    if (this.checkpoint !== null && this.log !== null && !this.checkpoint.origin.endsWith(`/${this.log}`)) {
      bad(`the checkpoint's origin is not that of log ${this.log}`, 'wrong_log');
    }
    if (this.checkpoint !== null && this.policy !== null) this.checkWitnesses(header.checkpoint as string, bad);
    if (
      this.checkpoint !== null &&
      this.quarantined !== null &&
      this.quarantined[this.quarantined.length - 1] >= this.checkpoint.size
    ) {
      bad("a quarantined index is beyond the checkpoint's size");
    }
  }

  /**
   * The checkpoint against the witness policy: signed by one of its logs, every signature by a
   * policy key valid, and the quorum met. The header's own `witnessed` claim plays no part.
   */
  private checkWitnesses(note: string, bad: (message: string, code: ExportProblemCode) => void): void {
    try {
      const checked = openCheckpointWithPolicy(note, this.policy as WitnessPolicy);
      this.witness = { cosigners: [...checked.cosigners], quorumMet: checked.quorumMet };
      if (!checked.quorumMet) {
        const by = checked.cosigners.length === 0 ? 'no witness' : checked.cosigners.join(', ');
        bad(`the checkpoint's cosignatures (by ${by}) do not meet the policy's quorum`, 'quorum_not_met');
      }
    } catch (e) {
      if (e instanceof NoteVerificationError && e.reason === 'invalid_signature') {
        bad(`a signature by a key of the policy does not verify: ${e.message}`, 'bad_cosignature');
      } else {
        const reason = e instanceof LedgerError ? e.message : 'unreadable';
        bad(`the checkpoint is not signed by a log of the witness policy: ${reason}`, 'policy_log_mismatch');
      }
    }
  }

  private readEntry(text: string, line: number): void {
    this.entries++;
    if (this.count !== null && this.entries === this.count + 1) this.surplusLine = line;
    const problemsBefore = this.problemCount;
    const bad = (code: ExportProblemCode, message: string, index?: number) =>
      this.report(index === undefined ? { line, code, message } : { line, index, code, message });

    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      bad('malformed_line', 'the line is not JSON');
      return;
    }
    if (!isObject(value)) {
      bad('malformed_line', 'the line is not a JSON object');
      return;
    }

    const index = isCount(value.index) ? value.index : undefined;
    if (index === undefined) bad('malformed_line', 'index must be an integer >= 0');
    if (Object.keys(value).some((member) => !ENTRY_MEMBERS.has(member))) {
      bad('malformed_line', 'the line has members other than index, leaf, proof and personal', index);
    }

    let leaf: Buffer | undefined;
    if (typeof value.leaf !== 'string') bad('malformed_line', 'leaf must be a base64 string', index);
    else {
      leaf = strictBase64(value.leaf);
      if (leaf === undefined) bad('malformed_leaf', 'leaf is not strict standard base64', index);
    }

    let proof: Buffer[] | undefined;
    if (!Array.isArray(value.proof)) bad('malformed_line', 'proof must be an array of base64 hashes', index);
    else {
      proof = [];
      for (let i = 0; i < value.proof.length; i++) {
        const item: unknown = value.proof[i];
        const hash = typeof item === 'string' ? strictBase64(item) : undefined;
        if (hash === undefined || hash.length !== HASH_SIZE) {
          bad('malformed_line', `proof[${i}] is not standard base64 of ${HASH_SIZE} bytes`, index);
          proof = undefined;
          break;
        }
        proof.push(hash);
      }
    }

    let personal: LinePersonal | undefined;
    let personalOk = true;
    if (value.personal !== undefined) {
      personal = readPersonal(value.personal);
      if (personal === undefined) {
        personalOk = false;
        bad(
          'malformed_line',
          `personal must be {"data": <object>, "salt": <base64 of ${PERSONAL_SALT_BYTES} bytes>} or {"erased": true}`,
          index,
        );
      }
    }

    if (index !== undefined) {
      if (index <= this.previousIndex) {
        bad('out_of_order', `index ${index} does not come after index ${this.previousIndex} of the line before`, index);
      }
      this.previousIndex = index;
    }

    let entry: LedgerEntry | undefined;
    if (leaf !== undefined) {
      try {
        entry = decodeLeaf(leaf);
      } catch (e) {
        bad(
          'malformed_leaf',
          `leaf is not a well-formed entry: ${e instanceof LedgerError ? e.message : 'unreadable'}`,
          index,
        );
      }
    }
    if (entry !== undefined) {
      if (this.log !== null && entry.log !== this.log)
        bad('wrong_log', `the leaf belongs to log ${entry.log}, not ${this.log}`, index);
      if (index !== undefined && entry.index !== index)
        bad('wrong_index', `the leaf says index ${entry.index}, the line ${index}`, index);
      const committed = entry.personal;
      if (committed !== undefined && value.personal === undefined) {
        bad('personal_missing', 'the leaf commits to personal data but the line has no personal member', index);
      } else if (committed === undefined && value.personal !== undefined) {
        bad('personal_unexpected', 'the line has a personal member but the leaf commits to no personal data', index);
      } else if (committed !== undefined && personal !== undefined) {
        if ('erased' in personal) this.erased++;
        else if (!personalMatches(personal, committed.digest)) {
          bad('personal_mismatch', "the personal data and salt do not match the leaf's personal.digest", index);
        }
      }
    }

    const cp = this.checkpoint;
    let proofChecked = false;
    if (cp !== null && index !== undefined) {
      if (index >= cp.size) {
        bad('beyond_checkpoint', `index ${index} is not below the checkpoint's size ${cp.size}`, index);
      } else if (leaf !== undefined && leaf.length <= MAX_LEAF_BYTES && proof !== undefined) {
        try {
          verifyInclusion(index, cp.size, leafHash(leaf), proof, cp.rootHash);
          proofChecked = true;
        } catch (e) {
          if (e instanceof RootMismatchError) {
            bad('bad_proof', "the leaf and its proof do not lead to the checkpoint's root hash", index);
          } else if (e instanceof InvalidProofError) {
            bad('bad_proof', `the proof does not fit index ${index} in a tree of size ${cp.size}: ${e.message}`, index);
          } else {
            throw e;
          }
        }
      }
    }

    if (proofChecked && entry !== undefined && personalOk && this.problemCount === problemsBefore) this.verified++;
  }

  private report(problem: ExportProblem): void {
    this.problemCount++;
    if (this.firstBadLine === 0 || problem.line < this.firstBadLine) this.firstBadLine = problem.line;
    if (this.problems.length < this.maxProblems) this.problems.push(problem);
  }
}

/** The personal member of an entry line when it has one of its two shapes, else undefined. */
function readPersonal(value: unknown): LinePersonal | undefined {
  if (!isObject(value)) return undefined;
  const members = Object.keys(value);
  if (members.length === 1 && value.erased === true) return { erased: true };
  if (members.length !== 2 || !isObject(value.data) || typeof value.salt !== 'string') return undefined;
  const salt = strictBase64(value.salt);
  if (salt === undefined || salt.length !== PERSONAL_SALT_BYTES) return undefined;
  return { data: value.data as { [member: string]: JsonValue }, salt };
}

function personalMatches(personal: { data: { [member: string]: JsonValue }; salt: Buffer }, digest: string): boolean {
  try {
    return verifyPersonalDigest(personal.salt, personal.data, digest);
  } catch (e) {
    // Data with no canonical form (an integer beyond 2^53, a lone surrogate) was never digested.
    if (e instanceof CanonicalJsonError) return false;
    throw e;
  }
}

/**
 * Checks a whole export given as its lines, in order and without line endings, from a sync or
 * async iterable (such as node:readline over a file stream). See ExportVerifier for what is
 * checked and what `options` requires.
 */
export async function verifyExport(
  lines: AsyncIterable<string> | Iterable<string>,
  options: ExportVerifierOptions = {},
): Promise<ExportVerificationReport> {
  const verifier = new ExportVerifier(options);
  for await (const line of lines) verifier.push(line);
  return verifier.finish();
}
