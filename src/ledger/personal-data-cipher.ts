/**
 * Personal data at rest (docs/ledger-format.md "Personal data at rest"): sealed with the
 * platform's AES-256-GCM (src/platform/crypto/sealing.ts) under a key per (tenant, subject), bound
 * to the place a value belongs to, so a value copied to another entry, subject, field or log does
 * not open. The sealing primitive is re-exported for the ledger's callers.
 */
export { DATA_KEY_BYTES, IV_BYTES, SealedValueError, open, seal } from '../platform';

/** What a sealed value of personal data is bound to: its entry, its subject, which of the two values. */
export interface PersonalPlace {
  readonly log: string;
  readonly idx: number;
  readonly subject: string;
  readonly field: 'data' | 'salt';
}

/** The additional authenticated data of a value of personal data (JSON of a fixed-order array). */
export function personalAad(place: PersonalPlace): Buffer {
  return Buffer.from(JSON.stringify(['audit-personal/v1', place.log, place.idx, place.subject, place.field]), 'utf8');
}

/** The additional authenticated data of a subject's data key wrapped by the key-encryption key. */
export function subjectKeyAad(log: string, subject: string): Buffer {
  return Buffer.from(JSON.stringify(['audit-subject-key/v1', log, subject]), 'utf8');
}
