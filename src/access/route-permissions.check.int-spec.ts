import { Controller, Get, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { RequirePermission } from './permission.decorator';
import { RoutePermissionsCheck } from './route-permissions.check';

@Controller('guarded')
class GuardedController {
  @Get()
  @RequirePermission('events:read')
  read(): string {
    return 'ok';
  }
}

@Controller('forgotten')
class ForgottenController {
  @Get()
  @RequirePermission('events:read')
  read(): string {
    return 'ok';
  }

  @Get('other')
  other(): string {
    return 'open?';
  }
}

@RequirePermission('public')
@Controller('open')
class ClassLevelController {
  @Get()
  open(): string {
    return 'ok';
  }
}

function moduleWith(...controllers: (new () => object)[]) {
  @Module({ imports: [DiscoveryModule], controllers, providers: [RoutePermissionsCheck] })
  class TestModule {}
  return TestModule;
}

describe('RoutePermissionsCheck', () => {
  it('starts when every route names its permission, on the method or the class', async () => {
    const app = (
      await Test.createTestingModule({ imports: [moduleWith(GuardedController, ClassLevelController)] }).compile()
    ).createNestApplication(new FastifyAdapter());
    await expect(app.init()).resolves.toBe(app);
    await app.close();
  });

  it('refuses to start with a route that names none, and names it', async () => {
    const app = (
      await Test.createTestingModule({ imports: [moduleWith(GuardedController, ForgottenController)] }).compile()
    ).createNestApplication(new FastifyAdapter());
    await expect(app.init()).rejects.toThrow('routes without @RequirePermission: ForgottenController.other');
    await app.close();
  });
});
