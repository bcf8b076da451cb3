import { SetMetadata, UseInterceptors, applyDecorators } from '@nestjs/common';
import { ReadRecordInterceptor } from './read-record.interceptor';
import { ReadRoute } from '../../platform';
import { RECORD_READ, RecordReadOptions } from './read-record.policy';

/**
 * Records every call of the route in the `platform` log (category `access`) before answering:
 * who read, which tenant, with which filters, and whether it worked. The interceptor is attached
 * to these routes only, so the append path pays nothing for it.
 */
export const RecordRead = (route: ReadRoute, options: Omit<RecordReadOptions, 'route'> = {}) =>
  applyDecorators(SetMetadata(RECORD_READ, { route, ...options }), UseInterceptors(ReadRecordInterceptor));
