import { Injectable } from '@nestjs/common';
import { CheckpointSigner } from '../ledger/checkpoint-signer';
import { LogStore } from '../ledger/log-store';
import { readableLog } from '../access/readable-log';
import { Principal, mayReadLog } from '../access/roles';
import { SearchQuery, encodeCursor } from './event-query';
import { EventSearchStore } from './event-search.store';
import { SearchProjector } from './search-projector';
import { EventView, eventView } from './event-view';
import { inclusionProofs } from './inclusion-proofs';
import { EventNotFoundError } from './investigation.errors';

export interface SearchPage {
  readonly items: EventView[];
  /** The cursor of the next (older) page, or null when this page is the last. */
  readonly nextCursor: string | null;
}

/** One entry with its proof of inclusion in a signed checkpoint of its log. */
export type EventWithProof = EventView & {
  readonly inclusion: { readonly size: number; readonly checkpoint: string; readonly proof: string[] };
};

/**
 * Search and single-entry reads for investigators. Every read runs tenant-scoped (the database
 * shows only the caller's tenants), on the search read model joined to the leaves, after bringing
 * the read model of the logs it reads up to date: a search sees every acknowledged entry.
 */
@Injectable()
export class EventReads {
  constructor(
    private readonly store: LogStore,
    private readonly search: EventSearchStore,
    private readonly projector: SearchProjector,
    private readonly signer: CheckpointSigner,
  ) {}

  /**
   * One page of entries matching the query, newest first. Without a tenant filter it searches
   * every tenant of the caller. Keyset paging on (recordedAt, log, index): an entry appended
   * while a caller pages never shifts the pages, and none is skipped or repeated.
   */
  async find(principal: Principal, query: SearchQuery): Promise<SearchPage> {
    if (query.filter.tenant !== undefined) readableLog(query.filter.tenant, principal);
    const logs = principal.tenants.includes('*') ? null : principal.tenants;
    await this.projector.catchUp(query.filter.tenant !== undefined ? [query.filter.tenant] : logs);
    // One more than the page: whether a next page exists, without counting.
    const rows = await this.store.tenantScoped(principal.tenants, (sql) => this.search.search(sql, query.filter, logs, query.after, query.limit + 1));
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(eventView),
      nextCursor: rows.length > query.limit ? encodeCursor(query.filter, { recordedAt: last.recordedAt, log: last.log, index: last.index }) : null,
    };
  }

  /**
   * The entry with service id `id`, with an inclusion proof against the latest signed checkpoint
   * of its log (one is signed now if none covers the entry yet).
   */
  async read(principal: Principal, id: string): Promise<EventWithProof> {
    await this.projector.catchUp(principal.tenants.includes('*') ? null : principal.tenants);
    const stored = await this.store.tenantScoped(principal.tenants, (sql) => this.search.byId(sql, id));
    if (!stored || !mayReadLog(principal, stored.log)) throw new EventNotFoundError();
    const checkpoint = await this.signer.checkpointCovering(stored.log, stored.index + 1);
    // Signing never fails for an entry that is committed; if it did, the proof cannot be given.
    if (!checkpoint) throw new Error(`no checkpoint of log ${stored.log} covers entry ${stored.index}`);
    const [proof] = await this.store.tenantScoped(principal.tenants, (sql) => inclusionProofs(this.store, sql, stored.log, checkpoint.size, [stored.index]));
    return { ...eventView(stored), inclusion: { size: checkpoint.size, checkpoint: checkpoint.note, proof } };
  }
}
