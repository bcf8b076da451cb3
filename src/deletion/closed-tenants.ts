import { Injectable } from '@nestjs/common';
import type { IngestionGate } from '../events';
import { DeletionStore } from './deletion.store';
import { TenantClosedError } from './deletion.errors';

// How long this process trusts its list of closed tenants. A closure made here is seen at once;
// one made by another process within this.
const REFRESH_MS = 1000;

/** Tenants closed by a tenant_closure request: they take no more events. */
@Injectable()
export class ClosedTenants implements IngestionGate {
  private closed: Set<string> = new Set();
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(private readonly store: DeletionStore) {}

  /** Throws TenantClosedError when any of `tenants` is closed. */
  async refuseClosed(tenants: Iterable<string>): Promise<void> {
    if (Date.now() - this.loadedAt > REFRESH_MS) await this.refresh();
    for (const tenant of tenants) if (this.closed.has(tenant)) throw new TenantClosedError(tenant);
  }

  /** Called after a closure commits in this process. */
  changed(): Promise<void> {
    this.loadedAt = 0;
    return this.refresh();
  }

  private refresh(): Promise<void> {
    // Concurrent requests share one query.
    this.loading ??= this.store
      .closedTenants()
      .then((closed) => {
        this.closed = closed;
        this.loadedAt = Date.now();
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }
}
