import { InjectQueue, WorkerHost } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { isConnectionFailure } from '../database/dependency-failure';
import { MAINTENANCE_QUEUE } from '../queue/maintenance.queue';
import { REQUIRED_EVICTION_POLICY, evictionPolicy } from '../queue/redis-connection';
import { DependencyTracker } from './dependency-tracker';

// Often enough that "back" is logged within half a second of it, rarely enough to cost nothing.
const PROBE_EVERY_MS = 500;

/** This process's view of PostgreSQL and Redis: one tracker each (see DependencyTracker). */
@Injectable()
export class Dependencies implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(Dependencies.name);
  readonly postgres: DependencyTracker;
  readonly redis: DependencyTracker;

  constructor(
    @InjectDataSource() db: DataSource,
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
    private readonly discovery: DiscoveryService,
  ) {
    const log = this.logger;
    this.postgres = new DependencyTracker('postgres', {
      log,
      probe: () => db.query('SELECT 1'),
      probeEveryMs: PROBE_EVERY_MS,
      whileDown: 'requests that need it are answered 503 unavailable',
      counted: 'request(s) refused',
    });
    // Jobs skipped while Redis is away are queued again by their reconcilers (deletions) or
    // counted as not queued (notifications): the count says how many were left to those.
    this.redis = new DependencyTracker('redis', {
      log,
      // Any command answered proves Redis is back (commands wait while BullMQ reconnects).
      probe: () => queue.getJobCounts('waiting'),
      probeEveryMs: PROBE_EVERY_MS,
      whileDown: 'jobs are left to their reconcilers (deletions) or dropped and counted (notifications)',
      counted: 'job(s) not queued',
    });
  }

  /**
   * BullMQ queues and workers emit 'error' on every failed reconnect while Redis is away; unheard,
   * BullMQ prints each one to stderr. Heard here, a lost connection is the redis tracker's one line.
   */
  onApplicationBootstrap(): void {
    const heard = (e: Error) => {
      if (isConnectionFailure(e) || e.message === 'Connection is closed.') this.redis.unreachable();
      else this.logger.error(`queue error: ${e.name}`);
    };
    for (const { instance } of this.discovery.getProviders()) {
      if (instance instanceof WorkerHost) instance.worker.on('error', heard);
      else if (instance instanceof Queue) instance.on('error', heard);
    }
    // Not awaited: start-up does not wait for Redis (no request needs it). Told once, when Redis
    // first answers; /health (the redis indicator) says it for as long as it lasts.
    void this.queue
      .getBackend()
      .client.then((client) => evictionPolicy(client))
      .then(
        (policy) => {
          if (policy !== undefined && policy !== REQUIRED_EVICTION_POLICY)
            this.logger.warn(
              `Redis maxmemory-policy=${policy}: Redis may evict queued jobs, and BullMQ requires ${REQUIRED_EVICTION_POLICY}; ` +
                `/health reports redis degraded until it is set (CONFIG SET maxmemory-policy ${REQUIRED_EVICTION_POLICY})`,
            );
        },
        () => undefined,
      );
  }

  onApplicationShutdown(): void {
    this.postgres.stop();
    this.redis.stop();
  }
}
