// Opening the database: Postgres through `pg` when a URL is configured, else
// the embedded PGlite. Either way TypeORM drives it with its postgres driver,
// the same entities, the same migrations and the same `pg` type handling,
// and pending migrations run before anything else touches the database.
//
// How PGlite plugs in. PGlite ships a node-postgres adapter
// (`@electric-sql/pglite/node-postgres`): a stand-in for pg's socket
// connection that speaks the wire protocol straight into one PGlite instance.
// We hand it to pg's own Pool (TypeORM `extra`), size 1. We deliberately do
// not use typeorm-pglite 0.3.4's driver (not a dependency): it keeps
// ONE process-global PGlite instance (a second store in the same process
// silently shares the first one's database, and after the first is closed
// gets a fresh empty one), and its "pool" hands the same session to every
// query runner at once, so a ROLLBACK in one transaction also undoes writes
// made concurrently elsewhere (both reproduced with typeorm 1.1.1). With pg's
// Pool of one connection, a transaction owns the session until it ends, other
// queries wait their turn, each store has its own PGlite, and rows are parsed
// by the same pg type parsers as on Postgres (bytea -> Buffer, int8 -> string).
//
// Consequence of the single session: code inside a transaction must use the
// transaction's EntityManager; a query on the DataSource from inside it would
// wait for the session the transaction holds. The pool wait times out
// (PGLITE_ACQUIRE_TIMEOUT_MS) with an error instead of hanging.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataSource, MigrationExecutor, type DataSourceOptions, type Logger as TypeOrmLogger } from 'typeorm';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import type { Logger } from '../log.js';
import { entities } from './entities/index.js';
import { migrations } from '../../migrations/index.js';

export type Engine = 'postgres' | 'pglite';

export const MIGRATIONS_TABLE = 'schema_migrations';
/** Session-level advisory lock held while migrating, so two processes starting at once migrate one after the other. */
const MIGRATION_LOCK_ID = 0x706f6e7465; // "ponte"
const PGLITE_ACQUIRE_TIMEOUT_MS = 60_000;
/**
 * PGlite's own start parameters, plus a buffer pool of 16 MB instead of
 * Postgres' 128 MB: PGlite allocates and touches the whole pool up front, so
 * the default made ~110-150 MiB of ponte's resident memory before the first
 * user. The gateway's working set (recent archive pages, its small tables) fits;
 * what is not in the pool is read from the data directory through the OS
 * page cache. A store that needs more is a Postgres one (store.url).
 */
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];
const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;
const POSTGRES_POOL_SIZE = 10;
const LOCK_FILE = 'ponte.lock';

export interface OpenedDatabase {
  dataSource: DataSource;
  engine: Engine;
  /** Names of the migrations this open applied (empty when the schema was current). */
  appliedMigrations: string[];
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  url?: string;
  dataDir: string;
  log?: Logger;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  return options.url ? openPostgres(options.url, options.log) : openPglite(options.dataDir, options.log);
}

function commonOptions(log: Logger | undefined) {
  return {
    type: 'postgres' as const,
    entities,
    migrations,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsRun: false, // run explicitly below, under an advisory lock
    synchronize: false, // never: the migrations own the schema
    dropSchema: false,
    uuidExtension: 'pgcrypto' as const, // gen_random_uuid(), built in since PostgreSQL 13
    installExtensions: false, // no CREATE EXTENSION: needs superuser on Postgres, absent from PGlite
    logger: log ? new TypeOrmPinoLogger(log) : undefined,
    logging: log ? ['error' as const, 'warn' as const, 'migration' as const, 'schema' as const] : false,
    maxQueryExecutionTime: 1_000,
  };
}

