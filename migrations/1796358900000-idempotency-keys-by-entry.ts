import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Erasure forgets the idempotency digests of the entries it erases (they hash the personal data),
 * by entry: `DELETE FROM idempotency_keys WHERE log = $1 AND idx = ANY(...)`. Without an index on
 * (log, idx) every erasing transaction, one per purge batch, read the whole table.
 */
export class IdempotencyKeysByEntry1796358900000 implements MigrationInterface {
  name = 'IdempotencyKeysByEntry1796358900000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX idempotency_keys_entry ON idempotency_keys (log, idx)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX idempotency_keys_entry');
  }
}
