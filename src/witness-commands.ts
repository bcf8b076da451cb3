import { LedgerError, generateCosignerKey, parseWitnessPolicy, verifyTlogProof } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** Where a command writes (stdout, stderr). */
interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** A command line that cannot run as given: the caller prints it with the usage and exits 2. */
export class WitnessUsageError extends Error {}

export const WITNESS_USAGE = `  npm run cli -- verify-proof <proof-file> --policy <policy-file> --leaf <leaf-file>
      Verifies a receipt (a C2SP tlog-proof, as GET /v1/events/<id>/proof serves) offline, needing
      no database or environment: the checkpoint's signature by a log of the tlog-policy file (a
      log line covers its key name and every origin under "<name>/"), every signature by a policy
      key valid, the policy's quorum of witness cosignatures, and the inclusion proof of the leaf
      (the raw leaf bytes in <leaf-file>) at the proof's index. Prints one JSON report; exits 1
      when a check fails.
  npm run cli -- witness-key <key name>
      Makes a witness (cosignature/v1, Ed25519) key pair from 32 random bytes and prints
      {verifierKey, privateKey} as JSON: the private key is for AUDIT_WITNESS_KEY or
      AUDIT_WITNESS_KEY_FILE (keep it secret), the verifier key for the policies that count on it.`;

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new WitnessUsageError(`cannot read the ${what} ${path}: ${(e as Error).message}`);
  }
}

/** `verify-proof <proof> --policy <file> --leaf <file>`: 0 verified, 1 refused. */
export function verifyProofFile(io: Output, args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    options: { policy: { type: 'string' }, leaf: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new WitnessUsageError('verify-proof needs exactly one <proof-file>');
  if (values.policy === undefined || values.leaf === undefined) {
    throw new WitnessUsageError('verify-proof needs --policy <file> and --leaf <file>');
  }
  const proofText = readInput(positionals[0], 'proof').toString('utf8');
  const leaf = readInput(values.leaf, 'leaf');
  let policy;
  try {
    policy = parseWitnessPolicy(readInput(values.policy, 'policy').toString('utf8'));
  } catch (e) {
    if (e instanceof LedgerError) throw new WitnessUsageError(`--policy: ${e.message}`);
    throw e;
  }
  try {
    const result = verifyTlogProof(proofText, policy, leaf);
    const { origin, size } = result.checkpoint;
    io.out(`${JSON.stringify({ ok: true, origin, size, index: result.proof.index, cosigners: result.cosigners })}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof LedgerError)) throw e;
    io.out(`${JSON.stringify({ ok: false, code: e.code, message: e.message })}\n`);
    return 1;
  }
}

/** `witness-key <name>`: a fresh cosigner key pair as JSON. */
export function witnessKey(io: Output, args: string[]): number {
  if (args.length !== 1) throw new WitnessUsageError('witness-key needs exactly one <key name>');
  let pair;
  try {
    pair = generateCosignerKey(args[0], randomBytes(32));
  } catch (e) {
    if (e instanceof LedgerError) throw new WitnessUsageError(`witness-key: ${e.message}`);
    throw e;
  }
  io.out(`${JSON.stringify({ verifierKey: pair.verifierKey, privateKey: pair.privateKey })}\n`);
  return 0;
}
