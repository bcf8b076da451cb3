import { Injectable, OnModuleInit } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { PERMISSION } from './permission.decorator';

/**
 * Refuses to start a service with a route that names no permission. The guard would deny such a
 * route anyway; failing at start makes the omission a bug found by the first test, not a 403
 * found by the first user.
 */
@Injectable()
export class RoutePermissionsCheck implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    const missing: string[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!controller) continue;
      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype)) {
        const handler = prototype[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        if (this.reflector.getAllAndOverride(PERMISSION, [handler, controller]) === undefined)
          missing.push(`${controller.name}.${name}`);
      }
    }
    if (missing.length > 0) throw new Error(`routes without @RequirePermission: ${missing.join(', ')}`);
  }
}
