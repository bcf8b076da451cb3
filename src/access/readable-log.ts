import { NotFoundError } from '../platform';
import { Principal, mayReadLog } from './roles';

/** The log a route names, when this key may read it; "no such log" (404) otherwise. */
export function readableLog(log: string, principal: Principal): string {
  if (!mayReadLog(principal, log)) throw new NotFoundError('no such log');
  return log;
}
