import { Inject, Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { JsonValue, PLATFORM_LOG, decodeLeaf, leafHash } from '@audit/ledger';
import { Readable } from 'node:stream';
import { Principal, actorOf, coversTenant } from '../access';
import { DeletionParts, RequestDeletion, type RequestedDeletion } from '../deletion';
import { EventExports, type ExportStream } from '../investigation';
import { LogStore, Sequencer } from '../ledger';
import { CLOCK, Clock, IDS, Ids } from '../platform';
import { isOverdue } from './due-date';
import {
  CorrectedEntryNotFoundError,
  CorrectedEntryOtherSubjectError,
  SubjectRequestKindError,
  SubjectRequestNotFoundError,
  SubjectRequestUnknownTenantError,
} from './privacy.errors';
import {
  EVERY_TENANT,
  EntryRef,
  PartProgress,
  SubjectRequestEvent,
  SubjectRequestKind,
  SubjectRequestState,
  SubjectRequestStatus,
  applySubjectRequestEvents,
  caseStatus,
  decideCorrected,
  decideDelivered,
  decideOpenParts,
  decideReceive,
} from './subject-request.decider';
import { correctionEntry, subjectRequestEntry } from './subject-request.entries';
import { SubjectRequestStore } from './subject-request.store';

/** What `POST /v1/subject-requests` takes. */
export interface SubjectRequestInput {
  readonly kind: SubjectRequestKind;
  readonly subject: string;
  readonly tenants: readonly string[];
  readonly reason: string;
  readonly corrects?: EntryRef;
  readonly data?: { [member: string]: JsonValue };
}

/** A request as the API shows it. */
export interface SubjectRequestView {
  readonly id: string;
  readonly kind: SubjectRequestKind;
  readonly subject: string;
  readonly tenants: readonly string[];
  readonly reason: string;
  readonly status: SubjectRequestStatus;
  readonly receivedAt: string;
  readonly dueAt: string;
  readonly overdue: boolean;
  readonly completedAt: string | null;
  readonly parts: readonly {
    tenant: string;
    deletionRequest: string;
    status: string;
    blockedBy?: readonly unknown[];
    /** Data keys the part's erasure destroyed (crypto-shredded), once it ran. */
    keysDestroyed?: number;
  }[];
  readonly corrects?: EntryRef;
  readonly correction?: { readonly log: string; readonly index: number | null };
}

const LIST_LIMIT = 1000;

// Concurrent changes to one request are rare (a bundle fetched twice at once); a few re-decisions are plenty.
const ATTEMPTS = 5;

/** Raised inside the transaction to undo it: the request changed since it was read. */
class Changed extends Error {
  constructor() {
    super('the subject request changed meanwhile');
  }
}

/**
 * The data-subject requests (docs/privacy.md): received, then carried out by the contexts that
 * own the data, every step a `privacy` entry of the service. An erasure's parts are deletion
 * requests, whose status is read from the deletion context when the request is read: the
 * deletion context records each part's outcome in its own log, so nothing here has to follow it.
 */
@Injectable()
export class SubjectRequests {
  constructor(
    private readonly store: SubjectRequestStore,
    private readonly sequencer: Sequencer,
    private readonly logs: LogStore,
    private readonly exports: EventExports,
    private readonly deletionParts: DeletionParts,
    private readonly commands: CommandBus,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  /** Receives a request and starts it: an erasure opens its deletion requests, a rectification appends its correction. */
  async receive(by: Principal, input: SubjectRequestInput): Promise<SubjectRequestView> {
    const id = this.ids.next();
    const received = decideReceive(
      by,
      {
        id,
        kind: input.kind,
        subject: input.subject,
        tenants: input.tenants,
        reason: input.reason,
        corrects: input.corrects,
      },
      this.clock.now(),
    );
    for (const tenant of input.tenants)
      if (tenant !== EVERY_TENANT && !(await this.logs.exists(tenant)))
        throw new SubjectRequestUnknownTenantError(tenant);
    const original = input.corrects && (await this.corrected(by, input.corrects, input.subject));
    if (input.kind === 'rectification' && input.data === undefined)
      throw new SubjectRequestKindError('a rectification carries the corrected personal data in `data`');
    let state = await this.apply(undefined, received, by);
    if (state.kind === 'erasure') {
      const parts = [];
      const tenants = state.tenants.includes(EVERY_TENANT) ? await this.logs.logNames() : state.tenants;
      for (const tenant of tenants) {
        const opened: RequestedDeletion = await this.commands.execute(
          new RequestDeletion(by, 'subject_erasure', tenant, state.subject, `subject request ${state.id}`),
        );
        parts.push({ tenant, deletionId: opened.request.id });
      }
      state = await this.apply(state, decideOpenParts(state, parts, this.clock.now()), by);
    }
    if (state.kind === 'rectification' && original) {
      const events = decideCorrected(state, original.log, this.clock.now());
      const next = applySubjectRequestEvents(state, events) as SubjectRequestState;
      const before = state;
      const [correction] = await this.sequencer.append(
        [
          correctionEntry(state.id, original, state.subject, input.data ?? {}, actorOf(by), events[0].at),
          ...events.map((event) => subjectRequestEntry(event, before.subject, actorOf(by))),
        ],
        async (sql) => {
          if (!(await this.store.save(sql, next, before.version))) throw new Changed();
        },
      );
      await this.store.setCorrectionIndex(state.id, correction.log, correction.index);
      state = { ...next, correction: { log: correction.log, index: correction.index } };
    }
    return this.view(by, state);
  }

  async get(by: Principal, id: string): Promise<SubjectRequestView> {
    const request = await this.store.findFor(by.tenants, id);
    if (!request) throw new SubjectRequestNotFoundError();
    return this.view(by, request);
  }

  async list(by: Principal, status: SubjectRequestStatus | undefined): Promise<SubjectRequestView[]> {
    const views = await Promise.all(
      (await this.store.listFor(by.tenants, LIST_LIMIT)).map((request) => this.view(by, request)),
    );
    return status === undefined ? views : views.filter((view) => view.status === status);
  }

  /**
   * The access bundle: for each log of the request, the export of the entries whose personal data
   * is the subject's (docs/ledger-format.md "Export format", one header per log), under a
   * checkpoint signed for it. Delivering it completes the request (recorded once).
   */
  async bundle(by: Principal, id: string): Promise<ExportStream> {
    const request = await this.store.findFor(by.tenants, id);
    if (!request) throw new SubjectRequestNotFoundError();
    if (request.kind !== 'access') throw new SubjectRequestKindError('only an access request has a bundle');
    const logs = request.tenants.includes(EVERY_TENANT) ? await this.logs.logNames() : [...request.tenants];
    const opened: ExportStream[] = [];
    for (const log of logs) {
      if (!(await this.logs.exists(log))) continue;
      opened.push(await this.exports.open(by, { format: 'ndjson', filter: { tenant: log, subject: request.subject } }));
    }
    await this.delivered(request, by);
    return {
      contentType: 'application/x-ndjson',
      fileName: `subject-request-${request.id}.ndjson`,
      stream: Readable.from(concatenate(opened.map((o) => o.stream)), { objectMode: false, highWaterMark: 1 << 16 }),
    };
  }

  /** The entry to correct: in a log the key reads, and about this subject. */
  private async corrected(
    by: Principal,
    ref: EntryRef,
    subject: string,
  ): Promise<EntryRef & { id: string; leafHash: string }> {
    if (!coversTenant(by, ref.log) || (ref.log === PLATFORM_LOG && !by.tenants.includes(EVERY_TENANT)))
      throw new CorrectedEntryNotFoundError();
    const [leaf] = await this.logs.leaves(ref.log, ref.index, ref.index + 1);
    if (!leaf) throw new CorrectedEntryNotFoundError();
    const entry = decodeLeaf(leaf);
    if (entry.personal?.subject !== subject) throw new CorrectedEntryOtherSubjectError();
    return { log: ref.log, index: ref.index, id: entry.id, leafHash: leafHash(leaf).toString('base64') };
  }

  /** Records the first delivery; two at once: the one that lost sees the request completed. */
  private async delivered(request: SubjectRequestState, by: Principal): Promise<void> {
    let current: SubjectRequestState | undefined = request;
    for (let attempt = 0; attempt < ATTEMPTS && current; attempt++) {
      try {
        await this.apply(current, decideDelivered(current, this.clock.now()), by);
        return;
      } catch (e) {
        if (!(e instanceof Changed)) throw e;
        current = await this.store.find(request.id);
      }
    }
    throw new Error(`subject request ${request.id} kept changing`);
  }

  /** Appends `events` and writes the state they leave, in one transaction (Changed: it moved meanwhile). */
  private async apply(
    current: SubjectRequestState | undefined,
    events: readonly SubjectRequestEvent[],
    by: Principal,
  ): Promise<SubjectRequestState> {
    const next = applySubjectRequestEvents(current, events) as SubjectRequestState;
    if (events.length === 0) return next;
    await this.sequencer.append(
      events.map((event) => subjectRequestEntry(event, next.subject, actorOf(by))),
      async (sql) => {
        if (!(await this.store.save(sql, next, current?.version ?? 0))) throw new Changed();
      },
    );
    return next;
  }

  private async view(by: Principal, request: SubjectRequestState): Promise<SubjectRequestView> {
    const found = await this.deletionParts.find(
      by.tenants,
      request.parts.map((part) => part.deletionId),
    );
    const byId = new Map(found.map((part) => [part.id, part]));
    const parts = request.parts.map((part) => {
      const deletion = byId.get(part.deletionId);
      const status = deletion?.status ?? 'unknown';
      return {
        tenant: part.tenant,
        deletionRequest: part.deletionId,
        status,
        ...(deletion && deletion.blockedBy.length > 0 ? { blockedBy: deletion.blockedBy } : {}),
        ...(deletion && deletion.keysDestroyed !== null ? { keysDestroyed: deletion.keysDestroyed } : {}),
      };
    });
    const status = caseStatus(request, parts as PartProgress[]);
    return {
      id: request.id,
      kind: request.kind,
      subject: request.subject,
      tenants: request.tenants,
      reason: request.reason,
      status,
      receivedAt: request.receivedAt,
      dueAt: request.dueAt,
      overdue: isOverdue(request.dueAt, status === 'completed', this.clock.now()),
      completedAt: request.completedAt,
      parts,
      ...(request.corrects ? { corrects: request.corrects } : {}),
      ...(request.correction ? { correction: request.correction } : {}),
    };
  }
}

async function* concatenate(streams: readonly Readable[]): AsyncGenerator<Buffer | string> {
  for (const stream of streams) for await (const chunk of stream) yield chunk as Buffer | string;
}
