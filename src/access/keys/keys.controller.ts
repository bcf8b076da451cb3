import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { CLOCK, Clock, RequestValidationError } from '../../platform';
import { KeyNotFoundError } from '../access.errors';
import { ApiKeyRecord, ApiKeyStore } from '../api-key.store';
import { CurrentPrincipal } from '../principal.decorator';
import { RequirePermission } from '../permission.decorator';
import { Principal } from '../roles';
import { mayManage } from './api-key.decider';
import { CreateApiKey, IssuedApiKey } from './create-api-key.command';
import { CREATE_KEY_SCHEMA, parseCreateKey } from './create-api-key.request';
import { RevokeApiKey } from './revoke-api-key.command';
import { RotateApiKey } from './rotate-api-key.command';

const KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The key id a route names; anything that cannot be one is simply not found. */
function keyId(id: string): string {
  if (!KEY_ID.test(id)) throw new KeyNotFoundError();
  return id;
}

@ApiTags('keys')
@ApiBearerAuth()
@Controller('v1/keys')
export class KeysController {
  constructor(
    private readonly commands: CommandBus,
    private readonly keys: ApiKeyStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(201)
  @RequirePermission('keys:manage')
  @ApiBody({ schema: CREATE_KEY_SCHEMA as object })
  create(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<IssuedApiKey> {
    const request = parseCreateKey(body, this.clock.now().getTime());
    return this.commands.execute(
      new CreateApiKey(principal, request.name, request.roles, request.tenants, request.expiresAt, request.principal),
    );
  }

  /** Keys inside the caller's tenant scope, never a secret; `prefix` finds a key seen in the wild. */
  @Get()
  @RequirePermission('keys:manage')
  async list(
    @CurrentPrincipal() principal: Principal,
    @Query('prefix') prefix?: unknown,
  ): Promise<{ items: ApiKeyRecord[] }> {
    if (prefix !== undefined && typeof prefix !== 'string')
      throw new RequestValidationError([{ path: '/prefix', message: 'must be given once' }]);
    const items = (await this.keys.list(prefix)).filter((key) => mayManage(principal, key));
    return { items };
  }

  /** By an admin within its scope, or by the key itself (then only its holder knows the new secret). */
  @Post(':id/rotate')
  @HttpCode(200)
  @RequirePermission('authenticated')
  rotate(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<IssuedApiKey> {
    return this.commands.execute(new RotateApiKey(principal, keyId(id)));
  }

  @Delete(':id')
  @RequirePermission('keys:manage')
  revoke(@Param('id') id: string, @CurrentPrincipal() principal: Principal): Promise<ApiKeyRecord> {
    return this.commands.execute(new RevokeApiKey(principal, keyId(id)));
  }
}
