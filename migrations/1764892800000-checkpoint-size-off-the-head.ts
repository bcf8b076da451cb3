import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A log's latest checkpoint size is read from `checkpoints` (its key is (log, size), so the
 * largest is one index probe), no longer kept on the head row in `logs`. Recording a checkpoint
 * updated that row in a transaction, which held the log's head for two round trips of the signer;
 * every append to the log that came meanwhile waited for it, once a second per log.
 */
export class CheckpointSizeOffTheHead1764892800000 implements MigrationInterface {
  name = 'CheckpointSizeOffTheHead1764892800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE logs DROP COLUMN checkpoint_size');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE logs ADD COLUMN checkpoint_size bigint NOT NULL DEFAULT -1`);
    await q.query(
      `UPDATE logs l SET checkpoint_size = c.size FROM (SELECT log, max(size) AS size FROM checkpoints GROUP BY log) c WHERE c.log = l.log`,
    );
  }
}
