/**
 * What ingestion asks before appending: may these tenants still take events? The deletion context
 * answers (a closed tenant takes none); events defines the question so that it depends on nobody
 * for it, and the composition root (src/app.module.ts) binds the answer.
 */
export interface IngestionGate {
  /** Throws a coded error (409 `tenant_closed`) when any of `tenants` may take no more events. */
  refuseClosed(tenants: Iterable<string>): Promise<void>;
}

export const INGESTION_GATE = Symbol('IngestionGate');
