import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { GrantNotFoundError, PrincipalNotFoundError } from '../access.errors';
import { CurrentPrincipal } from '../principal.decorator';
import { RequirePermission } from '../permission.decorator';
import { Principal } from '../roles';
import { ApproveGrant, CreatePrincipal, GrantRole, RevokeGrant, RevokePrincipal } from './principal.commands';
import { GrantState, PrincipalState, mayManagePrincipal } from './principal.decider';
import { PrincipalStore } from './principal.store';
import { CREATE_PRINCIPAL_SCHEMA, GRANT_SCHEMA, parseCreatePrincipal, parseGrant } from './principals.request';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function principalId(id: string): string {
  if (!UUID.test(id)) throw new PrincipalNotFoundError();
  return id;
}

function grantId(id: string): string {
  if (!UUID.test(id)) throw new GrantNotFoundError();
  return id;
}

/** A grant as answered, with the principal it belongs to. */
type GrantView = GrantState & { principal: string };

function grantOf(principal: PrincipalState, id: string): GrantView {
  return { ...(principal.grants.find((grant) => grant.id === id) as GrantState), principal: principal.id };
}

/** People and services behind keys, and their grants (docs/api.md "Principals"). */
@ApiTags('principals')
@ApiBearerAuth()
@Controller('v1')
export class PrincipalsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly principals: PrincipalStore,
  ) {}

  @Post('principals')
  @HttpCode(201)
  @RequirePermission('keys:manage')
  @ApiBody({ schema: CREATE_PRINCIPAL_SCHEMA as object })
  create(@Body() body: unknown, @CurrentPrincipal() by: Principal): Promise<PrincipalState> {
    return this.commands.execute(new CreatePrincipal(by, parseCreatePrincipal(body)));
  }

  /** Principals whose grants lie inside the caller's scope. */
  @Get('principals')
  @RequirePermission('keys:manage')
  async list(@CurrentPrincipal() by: Principal): Promise<{ items: PrincipalState[] }> {
    return { items: (await this.principals.list()).filter((principal) => mayManagePrincipal(by, principal)) };
  }

  @Get('principals/:id')
  @RequirePermission('keys:manage')
  async get(@Param('id') id: string, @CurrentPrincipal() by: Principal): Promise<PrincipalState> {
    const principal = await this.principals.find(principalId(id));
    if (principal === undefined || !mayManagePrincipal(by, principal)) throw new PrincipalNotFoundError();
    return principal;
  }

  /** Revokes the principal: every key of it stops working at once; its name stays taken. */
  @Delete('principals/:id')
  @RequirePermission('keys:manage')
  revoke(@Param('id') id: string, @CurrentPrincipal() by: Principal): Promise<PrincipalState> {
    return this.commands.execute(new RevokePrincipal(by, principalId(id)));
  }

  /** 201 with the grant: `active` at once, `pending` for `legal` until a second legal person approves it. */
  @Post('principals/:id/grants')
  @HttpCode(201)
  @RequirePermission('keys:manage')
  @ApiBody({ schema: GRANT_SCHEMA as object })
  async grant(@Param('id') id: string, @Body() body: unknown, @CurrentPrincipal() by: Principal): Promise<GrantView> {
    const { role, tenants } = parseGrant(body);
    const principal: PrincipalState = await this.commands.execute(new GrantRole(by, principalId(id), role, tenants));
    return grantOf(principal, principal.grants[principal.grants.length - 1].id);
  }

  @Post('grants/:id/approve')
  @HttpCode(200)
  @RequirePermission('grants:approve')
  async approve(@Param('id') id: string, @CurrentPrincipal() by: Principal): Promise<GrantView> {
    const principal: PrincipalState = await this.commands.execute(new ApproveGrant(by, grantId(id)));
    return grantOf(principal, id);
  }

  @Delete('grants/:id')
  @RequirePermission('keys:manage')
  async revokeGrant(@Param('id') id: string, @CurrentPrincipal() by: Principal): Promise<GrantView> {
    const principal: PrincipalState = await this.commands.execute(new RevokeGrant(by, grantId(id)));
    return grantOf(principal, id);
  }
}
