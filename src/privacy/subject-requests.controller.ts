import { Body, Controller, Get, HttpCode, Param, Post, Query, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LOG_NAME_PATTERN } from '@audit/ledger';
import { CurrentPrincipal, Principal, RecordRead, RequirePermission } from '../access';
import { PersonalDataGuard, validator } from '../platform';
import { SubjectRequestNotFoundError } from './privacy.errors';
import { SUBJECT_REQUEST_KINDS, SubjectRequestStatus } from './subject-request.decider';
import { SubjectRequestInput, SubjectRequestView, SubjectRequests } from './subject-requests';

export const SUBJECT_REQUEST_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'subject', 'tenants', 'reason'],
  properties: {
    kind: { enum: [...SUBJECT_REQUEST_KINDS] },
    subject: { type: 'string', minLength: 1, maxLength: 256 },
    tenants: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      uniqueItems: true,
      items: { type: 'string', anyOf: [{ const: '*' }, { pattern: LOG_NAME_PATTERN.source }] },
    },
    reason: { type: 'string', minLength: 1, maxLength: 2000, pattern: '\\S' },
    corrects: {
      type: 'object',
      additionalProperties: false,
      required: ['log', 'index'],
      properties: {
        log: { type: 'string', pattern: LOG_NAME_PATTERN.source },
        index: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
      },
    },
    data: { type: 'object' },
  },
} as const;

const STATUSES: readonly SubjectRequestStatus[] = [
  'received',
  'in_progress',
  'blocked',
  'partially_blocked',
  'completed',
];
const LIST_QUERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { status: { enum: [...STATUSES] } },
} as const;

const validateRequest = validator<SubjectRequestInput>(SUBJECT_REQUEST_SCHEMA);
const validateListQuery = validator<{ status?: SubjectRequestStatus }>(LIST_QUERY_SCHEMA);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Data-subject requests (docs/api.md "Subject requests"), by legal staff. */
@ApiTags('privacy')
@ApiBearerAuth()
@Controller('v1')
export class SubjectRequestsController {
  constructor(
    private readonly requests: SubjectRequests,
    private readonly personalData: PersonalDataGuard,
  ) {}

  /** 202: received and started; the answer says where it stands and when it is due. */
  @Post('subject-requests')
  @HttpCode(202)
  @RequirePermission('subjects:request')
  @ApiBody({ schema: SUBJECT_REQUEST_SCHEMA as object })
  @ApiOperation({ summary: 'Receive a data-subject request (access, rectification, erasure) over some tenants' })
  receive(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<SubjectRequestView> {
    const request = validateRequest(body, '/body');
    // The reason is written into the case's ledger entry, which nothing can erase.
    this.personalData.check('subject_request', [{ path: '/reason', value: request.reason, field: () => '/reason' }]);
    return this.requests.receive(principal, request);
  }

  @Get('subject-requests')
  @RequirePermission('subjects:request')
  @ApiOperation({ summary: 'The subject requests the key may see, oldest first; `status` filters' })
  async list(
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() principal: Principal,
  ): Promise<{ items: SubjectRequestView[] }> {
    return { items: await this.requests.list(principal, validateListQuery(query, '/query').status) };
  }

  @Get('subject-requests/:id')
  @RequirePermission('subjects:request')
  get(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<SubjectRequestView> {
    if (!UUID.test(id)) throw new SubjectRequestNotFoundError();
    return this.requests.get(principal, id);
  }

  @Get('subject-requests/:id/bundle')
  @RequirePermission('subjects:request')
  @RecordRead('subjects.bundle')
  @ApiOperation({
    summary: "An access request's bundle: per log, a verifiable export of the entries about the subject (NDJSON)",
  })
  async bundle(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<StreamableFile> {
    if (!UUID.test(id)) throw new SubjectRequestNotFoundError();
    const opened = await this.requests.bundle(principal, id);
    return new StreamableFile(opened.stream, {
      type: opened.contentType,
      disposition: `attachment; filename="${opened.fileName}"`,
    });
  }
}
