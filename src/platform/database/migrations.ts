import { Ledger1764201600000 } from '../../../migrations/1764201600000-ledger';
import { ApiKeyRotation1764374400000 } from '../../../migrations/1764374400000-api-key-rotation';

/** Every migration, in order. Listed rather than globbed so the build cannot miss one. */
export const MIGRATIONS = [Ledger1764201600000, ApiKeyRotation1764374400000];
