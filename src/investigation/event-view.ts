import { StoredEvent } from './event-search.store';

/** An entry as `GET /v1/events` answers it: the leaf's members, its hash, and its personal data or the erased marker. */
export type EventView = Record<string, unknown> & { readonly leafHash: string };

/**
 * The view of a stored entry. The leaf's `personal` ({subject, digest}) gains `data`, or
 * `erased: true` once erasure destroyed the data (or it is missing). Requires `stored.leaf` to be
 * a leaf the service wrote (parsed, not re-verified: verification is the verifier's job).
 */
export function eventView(stored: StoredEvent): EventView {
  const entry = JSON.parse(stored.leaf.toString('utf8')) as Record<string, unknown>;
  const commitment = entry.personal as { subject: string; digest: string } | undefined;
  if (commitment) {
    const personal = stored.personal;
    entry.personal =
      personal && !personal.erased ? { ...commitment, data: personal.data } : { ...commitment, erased: true };
  }
  return { ...entry, leafHash: stored.leafHash.toString('base64') };
}
