// History a network gives on demand, older than anything archived (MAM
// paging back past the archive's start, src/xmpp/mam.ts), must sort before
// what is there: the archive order is `seq`, and the identity column only
// counts up. Such rows take their seq from this sequence instead, which
// counts down from -1: each older page fetched gets lower numbers, so a
// conversation's rows stay in time order (backfill is always older than
// the conversation's oldest row), and one sequence keeps them unique across
// processes.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ArchiveBackfill1796352171462 implements MigrationInterface {
  readonly name = 'ArchiveBackfill1796352171462';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE SEQUENCE archive_backfill_seq AS bigint INCREMENT BY -1 MINVALUE -9223372036854775808 MAXVALUE -1 START WITH -1`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP SEQUENCE archive_backfill_seq`);
  }
}
