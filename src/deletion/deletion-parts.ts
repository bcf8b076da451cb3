import { Injectable } from '@nestjs/common';
import type { DeletionStatus } from './deletion-request.decider';
import { DeletionStore } from './deletion.store';
import type { BlockReason } from './erasure-plan';

/** A deletion request as another context sees it: where it stands, and what blocks it. */
export interface DeletionPart {
  readonly id: string;
  readonly tenant: string;
  readonly status: DeletionStatus;
  readonly blockedBy: readonly BlockReason[];
  /** Data keys its erasure destroyed (crypto-shredded), from its receipt; null before it ran. */
  readonly keysDestroyed: number | null;
}

/** `keysDestroyed` of a receipt, when it has one (receipts written before it was counted do not). */
function keysDestroyedOf(receipt: unknown): number | null {
  const value = (receipt as { keysDestroyed?: unknown } | null)?.keysDestroyed;
  return typeof value === 'number' ? value : null;
}

/**
 * The read port other contexts use to follow deletion requests they asked for (the privacy
 * context's erasure cases): the status and reasons of each, as a key with `tenants` may see them.
 */
@Injectable()
export class DeletionParts {
  constructor(private readonly store: DeletionStore) {}

  /** The requests of `ids` the key may see, in the order asked; unknown ones are left out. */
  async find(tenants: readonly string[], ids: readonly string[]): Promise<DeletionPart[]> {
    const found: DeletionPart[] = [];
    for (const id of ids) {
      const request = await this.store.findFor(tenants, id);
      if (request)
        found.push({
          id: request.id,
          tenant: request.tenant,
          status: request.status,
          blockedBy: request.blockedBy,
          keysDestroyed: keysDestroyedOf(request.receipt),
        });
    }
    return found;
  }
}
