import type { DynamicModule, InjectionToken, Type } from '@nestjs/common';

/**
 * How the composition root (src/app.module.ts) binds a port one context declares to a provider of
 * another, without either importing the other: the modules that export the provider, and the
 * provider itself.
 */
export interface PortBinding {
  readonly imports: readonly (Type | DynamicModule)[];
  readonly useExisting: InjectionToken;
}
