import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal } from '../access';
import { RequirePermission } from '../access';
import { Principal, coversTenant, rolesGrant } from '../access';
import { PermissionError, PersonalDataGuard, RequestValidationError } from '../platform';
import { AmendHold } from './amend-hold.handler';
import { HoldState, PendingRelease, mayReachHold } from './hold.decider';
import { holdCovers } from './hold-scope';
import { HoldPreview, HoldPreviewView } from './hold-preview';
import { HoldStore } from './hold.store';
import { HoldNotFoundError } from './holds.errors';
import {
  AMEND_HOLD_SCHEMA,
  CHECK_HOLDS_SCHEMA,
  PLACE_HOLD_SCHEMA,
  RELEASE_HOLD_SCHEMA,
  parseAmendHold,
  parseCheckHolds,
  parsePlaceHold,
  parseReleaseHold,
} from './holds.request';
import { PlaceHold } from './place-hold.handler';
import { PendingReleases, ReleaseHold } from './release-hold.handler';

/** A hold as the API shows it; release requests appear in `history`. */
export type HoldView = Omit<HoldState, 'approvals'>;

function holdView({ approvals: _approvals, ...view }: HoldState): HoldView {
  return view;
}

const HOLD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A hold id from a route; anything that cannot be one is simply not found. */
function holdId(id: string): string {
  if (!HOLD_ID.test(id)) throw new HoldNotFoundError();
  return id;
}

function oneQueryValue(value: unknown, name: string, allowed?: readonly string[]): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || (allowed && !allowed.includes(value))) {
    throw new RequestValidationError([
      { path: `/query/${name}`, message: allowed ? `must be one of ${allowed.join(', ')}` : 'must be given once' },
    ]);
  }
  return value;
}

/** Legal holds (docs/domain.md "Legal holds"): place, amend, release by enough people, read, check. */
@ApiTags('holds')
@ApiBearerAuth()
@Controller('v1/holds')
export class HoldsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly store: HoldStore,
    private readonly personalData: PersonalDataGuard,
    private readonly previews: HoldPreview,
    private readonly pendingReleases: PendingReleases,
  ) {}

  @Post()
  @HttpCode(201)
  @RequirePermission('holds:manage')
  @ApiBody({ schema: PLACE_HOLD_SCHEMA as object })
  async place(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<HoldView> {
    const request = parsePlaceHold(body, this.personalData);
    return holdView(
      await this.commands.execute(
        new PlaceHold(principal, request.tenant, request.matter, request.description, request.scope),
      ),
    );
  }

  /**
   * What placing this hold would cover, placing nothing: the body of `POST /v1/holds`, checked
   * alike (schema, personal-data guard, tenant scope, the tenant's log), answered with the entries
   * (per log) and the unfinished deletion requests it would hold back.
   */
  @Post('preview')
  @HttpCode(200)
  @RequirePermission('holds:manage')
  @ApiBody({ schema: PLACE_HOLD_SCHEMA as object })
  async preview(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<HoldPreviewView> {
    return this.previews.preview(principal, parsePlaceHold(body, this.personalData));
  }

  /**
   * Whether data is held, for any role. Emitters (keys without `holds:read`) learn whether and by
   * which hold ids, never the matter.
   */
  @Post('check')
  @HttpCode(200)
  @RequirePermission('holds:check')
  @ApiBody({ schema: CHECK_HOLDS_SCHEMA as object })
  async check(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
  ): Promise<{ held: boolean; holds: { id: string; matter?: string }[] }> {
    const question = parseCheckHolds(body);
    if (!coversTenant(principal, question.tenant))
      throw new PermissionError(`this key may not ask about tenant ${question.tenant}`);
    const covering = (await this.store.activeFor(question.tenant)).filter((hold) => holdCovers(hold, question));
    const readsHolds = rolesGrant(principal.roles, 'holds:read');
    return {
      held: covering.length > 0,
      holds: covering.map((hold) => (readsHolds ? { id: hold.id, matter: hold.matter } : { id: hold.id })),
    };
  }

  @Get()
  @RequirePermission('holds:read')
  async list(
    @CurrentPrincipal() principal: Principal,
    @Query('tenant') tenant?: unknown,
    @Query('status') status?: unknown,
  ): Promise<{ items: HoldView[] }> {
    const filter = {
      tenant: oneQueryValue(tenant, 'tenant'),
      status: oneQueryValue(status, 'status', ['active', 'released']),
    };
    return { items: (await this.store.listFor(principal.tenants, filter)).map(holdView) };
  }

  @Get(':id')
  @RequirePermission('holds:read')
  async get(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<HoldView & { release?: PendingRelease }> {
    const hold = await this.store.findFor(principal.tenants, holdId(id));
    if (hold === undefined || !mayReachHold(principal, hold)) throw new HoldNotFoundError();
    const release = await this.pendingReleases.of(hold);
    return { ...holdView(hold), ...(release === null ? {} : { release }) };
  }

  /** Widens the scope; narrowing is refused (it is a release). */
  @Post(':id/amend')
  @HttpCode(200)
  @RequirePermission('holds:manage')
  @ApiBody({ schema: AMEND_HOLD_SCHEMA as object })
  async amend(
    @Param('id') id: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
  ): Promise<HoldView> {
    const request = parseAmendHold(body, this.personalData);
    return holdView(
      await this.commands.execute(
        new AmendHold(principal, holdId(id), request.scope, request.description, request.reason),
      ),
    );
  }

  /** 200 `released` once enough distinct legal keys asked; 202 `release_pending` before. */
  @Post(':id/release')
  @RequirePermission('holds:manage')
  @ApiBody({ schema: RELEASE_HOLD_SCHEMA as object })
  async release(
    @Param('id') id: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<
    Omit<HoldView, 'status'> & { status: 'released' | 'release_pending'; approvals: number; required: number }
  > {
    const { reason } = parseReleaseHold(body, this.personalData);
    const outcome = await this.commands.execute(new ReleaseHold(principal, holdId(id), reason));
    const released = outcome.hold.status === 'released';
    void reply.status(released ? 200 : 202);
    return {
      ...holdView(outcome.hold),
      status: released ? 'released' : 'release_pending',
      approvals: outcome.approvals,
      required: outcome.required,
    };
  }
}
