import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sinks (src/streaming): where the logs are streamed, and how far each sink got in each log.
 * A sink's changes are `streaming` entries in the `platform` log; `sinks` holds its current
 * state and its secret (write-only through the API: never read back out, never in an entry).
 * `sink_positions` is the next index to send per (sink, log): it only moves forward in the
 * transaction that records a delivery, and back only by a recorded replay.
 */
export class Sinks1796358055004 implements MigrationInterface {
  name = 'Sinks1796358055004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sinks (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('ndjson', 'splunk_hec', 'syslog')),
        url text NOT NULL,
        secret text,
        tenants text[] NOT NULL,
        categories text[],
        types text[],
        start_from text NOT NULL CHECK (start_from IN ('end', 'start')),
        personal_data boolean NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'active', 'error')),
        created_by uuid NOT NULL,
        created_by_known_to uuid[] NOT NULL,
        approved_by uuid,
        created_at timestamptz NOT NULL,
        failures integer NOT NULL DEFAULT 0,
        last_error text,
        last_error_at timestamptz,
        version integer NOT NULL,
        CHECK (status <> 'active' OR NOT personal_data OR approved_by IS NOT NULL)
      )`);
    await q.query(`
      CREATE TABLE sink_positions (
        sink_id uuid NOT NULL REFERENCES sinks (id) ON DELETE CASCADE,
        log text NOT NULL,
        position bigint NOT NULL CHECK (position >= 0),
        sent bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (sink_id, log)
      )`);
    await q.query('GRANT SELECT, INSERT, UPDATE, DELETE ON sinks, sink_positions TO audit_runtime');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE sink_positions');
    await q.query('DROP TABLE sinks');
  }
}
