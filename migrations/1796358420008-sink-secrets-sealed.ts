import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sink secrets sealed at rest (src/streaming, SinkSecrets): `secret_sealed` holds the secret
 * under the key-encryption key (AES-256-GCM, IV ‖ ciphertext ‖ tag), `secret_key_id` the id of
 * that key, for a later rotation. The key lives outside the database, so this migration cannot
 * seal: a secret written in clear before it stays readable in `secret` until the service seals it
 * at its next start (and clears `secret`); nothing writes `secret` any more.
 */
export class SinkSecretsSealed1796358420008 implements MigrationInterface {
  name = 'SinkSecretsSealed1796358420008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE sinks
        ADD COLUMN secret_sealed bytea,
        ADD COLUMN secret_key_id text,
        ADD CONSTRAINT sinks_secret_sealed_with_key CHECK ((secret_sealed IS NULL) = (secret_key_id IS NULL)),
        ADD CONSTRAINT sinks_secret_once CHECK (secret IS NULL OR secret_sealed IS NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE sinks
        DROP CONSTRAINT sinks_secret_once,
        DROP CONSTRAINT sinks_secret_sealed_with_key,
        DROP COLUMN secret_key_id,
        DROP COLUMN secret_sealed`);
  }
}
