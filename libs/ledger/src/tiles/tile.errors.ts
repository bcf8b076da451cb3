import { LedgerError } from '../ledger.errors';

/**
 * A request path is not the canonical tlog-tiles path of any tile or entry bundle
 * (c2sp.org/tlog-tiles, "Merkle Tree" and "Log entries"). Every tile has exactly one path, so a
 * non-canonical spelling is refused rather than normalised: accepting it would let two URLs name
 * one immutable, long-cached resource.
 * The message describes the defect and never repeats the offending path.
 */
export class TilePathError extends LedgerError {
  override readonly code = 'malformed_tile_path';
}

/**
 * Bytes that should be a hash tile are not: empty, not a whole number of hashes, wider than a
 * tile, or not the width the caller expected. Raised when reading tiles (for example ones fetched
 * from another server); producing tiles from our own stored hashes reports broken preconditions
 * with RangeError instead, because that is a bug, not bad input.
 */
export class TileDataError extends LedgerError {
  override readonly code = 'malformed_tile_data';
}

/**
 * Bytes that should be an entry bundle are not: truncated, with trailing bytes, with more than
 * 256 entries, or with a different number of entries than the caller expected.
 */
export class EntryBundleError extends LedgerError {
  override readonly code = 'malformed_entry_bundle';
}
