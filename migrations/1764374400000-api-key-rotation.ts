import { MigrationInterface, QueryRunner } from 'typeorm';

/** When a key's secret was last replaced; the prefix for people to find a key by in lists. */
export class ApiKeyRotation1764374400000 implements MigrationInterface {
  name = 'ApiKeyRotation1764374400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE api_keys ADD COLUMN rotated_at timestamptz');
    await q.query('CREATE INDEX api_keys_prefix ON api_keys (prefix)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX api_keys_prefix');
    await q.query('ALTER TABLE api_keys DROP COLUMN rotated_at');
  }
}
