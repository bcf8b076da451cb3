import { SetMetadata } from '@nestjs/common';
import { ReadRoute } from './read-record.policy';

export const RECORD_READ = 'audit:record-read';

export interface RecordReadOptions {
  readonly route: ReadRoute;
  /** Filters that identify a person (a subject): recorded beside the leaf, erasable. */
  readonly personal?: readonly string[];
}

/**
 * Records every call of the route in the `platform` log (category `access`) before answering:
 * who read, which tenant, with which filters, and whether it worked.
 */
export const RecordRead = (route: ReadRoute, options: Omit<RecordReadOptions, 'route'> = {}) => SetMetadata(RECORD_READ, { route, ...options });
