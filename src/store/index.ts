// The store: everything ponte must remember across restarts (users, their
// network accounts with encrypted credentials, handles for network ids a JID
// cannot carry, message id mappings). Postgres when store.url is set, the
// embedded PGlite otherwise; same schema, same migrations, same code.
//
//   const store = await openStore({ url, dataDir, encryptionKey, metrics, log });
//   const user = await store.users.getOrCreate('alice@example.org');
//   await store.accounts.upsert(user.id, 'irc', 'irc.libera.chat', { password });
//   const handle = await store.rooms.handleFor('matrix', '!AbC:matrix.org');
//   await store.close();
import type { DataSource } from 'typeorm';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { SecretBox } from './crypto.js';
import { openDatabase, type Engine } from './data-source.js';
import { AccountsRepository } from './repositories/accounts.js';
import { ArchiveRepository } from './repositories/archive.js';
import { MappingsRepository } from './repositories/mappings.js';
import { MessageIdsRepository } from './repositories/message-ids.js';
import { RosterRepository } from './repositories/roster.js';
import { sql, timed } from './repositories/support.js';
import { UsersRepository } from './repositories/users.js';

export type { Engine } from './data-source.js';
export { MIGRATIONS_TABLE, redactUrl } from './data-source.js';
export { DecryptionError, MIN_KEY_LENGTH } from './crypto.js';
export { normalizeBareJid, UsersRepository, type User } from './repositories/users.js';
export { AccountsRepository, type Account } from './repositories/accounts.js';
export { MappingsRepository, type Mapping } from './repositories/mappings.js';
export { MessageIdsRepository } from './repositories/message-ids.js';
export { ArchiveRepository, type ArchiveEntry, type ArchiveScope } from './repositories/archive.js';
export { RosterRepository, type RosterItem, type RosterEntity } from './repositories/roster.js';
export { normalizeHandle } from './handles.js';

export interface StoreOptions {
  /** postgres://… : use Postgres. Without it, PGlite in dataDir. */
  url?: string;
  /** PGlite data directory (created if missing); 'memory://' for a throw-away in-memory database. */
  dataDir: string;
  /** store.encryptionKey: at least 16 characters. */
  encryptionKey: string;
  metrics?: Metrics;
  log?: Logger;
}

export interface Store {
  readonly engine: Engine;
  readonly users: UsersRepository;
  readonly accounts: AccountsRepository;
  readonly rooms: MappingsRepository;
  readonly contacts: MappingsRepository;
  readonly messageIds: MessageIdsRepository;
  /** Every message through the gateway, per user: MAM, and XMPP ids <-> network ids. */
  readonly archive: ArchiveRepository;
  /** Presence subscriptions between users and the gateway's JIDs. */
  readonly roster: RosterRepository;
  /** Migrations applied by this open (empty if the schema was already current). */
  readonly appliedMigrations: readonly string[];
  /** The TypeORM DataSource, for tests and tooling; application code uses the repositories. */
  readonly dataSource: DataSource;
  /** A box with a key of its own for `purpose`, derived from store.encryptionKey (SecretBox.derive). */
  secretBox(purpose: string): SecretBox;
  /** One round trip (SELECT 1); rejects if the database is unreachable. For /health. */
  ping(): Promise<void>;
  /** Closes the pool (and the PGlite instance, releasing its directory). Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens the store and applies pending migrations (one transaction, under an
 * advisory lock; never `synchronize`). Rejects with a readable error when the
 * key is too short, the database is unreachable, the PGlite directory is in
 * use, or the database was migrated by a newer ponte.
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const box = await SecretBox.fromSecret(options.encryptionKey); // fails fast on a short key, before any I/O
  const db = await openDatabase({ url: options.url, dataDir: options.dataDir, log: options.log });
  const { dataSource } = db;
  const time = timed(options.metrics);
  const archive = new ArchiveRepository(dataSource, time, new UsersRepository(dataSource, time), options.log);
  let closed: Promise<void> | undefined;
  return {
    engine: db.engine,
    users: new UsersRepository(dataSource, time),
    accounts: new AccountsRepository(dataSource, time, box),
    rooms: new MappingsRepository(dataSource, time, 'room_mappings', 'rooms'),
    contacts: new MappingsRepository(dataSource, time, 'contact_mappings', 'contacts'),
    messageIds: new MessageIdsRepository(dataSource, time),
    archive,
    roster: new RosterRepository(dataSource, time),
    appliedMigrations: db.appliedMigrations,
    dataSource,
    secretBox: (purpose) => box.derive(purpose),
    async ping() {
      await time('store.ping', () => sql(dataSource, 'SELECT 1'));
    },
    // Appends still being written go first.
    close: () => (closed ??= archive.settled().then(() => db.close())),
  };
}
