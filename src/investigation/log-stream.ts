import { Injectable } from '@nestjs/common';
import { readableLog } from '../access';
import { Principal } from '../access';
import { LogStore, UnknownLogError } from '../ledger';
import { RequestValidationError, validator } from '../platform';
import { EventSearchStore } from './event-search.store';
import { EventView, eventView } from './event-view';

/** Entries one pull answers at most, and by default. */
export const STREAM_LIMITS = { defaultLimit: 100, maxLimit: 1000 } as const;

/** A checked `GET /v1/logs/{log}/stream` query: the first index wanted and how many at most. */
export interface StreamQuery {
  readonly from: number;
  readonly limit: number;
}

const validateStream = validator<{ from?: string; limit?: string }>({
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', pattern: '^[0-9]{1,15}$' },
    limit: { type: 'string', pattern: '^[0-9]{1,7}$' },
  },
});

/** Checks the query: `from` a non-negative integer (default 0), `limit` from 1 to 1000 (default 100), nothing else. */
export function parseStreamQuery(query: unknown): StreamQuery {
  const checked = validateStream(query ?? {}, '/query');
  const limit = checked.limit === undefined ? STREAM_LIMITS.defaultLimit : Number(checked.limit);
  if (limit < 1 || limit > STREAM_LIMITS.maxLimit)
    throw new RequestValidationError([
      { path: '/query/limit', message: `must be from 1 to ${STREAM_LIMITS.maxLimit}` },
    ]);
  return { from: checked.from === undefined ? 0 : Number(checked.from), limit };
}

/** One pull: the signed checkpoint the entries are under (null before the first), where the next pull starts, the entries. */
export interface StreamBatch {
  readonly log: string;
  readonly from: number;
  readonly next: number;
  readonly checkpoint: { readonly size: number; readonly note: string } | null;
  readonly entries: EventView[];
}

/**
 * The pull stream (docs/api.md "Pull stream"): entries of one log in index order from `from`,
 * only those the latest signed checkpoint covers (as sinks send), read from the ledger itself
 * (not the search read model, which may lag or have set an entry aside) in one tenant-scoped
 * snapshot, each as `GET /v1/events` shows it: personal data opened with the caller's tenant
 * scope, the erased marker once erased. `next` is the `from` of the following pull.
 */
@Injectable()
export class LogStream {
  constructor(
    private readonly store: LogStore,
    private readonly search: EventSearchStore,
  ) {}

  async pull(principal: Principal, log: string, query: StreamQuery): Promise<StreamBatch> {
    const name = readableLog(log, principal);
    return this.store.tenantScoped(
      principal.tenants,
      async (sql) => {
        if (!(await this.store.head(name, sql))) throw new UnknownLogError();
        const latest = await this.store.latestCheckpoint(name, sql);
        const to = Math.min(latest?.size ?? 0, query.from + query.limit);
        const stored = query.from < to ? await this.search.range(sql, name, query.from, to) : [];
        return {
          log: name,
          from: query.from,
          next: Math.max(query.from, to),
          checkpoint: latest === null ? null : { size: latest.size, note: latest.note },
          entries: stored.map(eventView),
        };
      },
      { oneSnapshot: true },
    );
  }
}

/** A batch as NDJSON: the first line the batch's position and checkpoint, then one line per entry. */
export function streamNdjson(batch: StreamBatch): string {
  const { entries, ...head } = batch;
  return [head, ...entries].map((line) => `${JSON.stringify(line)}\n`).join('');
}
