import { Body, Controller, Get, HttpCode, Param, Put } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { PermissionError } from '../platform';
import { CurrentPrincipal } from '../access';
import { RequirePermission } from '../access';
import { Principal } from '../access';
import { ChangeRetentionPolicy } from './change-retention-policy.handler';
import { isCategory } from './retention-defaults';
import { RetentionPolicies, RetentionPolicyRecord } from './retention-policies';
import { PUT_RETENTION_POLICY_SCHEMA, parsePutRetentionPolicy } from './retention-policies.request';
import { UnknownCategoryError } from './retention.errors';

/** Retention policies per category (docs/domain.md "Retention and deletion jobs"), admins only. */
@ApiTags('retention')
@ApiBearerAuth()
@Controller('v1/retention-policies')
export class RetentionPoliciesController {
  constructor(
    private readonly commands: CommandBus,
    private readonly policies: RetentionPolicies,
  ) {}

  /** Every declared category, with `source`: `default` (the code's) or `set` (by an admin). */
  @Get()
  @RequirePermission('retention:manage')
  async list(): Promise<{ items: RetentionPolicyRecord[] }> {
    return { items: [...(await this.policies.all()).values()] };
  }

  /** 200 with the policy in force; a change is committed with its `retention.policy_changed` entry. */
  @Put(':category')
  @HttpCode(200)
  @RequirePermission('retention:manage')
  @ApiBody({ schema: PUT_RETENTION_POLICY_SCHEMA as object })
  async put(
    @Param('category') category: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
  ): Promise<RetentionPolicyRecord> {
    // A policy holds for every tenant: a key scoped to some tenants may not change it for all.
    if (!principal.tenants.includes('*'))
      throw new PermissionError(
        'retention policies hold for every tenant: only a key for every tenant ("*") may change them',
      );
    if (!isCategory(category)) throw new UnknownCategoryError(category);
    return this.commands.execute(new ChangeRetentionPolicy(principal, category, parsePutRetentionPolicy(body)));
  }
}
