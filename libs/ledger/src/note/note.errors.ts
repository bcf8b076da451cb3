import { LedgerError } from '../ledger.errors';

// Messages below are written by this library and never quote the offending input: notes and
// keys can be large, and private key text is a secret.

/**
 * A signed note (or a note text about to be signed) does not follow c2sp.org/signed-note:
 * not valid UTF-8, a control character other than newline, no final newline, no blank line
 * before the signatures, a malformed signature line, or too many signatures.
 */
export class NoteFormatError extends LedgerError {
  readonly code = 'malformed_note';
}

/**
 * A key, key name, signer or verifier is unusable: malformed key text, a key hash that does not
 * match the key, an unknown algorithm, a seed or public key of the wrong length, or an invalid
 * key name (empty, containing a Unicode space, `+` or a control character).
 */
export class NoteKeyError extends LedgerError {
  readonly code = 'malformed_key';
}

/**
 * Why a well-formed note was not accepted:
 * - `no_known_signature`: no signature line names a known key (name and key hash both match);
 * - `invalid_signature`: a signature line names a known key but its signature does not verify;
 * - `origin_mismatch`: a verified checkpoint comes from another log than the one expected.
 */
export type NoteVerificationFailure = 'no_known_signature' | 'invalid_signature' | 'origin_mismatch';

/**
 * A note is well-formed but must not be trusted; `reason` says why. The note text must then be
 * ignored, as c2sp.org/signed-note requires.
 */
export class NoteVerificationError extends LedgerError {
  readonly code = 'unverified_note';

  constructor(
    message: string,
    readonly reason: NoteVerificationFailure,
  ) {
    super(message);
  }
}

/**
 * A checkpoint does not follow c2sp.org/tlog-checkpoint (or cannot be represented here): fewer
 * than three lines, an empty origin, a tree size that is not canonical decimal or exceeds
 * Number.MAX_SAFE_INTEGER, a root hash that is not canonical base64 of 32 bytes, or an empty
 * extension line.
 */
export class CheckpointFormatError extends LedgerError {
  readonly code = 'malformed_checkpoint';
}
