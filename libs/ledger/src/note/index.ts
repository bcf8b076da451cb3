// Public surface of the signed-note library. Helpers marked @internal in the modules stay out.
export {
  CheckpointFormatError,
  NoteFormatError,
  NoteKeyError,
  NoteVerificationError,
  type NoteVerificationFailure,
} from './note.errors';
export {
  formatVerifierKey,
  generateNoteKey,
  isValidKeyName,
  parsePrivateKey,
  parseVerifierKey,
  type NoteKeyPair,
  type NoteSigner,
  type NoteVerifier,
} from './note-keys';
export {
  MAX_NOTE_SIGNATURES,
  noteSignatures,
  openNote,
  signNote,
  type NoteSignature,
  type OpenedNote,
} from './signed-note';
export { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint, type Checkpoint } from './checkpoint';
