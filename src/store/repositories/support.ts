// Shared by the repositories: timing into metrics, raw SQL with row counts,
// and reading SQLSTATEs off errors.
import type { DataSource, QueryRunner } from 'typeorm';
import type { Metrics } from '../../metrics.js';

/** Runs a store operation, timed under `operation` in ponte_store_query_seconds when metrics are on. */
export type Timed = <T>(operation: string, work: () => Promise<T>) => Promise<T>;

export function timed(metrics: Metrics | undefined): Timed {
  if (!metrics) return (_operation, work) => work();
  return (operation, work) => metrics.timeStore(operation, work);
}

export interface SqlResult<T> {
  rows: T[];
  /** Rows inserted, updated or deleted (or returned, for a SELECT). */
  affected: number;
}

/** The name each statement run with `prepare` has on every connection (pg prepares it once per connection). */
const statementNames = new Map<string, string>();

/** pg's client, as far as a prepared statement needs it. */
interface PgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/**
 * Runs one SQL statement with positional parameters ($1, $2, ...). On a
 * DataSource it borrows a connection for the statement; pass a QueryRunner to
 * run inside its transaction.
 *
 * `prepare`: a named prepared statement, parsed and planned once per
 * connection instead of on every call (in PGlite planning costs as much as
 * running a lookup). Only for statements whose text is one of a fixed few:
 * every distinct text stays prepared for the connection's lifetime.
 */
export async function sql<T = Record<string, unknown>>(
  on: DataSource | QueryRunner,
  text: string,
  params: unknown[] = [],
  options: { prepare?: boolean } = {},
): Promise<SqlResult<T>> {
  const runner = 'createQueryRunner' in on ? on.createQueryRunner() : on;
  try {
    if (options.prepare) {
      let name = statementNames.get(text);
      if (!name) statementNames.set(text, (name = `ponte_${statementNames.size + 1}`));
      const client = (await runner.connect()) as PgClient;
      const result = await client.query({ name, text, values: params });
      const rows = result.rows as T[];
      return { rows, affected: result.rowCount ?? rows.length };
    }
    const result = await runner.query(text, params, true);
    const rows = (result.records ?? []) as T[];
    return { rows, affected: result.affected ?? rows.length };
  } finally {
    if (runner !== on) await runner.release();
  }
}

/** Runs `work` in one transaction on one connection; commits if it resolves, rolls back if it throws. */
export async function transaction<T>(dataSource: DataSource, work: (runner: QueryRunner) => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    try {
      const result = await work(runner);
      await runner.commitTransaction();
      return result;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      throw err;
    }
  } finally {
    await runner.release();
  }
}

/** The SQLSTATE of a failed query (pg sets it; TypeORM keeps it on the error and on driverError). */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const DEADLOCK_DETECTED = '40P01';
export const SERIALIZATION_FAILURE = '40001';
export const FOREIGN_KEY_VIOLATION = '23503';