async function openPostgres(url: string, log: Logger | undefined): Promise<OpenedDatabase> {
  const options: DataSourceOptions = {
    ...commonOptions(log),
    url,
    poolSize: POSTGRES_POOL_SIZE,
    connectTimeoutMS: POSTGRES_CONNECT_TIMEOUT_MS,
    applicationName: 'ponte',
  };
  const dataSource = new DataSource(options);
  try {
    await dataSource.initialize();
  } catch (err) {
    throw new Error(`cannot connect to Postgres at ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= dataSource.isInitialized ? dataSource.destroy() : Promise.resolve());
  try {
    const appliedMigrations = await migrate(dataSource, log);
    log?.debug({ engine: 'postgres', url: redactUrl(url) }, 'store opened');
    return { dataSource, engine: 'postgres', appliedMigrations, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

async function openPglite(dataDir: string, log: Logger | undefined): Promise<OpenedDatabase> {
  const inMemory = dataDir.startsWith('memory://');
  let unlock = () => {};
  let directory = dataDir;
  if (!inMemory) {
    directory = resolve(dataDir);
    mkdirSync(directory, { recursive: true });
    unlock = lockDirectory(directory);
  }
  let pglite: PGlite | undefined;
  let dataSource: DataSource | undefined;
  const shutDown = async () => {
    try {
      if (dataSource?.isInitialized) await dataSource.destroy();
    } finally {
      try {
        if (pglite && !pglite.closed) await pglite.close();
      } finally {
        unlock();
      }
    }
  };
  try {
    try {
      pglite = await PGlite.create({ dataDir: inMemory ? 'memory://' : directory, startParams: PGLITE_START_PARAMS });
    } catch (err) {
      throw new Error(`cannot open the PGlite database in ${directory}: ${(err as Error).message}`, { cause: err });
    }
    const pgConfig = createPgConfig(pglite); // the PGlite instance stays ours to close
    dataSource = new DataSource({
      ...commonOptions(log),
      poolSize: 1,
      extra: { ...pgConfig, max: 1, idleTimeoutMillis: 0, connectionTimeoutMillis: PGLITE_ACQUIRE_TIMEOUT_MS },
    });
    await dataSource.initialize();
    const appliedMigrations = await migrate(dataSource, log);
    log?.debug({ engine: 'pglite', dataDir: inMemory ? 'memory://' : directory }, 'store opened');
    let closed: Promise<void> | undefined;
    return { dataSource, engine: 'pglite', appliedMigrations, close: () => (closed ??= shutDown()) };
  } catch (err) {
    await shutDown().catch(() => undefined);
    throw err;
  }
}

/**
 * Applies pending migrations, all in one transaction, while holding an
 * advisory lock. Refuses a database migrated by a newer ponte (it has
 * migrations this code does not know).
 */
async function migrate(dataSource: DataSource, log: Logger | undefined): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'all';
      const applied = (await executor.executePendingMigrations()).map((m) => m.name);
      const known = new Set(migrations.map((M) => new M().name ?? M.name));
      const unknown = (await executor.getExecutedMigrations()).map((m) => m.name).filter((name) => !known.has(name));
      if (unknown.length > 0) {
        throw new Error(
          `the database was migrated by a newer ponte (unknown migrations: ${unknown.join(', ')}); ` +
            'refusing to run an older version against it',
        );
      }
      if (applied.length > 0) log?.info({ migrations: applied }, 'store migrations applied');
      return applied;
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await runner.release();
  }
}

/**
 * PGlite is a single-process database: two PGlite instances on one directory
 * corrupt it (PGlite itself does not refuse). A lock file holding our pid
 * guards the directory; one left by a process that no longer runs is taken
 * over. Returns the release function.
 */
function lockDirectory(directory: string): () => void {
  const path = join(directory, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    } catch {
      continue; // removed meanwhile: try again
    }
    if (Number.isInteger(owner) && owner > 0 && processExists(owner)) {
      const who = owner === process.pid ? 'this process (the store is already open)' : `process ${owner}`;
      throw new Error(
        `the PGlite database in ${directory} is in use by ${who}: PGlite allows one user at a time. ` +
          `Stop that process, use Postgres (store.url) to run several, or remove ${path} if no ponte is running.`,
      );
    }
    try {
      unlinkSync(path); // stale: its process is gone
    } catch {
      // someone else removed it first
    }
  }
  throw new Error(`could not lock the PGlite database in ${directory} (${path})`);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured store.url (not a valid URL)';
  }
}

/** TypeORM's logger interface onto pino. Never logs query parameters (they may hold credentials). */
class TypeOrmPinoLogger implements TypeOrmLogger {
  constructor(private readonly logger: Logger) {}

  logQuery(): void {}

  logQueryError(error: string | Error, query: string): void {
    this.logger.debug({ err: error, query }, 'store query failed');
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn({ ms: time, query }, 'slow store query');
  }

  logSchemaBuild(message: string): void {
    this.logger.debug(message);
  }

  logMigration(message: string): void {
    this.logger.info(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.debug(String(message));
  }
}
