import { Injectable } from '@nestjs/common';
import type { Sql } from '../ledger';
import { ApiKeyStore } from './api-key.store';
import { Principal } from './roles';

/**
 * How keys that approved something earlier act now, for two-person rules decided later (a hold's
 * release counts only approvals whose key, principal and grant still stand).
 */
@Injectable()
export class ApproverStanding {
  constructor(private readonly keys: ApiKeyStore) {}

  /**
   * Each key's principal as it would authenticate at `now`, or null when it no longer can. With
   * `sql`, inside the caller's transaction, the rows read stay locked against revocation until it
   * ends: a decision confirmed this way cannot race a revocation.
   */
  of(keyIds: readonly string[], now: Date, sql?: Sql): Promise<Map<string, Principal | null>> {
    return this.keys.standing(keyIds, now, sql);
  }
}
