import { decodeBase64 } from '../note/note-keys';
import { parseVerifierKey, type NoteVerifier } from '../note/note-keys';
import { NoteKeyError } from '../note/note.errors';
import { parseCosignatureVerifierKey, type CosignatureVerifier } from './cosignature';
import { PolicyFormatError } from './witness.errors';

/** A `log <vkey> [<url>]` line: an Ed25519 (0x01) checkpoint key. */
export interface PolicyLog {
  readonly verifier: NoteVerifier;
  readonly verifierKey: string;
  readonly url?: string;
}

/** A `witness <name> <vkey> [<url>]` line: a cosignature/v1 (0x04) key under a policy-local name. */
export interface PolicyWitness {
  readonly name: string;
  readonly verifier: CosignatureVerifier;
  readonly url?: string;
}

/** The quorum rule: no cosignature needed, one witness, or k of n members (witnesses or groups). */
export type QuorumRule =
  | { readonly kind: 'none' }
  | { readonly kind: 'witness'; readonly name: string }
  | {
      readonly kind: 'group';
      readonly name: string;
      readonly threshold: number;
      readonly members: readonly QuorumRule[];
    };

/** A parsed c2sp.org/tlog-policy file. */
export interface WitnessPolicy {
  readonly logs: readonly PolicyLog[];
  readonly witnesses: readonly PolicyWitness[];
  readonly quorum: QuorumRule;
}

/** Limits well above the spec's recommended minimum of 32 each. */
export const MAX_POLICY_LOGS = 1024;
export const MAX_POLICY_WITNESSES = 256;
export const MAX_POLICY_GROUPS = 256;

// Allowed octets: tab, newline, 0x20-0x7E and anything non-ASCII (opaque).
const FORBIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f]/;
const WHITESPACE = /[ \t]+/;
const DECIMAL = /^[1-9][0-9]*$/;

function rawKeyOf(vkey: string): string {
  // Both key kinds were parsed already: the base64 after the second '+' is valid.
  const second = vkey.indexOf('+', vkey.indexOf('+') + 1);
  return (decodeBase64(vkey.slice(second + 1)) as Buffer).subarray(1).toString('hex');
}

function parseUrl(fields: string[], at: number, line: number): string | undefined {
  if (fields.length > at + 1) throw new PolicyFormatError('too many fields', line);
  return fields[at];
}

/**
 * Parses a c2sp.org/tlog-policy file: `log <vkey> [<url>]`, `witness <name> <vkey> [<url>]`,
 * `group <name> all|any|<k> <name>...` and exactly one `quorum <name>` (or `quorum none`); blank
 * lines and `#` comments ignored; fields separated by spaces and tabs. Names are defined once
 * (witnesses and groups share one namespace; `none` is reserved), groups and the quorum refer only
 * to names defined on earlier lines, and a group lists a member at most once with 1 <= k <= n.
 * Log keys must be Ed25519 note keys (0x01), witness keys cosignature/v1 keys (0x04); two lines
 * of the same kind may not wrap the same public key. Deviations: the text is taken as decoded
 * Unicode (a file must be UTF-8), and a missing final newline is accepted.
 * Throws PolicyFormatError naming the line otherwise.
 */
