/**
 * Shutdown with a deadline (issue 24): on SIGTERM/SIGINT the process closes gracefully, and if that
 * has not finished within AUDIT_SHUTDOWN_DEADLINE_MS, it logs what was still pending and exits
 * anyway, so a PostgreSQL or Redis that never answers cannot keep it (and its port) alive.
 * src/main.ts calls closeOnSignal; the rest is plain code (shutdown-deadline.spec.ts), and
 * test/drills/shutdown-deadline.drill-spec.ts drives the real process.
 */
import { INestApplication, LoggerService } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';

/** The exit status of a process whose graceful close did not finish within the deadline. */
export const SHUTDOWN_DEADLINE_EXIT_CODE = 1;

/** The lifecycle hooks Nest awaits while it closes, in the order it calls them. */
export const SHUTDOWN_HOOKS = ['onModuleDestroy', 'beforeApplicationShutdown', 'onApplicationShutdown'] as const;

/** What the graceful close is still waiting for: the steps that started and have not settled. */
export class ShutdownProgress {
  private readonly running = new Map<string, number>();

  /** Marks `label` as started; the returned function marks it as settled (once, however often called). */
  begin(label: string): () => void {
    this.running.set(label, (this.running.get(label) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.running.get(label) ?? 1) - 1;
      if (left > 0) this.running.set(label, left);
      else this.running.delete(label);
    };
  }

  /** Runs `step` as `label`: pending until the value it returns (a promise or not) settles. */
  track<T>(label: string, step: () => T): T {
    const end = this.begin(label);
    let result: T;
    try {
      result = step();
    } catch (e) {
      end();
      throw e;
    }
    if (isThenable(result)) result.then(end, end);
    else end();
    return result;
  }

  /** The labels still pending, in the order they started. */
  pending(): string[] {
    return [...this.running.keys()];
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** An object Nest may call shutdown hooks on, with the name it is known by (its provider token). */
export interface HookHolder {
  readonly name: string;
  readonly instance: unknown;
}

const tracked = new WeakMap<object, Set<string>>();

/**
 * Makes each holder's shutdown hooks (SHUTDOWN_HOOKS) report to `progress` as
 * `<name>.<hook>` while they run. The hooks keep their behaviour; an instance met twice (an
 * alias, an exported provider) is wrapped once. Returns how many hooks it wrapped.
 */
export function trackShutdownHooks(holders: Iterable<HookHolder>, progress: ShutdownProgress): number {
  let wrapped = 0;
  for (const { name, instance } of holders) {
    if (typeof instance !== 'object' || instance === null) continue;
    const target = instance as Record<string, unknown>;
    const done = tracked.get(target) ?? new Set<string>();
    for (const hook of SHUTDOWN_HOOKS) {
      const original = target[hook];
      if (typeof original !== 'function' || done.has(hook)) continue;
      const label = `${name}.${hook}`;
      target[hook] = function (this: unknown, ...args: unknown[]) {
        return progress.track(label, () => (original as (...a: unknown[]) => unknown).apply(this, args));
      };
      done.add(hook);
      wrapped++;
    }
    tracked.set(target, done);
  }
  return wrapped;
}

/** The one error line of a deadline that passed. */
export function deadlineMessage(deadlineMs: number, pending: readonly string[]): string {
  const what =
    pending.length > 0
      ? `still pending: ${pending.join(', ')}`
      : 'no tracked shutdown step was pending (the close was stuck between them)';
  return `shutdown deadline of ${deadlineMs} ms passed before the graceful close finished; exiting with code ${SHUTDOWN_DEADLINE_EXIT_CODE}; ${what}`;
}

/**
 * Arms the deadline: after `deadlineMs`, `log` gets deadlineMessage and `exit` is called with
 * SHUTDOWN_DEADLINE_EXIT_CODE. The timer does not keep the process alive on its own (unref): a
 * close that finishes first ends the process before it fires.
 */
export function armShutdownDeadline(options: {
  deadlineMs: number;
  progress: ShutdownProgress;
  log: (message: string) => void;
  exit: (code: number) => void;
  setTimer?: (fire: () => void, ms: number) => { unref?(): unknown };
}): void {
  const setTimer = options.setTimer ?? setTimeout;
  const timer = setTimer(() => {
    try {
      options.log(deadlineMessage(options.deadlineMs, options.progress.pending()));
    } finally {
      options.exit(SHUTDOWN_DEADLINE_EXIT_CODE);
    }
  }, options.deadlineMs);
  timer.unref?.();
}

/**
 * Wires the deadline into `app` (src/main.ts, once the application is created, before it listens):
 * SIGTERM/SIGINT close the application gracefully (Nest's shutdown hooks, the HTTP server) and exit
 * with 0; a close that has not finished within `deadlineMs` (PostgreSQL or Redis not answering)
 * logs what was still pending and exits with SHUTDOWN_DEADLINE_EXIT_CODE instead (issue 24).
 * Returns the progress, for main.ts to track its start-up with.
 */
export function closeOnSignal(app: INestApplication, deadlineMs: number, logger: LoggerService): ShutdownProgress {
  const progress = new ShutdownProgress();
  const holders: HookHolder[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of [
      ...module.providers.values(),
      ...module.controllers.values(),
      ...module.injectables.values(),
    ])
      holders.push({
        name: typeof wrapper.name === 'string' ? wrapper.name : String(wrapper.token),
        instance: wrapper.instance,
      });
  }
  trackShutdownHooks(holders, progress);
  const http = app.getHttpAdapter();
  const closeHttp = http.close.bind(http);
  http.close = () => progress.track('HTTP server (requests in flight)', closeHttp);
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal}: closing (deadline ${deadlineMs} ms)`, 'Shutdown');
    armShutdownDeadline({
      deadlineMs,
      progress,
      log: (message) => logger.error(message, undefined, 'Shutdown'),
      exit: (code) => process.exit(code),
    });
    app.close().then(
      () => {
        logger.log('closed', 'Shutdown');
        process.exit(0);
      },
      (e: unknown) => {
        logger.error(`the graceful close failed: ${e instanceof Error ? e.message : String(e)}`, undefined, 'Shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return progress;
}
