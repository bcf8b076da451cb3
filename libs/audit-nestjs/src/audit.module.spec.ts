import { Controller, Get, Injectable, Module, NotFoundException, Param, Post } from '@nestjs/common';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { AuditEvent } from '@audit/client';
import request from 'supertest';
import { AuditModule, AuditService, Audited, AuditSink } from './index';

/** A sink whose behaviour each test sets: record, hang, or fail. */
class Sink implements AuditSink {
  events: AuditEvent[] = [];
  mode: 'ok' | 'hang' | 'fail' = 'ok';
  emit(event: AuditEvent): Promise<unknown> {
    this.events.push(event);
    if (this.mode === 'hang') return new Promise(() => undefined);
    if (this.mode === 'fail') return Promise.reject(new Error('audit service unreachable'));
    return Promise.resolve({});
  }
}

class DeploymentGone extends NotFoundException {}

@Controller('deployments')
class DeploymentsController {
  @Post(':id/scale')
  @Audited({ type: 'deployment.scaled', target: { type: 'deployment', param: 'id' } })
  scale(@Param('id') id: string) {
    return { id, replicas: 3 };
  }

  @Post(':id/delete')
  @Audited({ type: 'deployment.deleted', target: { type: 'deployment', param: 'id' } })
  remove(): never {
    throw new DeploymentGone('no such deployment');
  }

  @Post(':id/strict')
  @Audited({ type: 'deployment.updated', target: { type: 'deployment', param: 'id' }, failClosed: true })
  strict(@Param('id') id: string) {
    return { id };
  }

  @Get('plain')
  plain() {
    return { ok: true };
  }
}

@Injectable()
class Billing {
  constructor(private readonly audit: AuditService) {}
  refund() {
    return this.audit.record({
      tenant: 'acme',
      type: 'billing.refund.issued',
      actor: { type: 'service', id: 'billing' },
      context: { refundId: 'r1', amountCents: 100, currency: 'EUR' },
    });
  }
}

@Module({ controllers: [DeploymentsController], providers: [Billing] })
class ConsoleModule {}

async function start(sink: Sink, async = false): Promise<NestFastifyApplication> {
  const options = {
    sink,
    tenant: (req: { headers: Record<string, unknown> }) => String(req.headers['x-tenant'] ?? 'acme'),
  };
  const moduleRef = await Test.createTestingModule({
    imports: [
      async ? AuditModule.forRootAsync({ useFactory: async () => options }) : AuditModule.forRoot(options),
      ConsoleModule,
    ],
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  // The app's authentication sets the principal; here a hook stands in for it.
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('preHandler', async (req: { headers: Record<string, unknown>; user?: unknown }) => {
      if (req.headers['x-user']) req.user = { id: req.headers['x-user'] };
    });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe('AuditModule', () => {
  let sink: Sink;
  let app: NestFastifyApplication;

  beforeEach(async () => {
    sink = new Sink();
    app = await start(sink);
  });
  afterEach(() => app.close());

  it('records the action, the actor from the principal, success, the target, the request id, and IP and user agent as personal data', async () => {
    await request(app.getHttpServer())
      .post('/deployments/dep-7/scale')
      .set('x-user', 'usr_42')
      .set('x-request-id', 'req-1')
      .set('user-agent', 'console/1.0')
      .expect(201, { id: 'dep-7', replicas: 3 });
    expect(sink.events).toEqual([
      {
        tenant: 'acme',
        type: 'deployment.scaled',
        actor: { type: 'user', id: 'usr_42' },
        target: { type: 'deployment', id: 'dep-7' },
        outcome: 'success',
        context: { requestId: 'req-1' },
        personal: { subject: 'usr_42', data: { ip: expect.any(String), userAgent: 'console/1.0' } },
      },
    ]);
    expect(JSON.stringify(sink.events[0].context)).not.toContain('console/1.0');
  });

  it("records a failure with the error's class, and the response is the route's own error", async () => {
    await request(app.getHttpServer()).post('/deployments/dep-8/delete').set('x-user', 'usr_42').expect(404);
    expect(sink.events).toHaveLength(1);
    expect(sink.events[0]).toMatchObject({ outcome: 'failure', context: { error: 'DeploymentGone' } });
  });

  it('never delays the response: a recording that hangs or fails leaves it as it was', async () => {
    sink.mode = 'hang';
    const started = Date.now();
    await request(app.getHttpServer()).post('/deployments/dep-9/scale').expect(201);
    expect(Date.now() - started).toBeLessThan(1_000);
    sink.mode = 'fail';
    await request(app.getHttpServer()).post('/deployments/dep-9/scale').expect(201);
    await request(app.getHttpServer()).post('/deployments/dep-9/delete').expect(404);
    expect(sink.events).toHaveLength(3);
  });

  it('fails closed where the route asks: no answer before the acknowledgement, 503 when it cannot be recorded', async () => {
    await request(app.getHttpServer()).post('/deployments/d/strict').expect(201);
    sink.mode = 'fail';
    const res = await request(app.getHttpServer()).post('/deployments/d/strict').expect(503);
    expect(res.body.message).toMatch(/could not be recorded/);
  });

  it('records nothing for routes without @Audited, and records by hand through AuditService', async () => {
    await request(app.getHttpServer()).get('/deployments/plain').expect(200);
    expect(sink.events).toEqual([]);
    await app.get(Billing).refund();
    expect(sink.events).toEqual([expect.objectContaining({ type: 'billing.refund.issued' })]);
  });

  it('is configured asynchronously too', async () => {
    const other = new Sink();
    const asyncApp = await start(other, true);
    try {
      await request(asyncApp.getHttpServer()).post('/deployments/a/scale').set('x-tenant', 'globex').expect(201);
      expect(other.events).toEqual([
        expect.objectContaining({ tenant: 'globex', actor: { type: 'anonymous', id: 'anonymous' } }),
      ]);
      expect(other.events[0].personal).toBeUndefined();
    } finally {
      await asyncApp.close();
    }
  });
});
