import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { LOG_NAME_PATTERN } from '@audit/ledger';
import { validator } from '../../platform/http/json-schema';
import { RequestValidationError } from '../../platform/http/request.errors';
import { ApiKeyRecord, ApiKeyStore } from '../api-key.store';
import { CurrentPrincipal } from '../principal.decorator';
import { RequirePermission } from '../permission.decorator';
import { Principal, ROLES, Role } from '../roles';
import { CreateApiKey, CreatedApiKey } from './create-api-key.command';

const CREATE_KEY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'roles', 'tenants'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' },
    roles: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ROLES] } },
    tenants: {
      type: 'array',
      minItems: 1,
      maxItems: 1000,
      uniqueItems: true,
      items: { type: 'string', anyOf: [{ const: '*' }, { pattern: LOG_NAME_PATTERN.source }] },
    },
    expiresAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$' },
  },
} as const;

const validateCreateKey = validator<{ name: string; roles: Role[]; tenants: string[]; expiresAt?: string }>(CREATE_KEY_SCHEMA);

@ApiTags('keys')
@ApiBearerAuth()
@Controller('v1/keys')
export class KeysController {
  constructor(
    private readonly commands: CommandBus,
    private readonly keys: ApiKeyStore,
  ) {}

  @Post()
  @HttpCode(201)
  @RequirePermission('keys:manage')
  @ApiBody({ schema: CREATE_KEY_SCHEMA as object })
  create(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<CreatedApiKey> {
    const request = validateCreateKey(body);
    if (request.tenants.includes('*') && request.tenants.length > 1) {
      throw new RequestValidationError([{ path: '/tenants', message: '"*" stands alone' }]);
    }
    let expiresAt: string | null = null;
    if (request.expiresAt !== undefined) {
      const ms = Date.parse(request.expiresAt);
      if (Number.isNaN(ms) || ms <= Date.now()) throw new RequestValidationError([{ path: '/expiresAt', message: 'must be a valid time in the future' }]);
      expiresAt = new Date(ms).toISOString();
    }
    return this.commands.execute(new CreateApiKey(principal, request.name, request.roles, request.tenants, expiresAt));
  }

  @Get()
  @RequirePermission('keys:manage')
  async list(): Promise<{ items: ApiKeyRecord[] }> {
    return { items: await this.keys.list() };
  }
}
