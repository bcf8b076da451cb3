import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { Inject } from '@nestjs/common';
import { Principal, actorOf, coversTenant, keyIdOf } from '../access';
import { EVERY_TENANT, UnknownTenantError } from '../holds';
import { LogStore, Sequencer } from '../ledger';
import { CLOCK, Clock, IDS, Ids } from '../platform';
import { ClosedTenants } from './closed-tenants';
import { DeletionQueueing } from './deletion-queueing';
import { DeletionTarget, applyDeletionEvents, decide } from './deletion-request.decider';
import { requestedEntry } from './deletion.entries';
import { DeletionTenantOutOfScopeError } from './deletion.errors';
import { DeletionKind, DeletionRequest, DeletionStore } from './deletion.store';

export interface RequestedDeletion {
  readonly request: DeletionRequest;
  /** False when an unfinished request for the same thing existed: this is that one. */
  readonly created: boolean;
}

/**
 * Request a deletion: persisted and recorded (`deletion.requested`) in one transaction, then
 * queued. A second request for what an unfinished one already covers returns that one.
 */
export class RequestDeletion extends Command<RequestedDeletion> {
  constructor(
    readonly by: Principal,
    readonly kind: DeletionKind,
    readonly tenant: string,
    readonly subject: string | null,
    readonly reason: string,
  ) {
    super();
  }
}

/** Raised inside the transaction to undo it: the request exists already. */
class Existing extends Error {
  constructor(readonly request: DeletionRequest) {
    super('an unfinished request exists');
  }
}

@CommandHandler(RequestDeletion)
export class RequestDeletionHandler implements ICommandHandler<RequestDeletion> {
  constructor(
    private readonly store: DeletionStore,
    private readonly logs: LogStore,
    private readonly sequencer: Sequencer,
    private readonly queueing: DeletionQueueing,
    private readonly closed: ClosedTenants,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async execute({ by, kind, tenant, subject, reason }: RequestDeletion): Promise<RequestedDeletion> {
    if (
      tenant === EVERY_TENANT
        ? kind !== 'retention_purge' || !by.tenants.includes(EVERY_TENANT)
        : !coversTenant(by, tenant)
    )
      throw new DeletionTenantOutOfScopeError(tenant);
    if (tenant !== EVERY_TENANT && !(await this.logs.exists(tenant))) throw new UnknownTenantError(tenant);
    const id = this.ids.next();
    const now = this.clock.now();
    // A fresh id has no state: the decider only shapes the event (the store finds an unfinished twin).
    const target = { kind, tenant, subject } as DeletionTarget;
    const events = decide(
      null,
      { type: 'request', id, ...target, reason, requestedBy: { keyId: keyIdOf(by), name: by.name } },
      now,
    );
    const requested = events[0] as Extract<(typeof events)[number], { type: 'deletion.requested' }>;
    const state = applyDeletionEvents(null, events)!;
    let request: DeletionRequest | undefined;
    try {
      await this.sequencer.append([requestedEntry(requested, actorOf(by))], async (sql) => {
        const created = await this.store.create(sql, state);
        if (!created.created) throw new Existing(created.request);
        request = created.request;
        if (kind === 'tenant_closure') await this.store.close(sql, tenant, id, now);
      });
    } catch (e) {
      if (!(e instanceof Existing)) throw e;
      return { request: e.request, created: false };
    }
    if (kind === 'tenant_closure') await this.closed.changed();
    // The row is the truth; if Redis is away the reconciler queues it later.
    await this.queueing.enqueueNow([id]);
    return { request: request as DeletionRequest, created: true };
  }
}
