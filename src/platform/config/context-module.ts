import type { DynamicModule, Provider, Type } from '@nestjs/common';
import type { AppConfig } from './app-config';

const built = new WeakMap<AppConfig, Map<Type, DynamicModule>>();

/** What a context module is made of; which parts run depends on `AUDIT_COMPONENTS`. */
export interface ContextParts {
  readonly imports?: DynamicModule['imports'];
  /** Served only by a process that runs the `api` component. */
  readonly controllers?: Type[];
  readonly providers?: Provider[];
  /** BullMQ processors and schedules: only in a process that runs the `worker` component. */
  readonly workers?: Provider[];
  readonly exports?: DynamicModule['exports'];
}

/**
 * A context's module for this configuration, built once. Several contexts import the same one
 * (every context imports the ledger's); Nest keeps one instance of a dynamic module only when it
 * is the same object, and two instances would mean two sequencers, two signers, routes declared
 * twice. `parts` is called once, so the modules it imports are built once too.
 */
export function contextModule(module: Type, config: AppConfig, parts: () => ContextParts): DynamicModule {
  let modules = built.get(config);
  if (!modules) built.set(config, (modules = new Map()));
  let dynamic = modules.get(module);
  if (!dynamic) {
    const { imports = [], controllers = [], providers = [], workers = [], exports = [] } = parts();
    dynamic = {
      module,
      imports,
      controllers: config.components.has('api') ? controllers : [],
      providers: [...providers, ...(config.components.has('worker') ? workers : [])],
      exports,
    };
    modules.set(module, dynamic);
  }
  return dynamic;
}
