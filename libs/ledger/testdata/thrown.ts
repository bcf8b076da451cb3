import { NoteVerificationError, NoteVerificationFailure } from '../src/note/note.errors';

/** The error `action` throws; fails the test when it throws nothing. */
export function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an exception');
}

/** Expects `action` to refuse a note for `reason`. */
export function expectVerificationError(action: () => unknown, reason: NoteVerificationFailure): void {
  const error = thrown(action);
  expect(error).toBeInstanceOf(NoteVerificationError);
  expect((error as NoteVerificationError).code).toBe('unverified_note');
  expect((error as NoteVerificationError).reason).toBe(reason);
}
