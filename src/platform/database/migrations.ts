import { Ledger1764201600000 } from '../../../migrations/1764201600000-ledger';

/** Every migration, in order. Listed rather than globbed so the build cannot miss one. */
export const MIGRATIONS = [Ledger1764201600000];