export function parseWitnessPolicy(text: string): WitnessPolicy {
  if (typeof text !== 'string') throw new PolicyFormatError('policy is not text');
  const logs: PolicyLog[] = [];
  const witnesses: PolicyWitness[] = [];
  const rules = new Map<string, QuorumRule>([['none', { kind: 'none' }]]);
  const logKeys = new Set<string>();
  const witnessKeys = new Set<string>();
  let groups = 0;
  let quorum: QuorumRule | undefined;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (FORBIDDEN.test(raw)) throw new PolicyFormatError('control character (only tab and newline are allowed)', line);
    const trimmed = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = trimmed.split(WHITESPACE);
    const keyword = fields[0];
    const key = <T>(parse: () => T): T => {
      try {
        return parse();
      } catch (error) {
        if (error instanceof NoteKeyError) throw new PolicyFormatError(error.message, line);
        throw error;
      }
    };
    const define = (name: string | undefined, rule: QuorumRule): void => {
      if (name === undefined) throw new PolicyFormatError('missing name', line);
      if (rules.has(name)) throw new PolicyFormatError(`name ${short(name)} is already defined`, line);
      rules.set(name, rule);
    };
    switch (keyword) {
      case 'log': {
        if (fields.length < 2) throw new PolicyFormatError('log line needs a vkey', line);
        const verifier = key(() => parseVerifierKey(fields[1]));
        const raw = rawKeyOf(fields[1]);
        if (logKeys.has(raw)) throw new PolicyFormatError('duplicate log key', line);
        if (logs.length >= MAX_POLICY_LOGS) throw new PolicyFormatError(`more than ${MAX_POLICY_LOGS} logs`, line);
        logKeys.add(raw);
        const url = parseUrl(fields, 2, line);
        logs.push(url === undefined ? { verifier, verifierKey: fields[1] } : { verifier, verifierKey: fields[1], url });
        return;
      }
      case 'witness': {
        if (fields.length < 3) throw new PolicyFormatError('witness line needs a name and a vkey', line);
        const verifier = key(() => parseCosignatureVerifierKey(fields[2]));
        const raw = verifier.publicKey.toString('hex');
        if (witnessKeys.has(raw)) throw new PolicyFormatError('duplicate witness key', line);
        if (witnesses.length >= MAX_POLICY_WITNESSES) {
          throw new PolicyFormatError(`more than ${MAX_POLICY_WITNESSES} witnesses`, line);
        }
        const name = fields[1];
        define(name, { kind: 'witness', name });
        witnessKeys.add(raw);
        const url = parseUrl(fields, 3, line);
        witnesses.push(url === undefined ? { name, verifier } : { name, verifier, url });
        return;
      }
      case 'group': {
        if (fields.length < 4) throw new PolicyFormatError('group line needs a name, a threshold and members', line);
        const [, name, thresholdText, ...memberNames] = fields;
        const seen = new Set<string>();
        const members = memberNames.map((member) => {
          if (member === 'none') throw new PolicyFormatError('none cannot be a group member', line);
          const rule = rules.get(member);
          if (rule === undefined) throw new PolicyFormatError(`member ${short(member)} is not defined above`, line);
          if (seen.has(member)) throw new PolicyFormatError(`member ${short(member)} is listed twice`, line);
          seen.add(member);
          return rule;
        });
        let threshold: number;
        if (thresholdText === 'all') threshold = members.length;
        else if (thresholdText === 'any') threshold = 1;
        else if (DECIMAL.test(thresholdText) && thresholdText.length <= 6) threshold = Number(thresholdText);
        else throw new PolicyFormatError('threshold is not all, any or a decimal number', line);
        if (threshold < 1 || threshold > members.length) {
          throw new PolicyFormatError('threshold must be from 1 to the number of members', line);
        }
        if (++groups > MAX_POLICY_GROUPS) throw new PolicyFormatError(`more than ${MAX_POLICY_GROUPS} groups`, line);
        define(name, { kind: 'group', name, threshold, members });
        return;
      }
      case 'quorum': {
        if (fields.length !== 2) throw new PolicyFormatError('quorum line needs exactly one name', line);
        if (quorum !== undefined) throw new PolicyFormatError('a second quorum line', line);
        const rule = rules.get(fields[1]);
        if (rule === undefined) throw new PolicyFormatError(`quorum ${short(fields[1])} is not defined above`, line);
        quorum = rule;
        return;
      }
      default:
        throw new PolicyFormatError('unknown keyword (log, witness, group, quorum)', line);
    }
  });
  if (quorum === undefined) throw new PolicyFormatError('policy has no quorum line');
  return { logs, witnesses, quorum };
}

function short(name: string): string {
  return name.length <= 64 ? name : `${name.slice(0, 64)}…`;
}

/**
 * Whether witnesses named `cosigners` (policy-local witness names whose cosignatures verified)
 * satisfy `rule`: none always; a witness if it cosigned; a group if at least k members do.
 */
export function quorumMet(rule: QuorumRule, cosigners: ReadonlySet<string>): boolean {
  switch (rule.kind) {
    case 'none':
      return true;
    case 'witness':
      return cosigners.has(rule.name);
    case 'group':
      return rule.members.filter((member) => quorumMet(member, cosigners)).length >= rule.threshold;
  }
}

/**
 * The logs of `policy` that may sign checkpoints of `origin`: a log line covers the origin equal
 * to its key name and, as this service names its logs `<key name>/<log>` under one deployment key,
 * every origin that starts with `<key name>/`.
 */
export function policyLogsFor(policy: WitnessPolicy, origin: string): PolicyLog[] {
  return policy.logs.filter(({ verifier }) => origin === verifier.name || origin.startsWith(`${verifier.name}/`));
}
