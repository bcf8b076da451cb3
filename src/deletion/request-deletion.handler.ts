import { Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { Inject } from '@nestjs/common';
import { PLATFORM_LOG } from '@audit/ledger';
import { v7 as uuidv7 } from 'uuid';
import { Principal, actorOf, coversTenant, keyIdOf } from '../access/roles';
import { HoldStore } from '../holds/hold.store';
import { EVERY_TENANT } from '../holds/hold-scope';
import { UnknownTenantError } from '../holds/holds.errors';
import { SERVICE_SOURCE } from '../ledger/append-plan';
import { Sequencer } from '../ledger/sequencer';
import { CLOCK, Clock } from '../platform/clock/clock';
import { ClosedTenants } from './closed-tenants';
import { DeletionQueueing } from './deletion-queueing';
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
    private readonly holds: HoldStore,
    private readonly sequencer: Sequencer,
    private readonly queueing: DeletionQueueing,
    private readonly closed: ClosedTenants,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute({ by, kind, tenant, subject, reason }: RequestDeletion): Promise<RequestedDeletion> {
    if (
      tenant === EVERY_TENANT
        ? kind !== 'retention_purge' || !by.tenants.includes(EVERY_TENANT)
        : !coversTenant(by, tenant)
    )
      throw new DeletionTenantOutOfScopeError(tenant);
    if (tenant !== EVERY_TENANT && !(await this.holds.tenantKnown(tenant))) throw new UnknownTenantError(tenant);
    const id = uuidv7();
    const now = this.clock.now();
    let request: DeletionRequest | undefined;
    try {
      await this.sequencer.append(
        [
          {
            log: tenant === EVERY_TENANT ? PLATFORM_LOG : tenant,
            source: SERVICE_SOURCE,
            type: 'deletion.requested',
            category: 'deletion',
            actor: actorOf(by),
            target: { type: 'deletion_request', id },
            outcome: 'success',
            context: { kind, reason, ...(subject !== null ? { subject } : {}) },
          },
        ],
        async (sql) => {
          const created = await this.store.create(sql, {
            id,
            tenant,
            kind,
            subject,
            reason,
            requestedBy: { keyId: keyIdOf(by), name: by.name },
            requestedAt: now.toISOString(),
          });
          if (!created.created) throw new Existing(created.request);
          request = created.request;
          if (kind === 'tenant_closure') await this.store.close(sql, tenant, id, now);
        },
      );
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
