import type { DynamicModule } from '@nestjs/common';
import type { AppConfig } from './app-config';

const built = new WeakMap<AppConfig, Map<object, DynamicModule>>();

/**
 * A context module built once per configuration. Several contexts import the same one (every
 * context imports the ledger's); Nest keeps one instance of a dynamic module only when it is the
 * same object, and two instances would mean two sequencers, two signers, routes declared twice.
 */
export function oncePerConfig(module: object, config: AppConfig, build: () => DynamicModule): DynamicModule {
  let modules = built.get(config);
  if (!modules) built.set(config, (modules = new Map()));
  let dynamic = modules.get(module);
  if (!dynamic) modules.set(module, (dynamic = build()));
  return dynamic;
}
