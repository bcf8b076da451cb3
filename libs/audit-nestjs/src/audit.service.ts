import { Inject, Injectable, Logger } from '@nestjs/common';
import { AuditClient, AuditEvent, Queryable, writeToOutbox } from '@audit/client';
import { AUDIT_MODULE_OPTIONS, AuditModuleOptions, AuditSink } from './audit.options';

/**
 * Records events by hand: `record` sends through the module's client (or sink); `recordInTransaction`
 * writes to the transactional outbox in the caller's transaction (a `pg` client or a TypeORM
 * EntityManager), for events that must survive a crash (an OutboxRelay sends them).
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');
  private readonly sink: AuditSink;

  constructor(@Inject(AUDIT_MODULE_OPTIONS) readonly options: AuditModuleOptions) {
    if (!options.sink && !options.client) throw new Error('AuditModule needs `client` options or a `sink`');
    this.sink = options.sink ?? new AuditClient(options.client as NonNullable<AuditModuleOptions['client']>);
  }

  /** Sends one event; resolves once the service acknowledged it (and its receipt checked). */
  record(event: AuditEvent): Promise<unknown> {
    return this.sink.emit(event);
  }

  /** Writes events to the outbox in the caller's transaction; returns their idempotency keys. */
  recordInTransaction(tx: Queryable, ...events: AuditEvent[]): Promise<string[]> {
    return writeToOutbox(tx, events);
  }

  /** @internal What the interceptor calls when recording failed. */
  recordingFailed(error: Error, type: string): void {
    if (this.options.onRecordingFailed) this.options.onRecordingFailed(error, type);
    else this.logger.warn(`could not record audit event ${type}: ${error.name}`);
  }
}
