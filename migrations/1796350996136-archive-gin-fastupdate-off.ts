// The GIN index on archive.network_ids without its pending list.
//
// With fastupdate (the default) new entries go to a pending list that every
// lookup reads in full until VACUUM merges it into the index. PGlite runs no
// autovacuum, so the list only grew (up to gin_pending_list_limit, 4 MB) and
// each lookup by network id (replies, reactions, corrections, retractions
// from the network; history on join) cost more the more had been archived.
// Off, every insert updates the index itself: lookups stay one index search.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ArchiveGinFastupdateOff1796350996136 implements MigrationInterface {
  readonly name = 'ArchiveGinFastupdateOff1796350996136';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER INDEX archive_network_ids_idx SET (fastupdate = off)`);
    // What is already pending moves into the index (a no-op on an empty archive).
    await queryRunner.query(`SELECT gin_clean_pending_list('archive_network_ids_idx'::regclass)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER INDEX archive_network_ids_idx RESET (fastupdate)`);
  }
}
