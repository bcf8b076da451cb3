import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Principal, RequirePermission } from '../access';
import { SinkChanges } from './sink-changes';
import { SinkTester } from './sink-tester';
import {
  CREATE_SINK_SCHEMA,
  PATCH_SINK_SCHEMA,
  REPLAY_SINK_SCHEMA,
  parseCreateSink,
  parsePatchSink,
  parseReplay,
  shownUrl,
} from './sink-request';
import { mayManageSink } from './sink.decider';
import { SinkPosition, SinkRecord, SinkStore } from './sink.store';

/** A sink as the API shows it: never the secret, only whether one is set. */
export interface SinkView {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly url: string;
  readonly tenants: readonly string[];
  readonly categories: readonly string[] | null;
  readonly types: readonly string[] | null;
  readonly from: string;
  readonly personalData: boolean;
  readonly status: string;
  readonly secretSet: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly approvedBy: string | null;
  readonly failures: number;
  readonly lastError: { readonly message: string; readonly at: string | null } | null;
  readonly positions?: readonly SinkPosition[];
}

function viewOf(sink: SinkRecord, positions?: SinkPosition[]): SinkView {
  return {
    id: sink.id,
    name: sink.name,
    kind: sink.kind,
    url: shownUrl(sink.url),
    tenants: sink.tenants,
    categories: sink.categories,
    types: sink.types,
    from: sink.from,
    personalData: sink.personalData,
    status: sink.status,
    secretSet: sink.secretSet,
    createdAt: sink.createdAt,
    createdBy: sink.createdBy,
    approvedBy: sink.approvedBy,
    failures: sink.failures,
    lastError: sink.lastError === null ? null : { message: sink.lastError, at: sink.lastErrorAt },
    ...(positions === undefined ? {} : { positions }),
  };
}

/** Sinks: where the logs are streamed (docs/api.md "Sinks"). Admins manage them; legal approves personal data. */
@ApiTags('sinks')
@ApiBearerAuth()
@Controller('v1/sinks')
export class SinksController {
  constructor(
    private readonly changes: SinkChanges,
    private readonly store: SinkStore,
    private readonly tester: SinkTester,
  ) {}

  @Post()
  @HttpCode(201)
  @RequirePermission('sinks:manage')
  @ApiBody({ schema: CREATE_SINK_SCHEMA as object })
  async create(@Body() body: unknown, @CurrentPrincipal() by: Principal): Promise<SinkView> {
    const sink = await this.changes.create(by, parseCreateSink(body));
    return viewOf(sink, await this.store.positions(sink));
  }

  /** The sinks whose every tenant is inside the key's scope. */
  @Get()
  @RequirePermission('sinks:manage')
  async list(@CurrentPrincipal() by: Principal): Promise<{ items: SinkView[] }> {
    const sinks = (await this.store.all()).filter((sink) => mayManageSink(by, sink));
    return { items: sinks.map((sink) => viewOf(sink)) };
  }

  /** One sink with its position and lag in every log it covers, and its last error. */
  @Get(':id')
  @RequirePermission('sinks:manage')
  async get(@Param('id') id: string, @CurrentPrincipal() by: Principal): Promise<SinkView> {
    const sink = await this.changes.visible(by, id);
    return viewOf(sink, await this.store.positions(sink));
  }

  @Patch(':id')
  @RequirePermission('sinks:manage')
  @ApiBody({ schema: PATCH_SINK_SCHEMA as object })
  async change(@Param('id') id: string, @Body() body: unknown, @CurrentPrincipal() by: Principal): Promise<SinkView> {
    const current = await this.changes.visible(by, id);
    const sink = await this.changes.change(by, id, parsePatchSink(body, current.kind));
    return viewOf(sink, await this.store.positions(sink));
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('sinks:manage')
  async remove(@Param('id') id: string, @CurrentPrincipal() by: Principal): Promise<void> {
    await this.changes.remove(by, id);
  }

  /** A second, legal person lets a sink that carries personal data start. */
  @Post(':id/approve')
  @HttpCode(200)
  @RequirePermission('sinks:approve')
  async approve(@Param('id') id: string, @CurrentPrincipal() by: Principal): Promise<SinkView> {
    return viewOf(await this.changes.approve(by, id));
  }

  /** Moves the sink's position in one log back: those entries are sent again. */
  @Post(':id/replay')
  @HttpCode(200)
  @RequirePermission('sinks:manage')
  @ApiBody({ schema: REPLAY_SINK_SCHEMA as object })
  async replay(@Param('id') id: string, @Body() body: unknown, @CurrentPrincipal() by: Principal): Promise<SinkView> {
    await this.changes.visible(by, id);
    const { log, from } = parseReplay(body);
    const sink = await this.changes.replay(by, id, log, from);
    return viewOf(sink, await this.store.positions(sink));
  }

  /** Sends one signed test event (`sink.test`) now: `{delivered, error}`; moves no position. */
  @Post(':id/test')
  @HttpCode(200)
  @RequirePermission('sinks:manage')
  async test(
    @Param('id') id: string,
    @CurrentPrincipal() by: Principal,
  ): Promise<{ delivered: boolean; error: string | null }> {
    return this.tester.test(await this.changes.visible(by, id));
  }
}
