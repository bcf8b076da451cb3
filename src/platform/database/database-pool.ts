import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Client, ClientConfig, Pool, PoolClient } from 'pg';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { runtimeConnection } from './database-bootstrap';

/**
 * The service's own pg pool, as the runtime role: for what TypeORM does not give (a statement
 * named for the server's plan cache on the append path, a transaction switched to the reader role,
 * a LISTEN connection). Configured here and nowhere else; TypeORM keeps its own pool for the
 * repositories and transactions of the state tables.
 */
@Injectable()
export class DatabasePool implements OnApplicationShutdown {
  readonly pool: Pool;
  private readonly connection: { url: string; extra: Record<string, unknown> };

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const connection = runtimeConnection(config.databaseUrl, config.runtimeDatabaseUrl);
    this.connection = connection;
    this.pool = new Pool({
      connectionString: connection.url,
      ...connection.extra,
      // Enough connections for parallel per-log commits and reads on a 2-core machine.
      max: 24,
      keepAlive: true,
      // A connection that cannot be had fails the request (503) instead of holding it.
      connectionTimeoutMillis: 5_000,
    });
    // An idle connection that dies (PostgreSQL restarted or unreachable) is dropped by the pool and
    // replaced on demand; the outage is told by the postgres dependency tracker, not per socket.
    this.pool.on('error', () => undefined);
  }

  /** One statement in autocommit; `name` lets PostgreSQL keep its plan for the connection. */
  async query(text: string, values?: unknown[], name?: string): Promise<Record<string, unknown>[]> {
    return (await this.pool.query({ text, values, name })).rows;
  }

  /**
   * A connection of its own, outside the pool, for a session that must outlive any statement (a
   * LISTEN). Bounded connect: one that hangs (PostgreSQL unreachable) must not stop retries.
   */
  dedicatedClient(): Client {
    return new Client(this.clientConfig());
  }

  /** How to open such a connection elsewhere (a worker thread cannot be handed a client). */
  clientConfig(): ClientConfig {
    return {
      connectionString: this.connection.url,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      ...this.connection.extra,
    };
  }

  connect(): Promise<PoolClient> {
    return this.pool.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
