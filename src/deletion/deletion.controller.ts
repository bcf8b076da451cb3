import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LOG_NAME_PATTERN } from '@audit/ledger';
import { CurrentPrincipal } from '../access';
import { RequirePermission } from '../access';
import { Principal } from '../access';
import { readableLog } from '../access';
import { PersonalDataGuard, validator } from '../platform';
import { encodeDeletionCursor, parseDeletionListQuery } from './deletion-list-query';
import { DeletionRequestNotFoundError, LedgerImmutableError } from './deletion.errors';
import { DeletionRequest } from './deletion.store';
import { DeletionStore } from './deletion.store';
import { RequestDeletion } from './request-deletion.handler';

const reason = { type: 'string', minLength: 1, maxLength: 2000, pattern: '\\S' };
const tenant = { type: 'string', pattern: LOG_NAME_PATTERN.source };

export const DELETION_REQUEST_SCHEMA = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'tenant', 'subject', 'reason'],
      properties: {
        kind: { const: 'subject_erasure' },
        tenant,
        subject: { type: 'string', minLength: 1, maxLength: 256 },
        reason,
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'tenant', 'reason'],
      properties: { kind: { const: 'tenant_closure' }, tenant, reason },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'reason'],
      properties: { kind: { const: 'retention_purge' }, reason },
    },
  ],
} as const;

const KIND_SCHEMA = {
  type: 'object',
  required: ['kind'],
  properties: { kind: { enum: ['subject_erasure', 'tenant_closure', 'retention_purge'] } },
} as const;

type DeletionBody =
  | { kind: 'subject_erasure'; tenant: string; subject: string; reason: string }
  | { kind: 'tenant_closure'; tenant: string; reason: string }
  | { kind: 'retention_purge'; reason: string };

const validateKind = validator<{ kind: string }>(KIND_SCHEMA);
const validateSubjectErasure = validator<DeletionBody>(DELETION_REQUEST_SCHEMA.oneOf[0]);
const validateTenantClosure = validator<DeletionBody>(DELETION_REQUEST_SCHEMA.oneOf[1]);
const validateRetentionPurge = validator<DeletionBody>(DELETION_REQUEST_SCHEMA.oneOf[2]);

/**
 * The kind first, so the field errors are those of the kind asked for. The reason, free text
 * written into the request's ledger entry, passes the personal-data guard (docs/api.md "Personal
 * data outside `personal`"); the subject does not: erasure must reach any subject an entry names.
 */
function parseDeletionRequest(body: unknown, guard: PersonalDataGuard): DeletionBody {
  const { kind } = validateKind(body);
  const request =
    kind === 'subject_erasure'
      ? validateSubjectErasure(body)
      : kind === 'tenant_closure'
        ? validateTenantClosure(body)
        : validateRetentionPurge(body);
  guard.check('deletion_request', [{ path: '/reason', value: request.reason, field: () => '/reason' }]);
  return request;
}

const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A deletion request as the API shows it: the receipt included, the bookkeeping not. */
export type DeletionRequestView = Omit<DeletionRequest, 'recorded'>;

function view({ recorded: _recorded, ...request }: DeletionRequest): DeletionRequestView {
  return request;
}

@ApiTags('deletion')
@ApiBearerAuth()
@Controller('v1')
export class DeletionController {
  constructor(
    private readonly commands: CommandBus,
    private readonly store: DeletionStore,
    private readonly personalData: PersonalDataGuard,
  ) {}

  /** 202: persisted and queued; the same unfinished request again answers with the first one. */
  @Post('deletion-requests')
  @HttpCode(202)
  @RequirePermission('deletions:request')
  @ApiBody({ schema: DELETION_REQUEST_SCHEMA as object })
  async request(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
  ): Promise<DeletionRequestView & { deduplicated: boolean }> {
    const request = parseDeletionRequest(body, this.personalData);
    const subject = request.kind === 'subject_erasure' ? request.subject : null;
    // The purge covers every tenant: only a key for every tenant may start it ahead of its schedule.
    const tenant = request.kind === 'retention_purge' ? '*' : request.tenant;
    const outcome = await this.commands.execute(
      new RequestDeletion(principal, request.kind, tenant, subject, request.reason),
    );
    return { ...view(outcome.request), deduplicated: !outcome.created };
  }

  /**
   * The requests the key may see, newest first, in keyset pages, each as `GET /{id}` shows it
   * (status, counts, and what blocks it: `blockedBy`). Not recorded as a read, like `GET /{id}`:
   * a request holds no entry's data, and taking it was recorded in the ledger.
   */
  @Get('deletion-requests')
  @RequirePermission('deletions:read')
  @ApiOperation({ summary: 'List deletion requests (newest first, keyset pages): tenant, status, kind, limit, cursor' })
  async list(
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() principal: Principal,
  ): Promise<{ items: DeletionRequestView[]; nextCursor: string | null }> {
    const { filter, limit, after } = parseDeletionListQuery(query);
    // Another tenant's requests are as missing as its log (`*`, the purges', PostgreSQL hides from scoped keys).
    if (filter.tenant !== undefined && filter.tenant !== '*') readableLog(filter.tenant, principal);
    // One more than the page: whether a next page exists, without counting.
    const rows = await this.store.listFor(principal.tenants, filter, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(view),
      nextCursor:
        rows.length > limit ? encodeDeletionCursor(filter, { requestedAt: last.requestedAt, id: last.id }) : null,
    };
  }

  @Get('deletion-requests/:id')
  @RequirePermission('deletions:read')
  async get(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<DeletionRequestView> {
    if (!REQUEST_ID.test(id)) throw new DeletionRequestNotFoundError();
    const request = await this.store.findFor(principal.tenants, id);
    if (!request) throw new DeletionRequestNotFoundError();
    return view(request);
  }

  /** Ledger entries cannot be deleted by anyone; these answer so, naming the rule, to any authenticated caller. */
  @Delete('events/:id')
  @RequirePermission('authenticated')
  deleteEvent(): never {
    throw new LedgerImmutableError();
  }

  @Delete('logs/:log')
  @RequirePermission('authenticated')
  deleteLog(): never {
    throw new LedgerImmutableError();
  }

  @Delete('logs/:log/*')
  @RequirePermission('authenticated')
  deleteLogPart(): never {
    throw new LedgerImmutableError();
  }
}
