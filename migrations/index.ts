// Every migration, in order. Imported explicitly (no file globs): the code runs
// from TypeScript through tsx and compiled from dist/, and a glob would have to
// know which. A new migration is a new file `<Date.now()>-<name>.ts` whose
// class is `<Name><timestamp>` with a matching `name`, added to this list.
// Never edit a migration that was released: add another.
import type { MigrationInterface } from 'typeorm';
import { Initial1795306300202 } from './1795306300202-initial.js';
import { Roster1795308059421 } from './1795308059421-roster.js';
import { Archive1795308173203 } from './1795308173203-archive.js';
import { ArchiveGinFastupdateOff1796350996136 } from './1796350996136-archive-gin-fastupdate-off.js';
import { ArchiveBackfill1796352171462 } from './1796352171462-archive-backfill.js';

export const migrations: Array<new () => MigrationInterface> = [
  Initial1795306300202,
  Roster1795308059421,
  Archive1795308173203,
  ArchiveGinFastupdateOff1796350996136,
  ArchiveBackfill1796352171462,
];
