// The store against both engines: the SAME suite runs on the embedded PGlite
// (on a temp data dir) and on a throw-away PostgreSQL 15 cluster. A Postgres
// that cannot start fails the suite (its before hook throws); nothing skips.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Metrics } from '../../src/metrics.js';
import { DecryptionError, MIGRATIONS_TABLE, openStore, type Engine, type Store } from '../../src/store/index.js';
import { handleCandidates } from '../../src/store/handles.js';
import { GatewayError } from '../../src/core/errors.js';
import { startPostgres, type TestPostgres } from '../harness/postgres.js';
import { tempDir } from '../harness/process.js';

const KEY = 'test-encryption-key-0123456789';
const OTHER_KEY = 'not-the-key-the-data-was-sealed-with';
const MIGRATIONS = [
  'Initial1795306300202',
  'Roster1795308059421',
  'Archive1795308173203',
  'ArchiveGinFastupdateOff1796350996136',
  'ArchiveBackfill1796352171462',
];
const TABLES = ['archive', 'contact_mappings', 'message_ids', 'network_accounts', 'room_mappings', 'roster_items', 'users'];

interface OpenOptions {
  metrics?: Metrics;
  encryptionKey?: string;
}

interface SuiteOptions {
  engine: Engine;
  /** Asserts that a closed store left nothing open (connections, locks). */
  assertReleased(): Promise<void>;
}

async function rows<T = Record<string, unknown>>(store: Store, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await store.dataSource.query(sql, params)) as T[];
}

async function observations(metrics: Metrics, operation: string): Promise<number> {
  const { values } = await metrics.storeQuerySeconds.get();
  const count = values.find(
    (v) => v.metricName === 'ponte_store_query_seconds_count' && v.labels.operation === operation,
  );
  return count?.value ?? 0;
}

function storeSuite(name: string, open: (options: OpenOptions) => Promise<Store>, options: SuiteOptions): void {
  describe(name, () => {
    const metrics = new Metrics({ processMetrics: false });
    let store: Store;

    before(async () => {
      store = await open({ metrics });
    });
    after(async () => {
      await store?.close();
    });

    test('migrations apply on an empty database, and the entities match them', async () => {
      assert.equal(store.engine, options.engine);
      assert.deepEqual([...store.appliedMigrations], MIGRATIONS);
      const tables = await rows<{ table_name: string }>(
        store,
        `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
      );
      assert.deepEqual(
        tables.map((t) => t.table_name),
        [...TABLES, MIGRATIONS_TABLE].sort(),
      );
      const recorded = await rows<{ name: string }>(store, `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`);
      assert.deepEqual(recorded.map((r) => r.name), MIGRATIONS);
      // What TypeORM would change to make the schema match the EntitySchemas: nothing.
      const drift = await store.dataSource.driver.createSchemaBuilder().log();
      assert.deepEqual(drift.upQueries.map((q) => q.query), []);
      // Lookups by network id must not read a pending list that only VACUUM empties (PGlite runs none).
      const [gin] = await rows<{ options: string[] | null }>(store, `SELECT reloptions AS options FROM pg_class WHERE relname = 'archive_network_ids_idx'`);
      assert.deepEqual(gin?.options, ['fastupdate=off']);
      // PGlite touches its whole buffer pool up front: a small one (data-source.ts).
      const [buffers] = await rows<{ shared_buffers: string }>(store, 'SHOW shared_buffers');
      if (store.engine === 'pglite') assert.equal(buffers?.shared_buffers, '16MB');
    });

    test('reopen keeps data, does not re-run migrations; a wrong key cannot read credentials', async () => {
      const user = await store.users.getOrCreate('persist@example.org');
      await store.accounts.upsert(user.id, 'irc', 'irc.example.net', { password: 'kept-secret' });
      await store.close();
      await store.close(); // idempotent
      await options.assertReleased();

      const wrong = await open({ encryptionKey: OTHER_KEY });
      try {
        assert.deepEqual([...wrong.appliedMigrations], []);
        await assert.rejects(wrong.accounts.get(user.id, 'irc', 'irc.example.net'), (err: unknown) => {
          assert.ok(err instanceof DecryptionError);
          assert.match(err.message, /store\.encryptionKey is not the key/);
          return true;
        });
      } finally {
        await wrong.close();
      }

      store = await open({ metrics });
      assert.deepEqual([...store.appliedMigrations], []);
      const recorded = await rows(store, `SELECT name FROM ${MIGRATIONS_TABLE}`);
      assert.equal(recorded.length, MIGRATIONS.length);
      assert.equal((await store.users.find('persist@example.org'))?.id, user.id);
      const account = await store.accounts.get(user.id, 'irc', 'irc.example.net');
      assert.deepEqual(account?.credentials, { password: 'kept-secret' });
    });

    test('users: one per bare JID, stored lowercased, looked up case-insensitively', async () => {
      const a = await store.users.getOrCreate('Alice@Example.ORG');
      assert.equal(a.jid, 'alice@example.org');
      assert.ok(a.createdAt instanceof Date);
      const again = await store.users.getOrCreate('alice@example.org');
      assert.equal(again.id, a.id);
      assert.equal((await store.users.find('ALICE@example.org'))?.id, a.id);
      assert.equal(await store.users.find('nobody@example.org'), null);
      assert.equal((await store.users.findById(a.id))?.jid, 'alice@example.org');
      const b = await store.users.getOrCreate('bob@example.org');
      const listed = (await store.users.list()).map((u) => u.jid);
      assert.ok(listed.includes('alice@example.org') && listed.includes('bob@example.org'));
      assert.deepEqual(listed, [...listed].sort());
      assert.equal(await store.users.remove('BOB@example.org'), true);
      assert.equal(await store.users.remove('bob@example.org'), false);
      assert.equal(await store.users.findById(b.id), null);
      // The database refuses a non-normalized JID even if the repository were bypassed.
      await assert.rejects(rows(store, `INSERT INTO users (jid) VALUES ('Mixed@Case')`));
    });

    test('users: malformed JIDs are refused with jid-malformed', async () => {
      for (const jid of ['', 'a@', '@b', 'a@b/resource', 'a b@c', 'a@b@c', '<x>@y']) {
        await assert.rejects(store.users.getOrCreate(jid), (err: unknown) => {
          assert.ok(err instanceof GatewayError, `${jid}: ${String(err)}`);
          assert.equal(err.condition, 'jid-malformed');
          return true;
        });
      }
    });

    test('users: concurrent getOrCreate of one JID gives one user', async () => {
      const created = await Promise.all(
        Array.from({ length: 12 }, (_, i) => store.users.getOrCreate(i % 2 ? 'Race@Example.org' : 'race@example.org')),
      );
      assert.equal(new Set(created.map((u) => u.id)).size, 1);
      const count = await rows<{ n: number }>(store, `SELECT count(*)::int AS n FROM users WHERE jid = 'race@example.org'`);
      assert.equal(count[0]?.n, 1);
    });

    test('accounts: credentials are encrypted at rest and decrypt on read', async () => {
      const user = await store.users.getOrCreate('carol@example.org');
      const secret = 'correct-horse-battery-staple';
      const account = await store.accounts.upsert(user.id, 'matrix', '@carol:matrix.org', {
        accessToken: secret,
        deviceId: 'DEV1',
      }, { displayName: 'Carol' });
      assert.equal(account.userJid, 'carol@example.org');
      assert.deepEqual(account.credentials, { accessToken: secret, deviceId: 'DEV1' });
      assert.deepEqual(account.settings, { displayName: 'Carol' });

      const raw = await rows<{ credentials: unknown }>(store, `SELECT credentials FROM network_accounts WHERE id = $1`, [
        account.id,
      ]);
      const blob = raw[0]?.credentials;
      assert.ok(Buffer.isBuffer(blob), 'credentials column is bytea');
      assert.equal(blob[0], 1, 'format version byte');
      for (const plain of [secret, 'DEV1', 'accessToken']) {
        assert.ok(!blob.includes(Buffer.from(plain)), `${plain} must not be stored in clear`);
      }
      assert.ok(!blob.toString('latin1').includes(secret));

      const read = await store.accounts.get(user.id, 'matrix', '@carol:matrix.org');
      assert.deepEqual(read?.credentials, { accessToken: secret, deviceId: 'DEV1' });
      assert.equal(await store.accounts.get(user.id, 'matrix', '@CAROL:matrix.org'), null, 'account keys are exact');
    });

    test('accounts: a sealed value moved to another row does not open there', async () => {
      const user = await store.users.getOrCreate('mallory@example.org');
      const victim = await store.users.getOrCreate('victim@example.org');
      await store.accounts.upsert(victim.id, 'irc', 'irc.example.net', { password: 'victims' });
      await store.accounts.upsert(user.id, 'irc', 'irc.example.net', { password: 'mine' });
      await rows(
        store,
        `UPDATE network_accounts SET credentials = (SELECT credentials FROM network_accounts WHERE user_id = $1)
         WHERE user_id = $2`,
        [victim.id, user.id],
      );
      await assert.rejects(store.accounts.get(user.id, 'irc', 'irc.example.net'), DecryptionError);
      await store.users.remove('mallory@example.org');
    });

    test('accounts: upsert replaces credentials, keeps settings unless given; listing', async () => {
      const user = await store.users.getOrCreate('dave@example.org');
      const first = await store.accounts.upsert(user.id, 'irc', 'irc.libera.chat', { password: 'one' }, { nick: 'dave' });
      const second = await store.accounts.upsert(user.id, 'irc', 'irc.libera.chat', { password: 'two' });
      assert.equal(second.id, first.id);
      assert.deepEqual(second.credentials, { password: 'two' });
      assert.deepEqual(second.settings, { nick: 'dave' });
      assert.ok(second.updatedAt.getTime() >= first.updatedAt.getTime());
      const third = await store.accounts.upsert(user.id, 'irc', 'irc.libera.chat', { password: 'two' }, { nick: 'd2' });
      assert.deepEqual(third.settings, { nick: 'd2' });
      const updated = await store.accounts.updateSettings(user.id, 'irc', 'irc.libera.chat', { nick: 'd3', away: true });
      assert.deepEqual(updated?.settings, { nick: 'd3', away: true });
      assert.equal(await store.accounts.updateSettings(user.id, 'irc', 'nowhere', {}), null);

      const empty = await store.accounts.upsert(user.id, 'irc', '', {});
      assert.equal(empty.accountKey, '');
      assert.deepEqual(empty.settings, {});
      await store.accounts.upsert(user.id, 'matrix', '@dave:example.org', { token: 't' });

      const mine = await store.accounts.listForUser(user.id);
      assert.deepEqual(
        mine.map((a) => [a.network, a.accountKey]),
        [
          ['irc', ''],
          ['irc', 'irc.libera.chat'],
          ['matrix', '@dave:example.org'],
        ],
      );
      const irc = await store.accounts.listForNetwork('irc');
      assert.ok(irc.every((a) => a.network === 'irc'));
      assert.ok(irc.some((a) => a.userJid === 'dave@example.org' && a.accountKey === 'irc.libera.chat'));
      assert.ok(!irc.some((a) => a.network === 'matrix'));

      await assert.rejects(
        store.accounts.upsert('00000000-0000-0000-0000-000000000000', 'irc', 'x', {}),
        /no user with id/,
      );
      await assert.rejects(store.accounts.upsert(user.id, '', 'x', {}), TypeError);
    });

    test('cascade: removing an account or a user removes what belongs to it', async () => {
      const user = await store.users.getOrCreate('erin@example.org');
      const a1 = await store.accounts.upsert(user.id, 'irc', 'one.example', { password: 'p' });
      const a2 = await store.accounts.upsert(user.id, 'irc', 'two.example', { password: 'p' });
      await store.messageIds.record(a1.id, '#c', 'x1', ['n1']);
      await store.messageIds.record(a2.id, '#c', 'x1', ['n1', 'n2']);

      assert.equal(await store.accounts.remove(user.id, 'irc', 'one.example'), true);
      assert.equal(await store.accounts.remove(user.id, 'irc', 'one.example'), false);
      assert.deepEqual(await store.messageIds.networkIdsFor(a1.id, '#c', 'x1'), []);
      assert.deepEqual(await store.messageIds.networkIdsFor(a2.id, '#c', 'x1'), ['n1', 'n2']);

      assert.equal(await store.users.remove('erin@example.org'), true);
      assert.deepEqual(await store.accounts.listForUser(user.id), []);
      const left = await rows<{ n: number }>(
        store,
        `SELECT count(*)::int AS n FROM message_ids WHERE account_id = ANY($1::uuid[])`,
        [[a1.id, a2.id]],
      );
      assert.equal(left[0]?.n, 0);
    });

    test('rooms: handles are case-preserving for network ids, case-insensitive for lookup', async () => {
      const upper = await store.rooms.handleFor('matrix', '!AbC:x');
      const lower = await store.rooms.handleFor('matrix', '!abc:x');
      assert.notEqual(upper, lower);
      for (const handle of [upper, lower]) assert.match(handle, /^[a-z2-7]{10}$/);
      assert.equal(upper, handleCandidates('!AbC:x')[0], 'deterministic');
      assert.equal(await store.rooms.handleFor('matrix', '!AbC:x'), upper, 'stable');
      assert.equal(await store.rooms.networkIdFor('matrix', upper), '!AbC:x');
      assert.equal(await store.rooms.networkIdFor('matrix', upper.toUpperCase()), '!AbC:x');
      assert.equal(await store.rooms.networkIdFor('matrix', lower), '!abc:x');
      assert.equal(await store.rooms.networkIdFor('matrix', 'zzzzzzzzzz'), null);
      assert.equal(await store.rooms.networkIdFor('matrix', 'not a handle!'), null);
      assert.equal(await store.rooms.networkIdFor('irc', upper), null, 'handles are per network');
      const stored = await rows<{ network_id: string }>(
        store,
        `SELECT network_id FROM room_mappings WHERE network = 'matrix' AND network_id IN ('!AbC:x', '!abc:x') ORDER BY network_id`,
      );
      assert.deepEqual(stored.map((r) => r.network_id), ['!AbC:x', '!abc:x']);
    });

    test('rooms: concurrent handleFor of one id gives one handle and one row', async () => {
      const handles = await Promise.all(
        Array.from({ length: 16 }, () => store.rooms.handleFor('matrix', '!Concurrent:example.org')),
      );
      assert.equal(new Set(handles).size, 1);
      const n = await rows<{ n: number }>(
        store,
        `SELECT count(*)::int AS n FROM room_mappings WHERE network = 'matrix' AND network_id = '!Concurrent:example.org'`,
      );
      assert.equal(n[0]?.n, 1);
    });

    test('rooms: a taken handle falls back to the next, longer candidate', async () => {
      const id = '!Collides:example.org';
      const [short, longer] = handleCandidates(id);
      await rows(store, `INSERT INTO room_mappings (network, network_id, handle) VALUES ('matrix', '!squatter:x', $1)`, [
        short,
      ]);
      assert.equal(await store.rooms.handleFor('matrix', id), longer);
      assert.equal(await store.rooms.networkIdFor('matrix', longer!), id);
      assert.equal(await store.rooms.networkIdFor('matrix', short!), '!squatter:x');
    });

    test('rooms and contacts: display names; contacts are a separate table', async () => {
      const handle = await store.rooms.handleFor('matrix', '!Named:x', { name: 'The Room' });
      assert.equal((await store.rooms.find('matrix', handle))?.name, 'The Room');
      assert.equal(await store.rooms.setName('matrix', '!Named:x', 'Renamed'), true);
      assert.equal((await store.rooms.findByNetworkId('matrix', '!Named:x'))?.name, 'Renamed');
      assert.equal(await store.rooms.handleFor('matrix', '!Named:x', { name: 'Again' }), handle);
      assert.equal((await store.rooms.find('matrix', handle.toUpperCase()))?.name, 'Again');
      assert.equal(await store.rooms.setName('matrix', '!Unknown:x', 'n'), false);

      const contact = await store.contacts.handleFor('matrix', '@Bob:matrix.org');
      assert.equal(await store.contacts.networkIdFor('matrix', contact), '@Bob:matrix.org');
      assert.equal(await store.rooms.networkIdFor('matrix', contact), null);
      assert.notEqual(await store.contacts.handleFor('matrix', '@bob:matrix.org'), contact);
      await assert.rejects(store.rooms.handleFor('matrix', ''), TypeError);
    });

    test('message ids: one XMPP id to several network ids, in order, and back', async () => {
      const user = await store.users.getOrCreate('frank@example.org');
      const account = await store.accounts.upsert(user.id, 'irc', 'irc.example.net', { password: 'p' });
      const other = await store.accounts.upsert(user.id, 'irc', 'other.example.net', { password: 'p' });
      const parts = ['line-3', 'line-1', 'line-2', 'line-10'];
      await store.messageIds.record(account.id, '#Chan', 'xmpp-1', parts);
      assert.deepEqual(await store.messageIds.networkIdsFor(account.id, '#Chan', 'xmpp-1'), parts);
      for (const part of parts) assert.equal(await store.messageIds.xmppIdFor(account.id, '#Chan', part), 'xmpp-1');
      // Scoped by account and conversation.
      assert.deepEqual(await store.messageIds.networkIdsFor(account.id, '#chan', 'xmpp-1'), []);
      assert.deepEqual(await store.messageIds.networkIdsFor(other.id, '#Chan', 'xmpp-1'), []);
      assert.equal(await store.messageIds.xmppIdFor(account.id, '#other', 'line-1'), null);
      await store.messageIds.record(other.id, '#Chan', 'xmpp-1', ['elsewhere']);
      assert.deepEqual(await store.messageIds.networkIdsFor(account.id, '#Chan', 'xmpp-1'), parts);

      // Recording again replaces; a network id moves to the newer XMPP id.
      await store.messageIds.record(account.id, '#Chan', 'xmpp-1', ['line-1', 'line-2']);
      assert.deepEqual(await store.messageIds.networkIdsFor(account.id, '#Chan', 'xmpp-1'), ['line-1', 'line-2']);
      assert.equal(await store.messageIds.xmppIdFor(account.id, '#Chan', 'line-3'), null);
      await store.messageIds.record(account.id, '#Chan', 'xmpp-2', ['line-2']);
      assert.deepEqual(await store.messageIds.networkIdsFor(account.id, '#Chan', 'xmpp-1'), ['line-1']);
      assert.equal(await store.messageIds.xmppIdFor(account.id, '#Chan', 'line-2'), 'xmpp-2');

      await assert.rejects(store.messageIds.record(account.id, '#Chan', 'x', []), TypeError);
      await assert.rejects(store.messageIds.record(account.id, '#Chan', 'x', ['a', 'a']), TypeError);

      // Concurrent records of one XMPP id sharing a network id: one complete list wins, never a mix.
      const lists = Array.from({ length: 12 }, (_, i) => [`r${i}-a`, 'shared', `r${i}-b`]);
      await Promise.all(lists.map((list) => store.messageIds.record(account.id, '#race', 'same', list)));
      const final = await store.messageIds.networkIdsFor(account.id, '#race', 'same');
      assert.ok(lists.some((list) => JSON.stringify(list) === JSON.stringify(final)), `got ${JSON.stringify(final)}`);

      assert.ok((await store.messageIds.pruneOlderThan(new Date(Date.now() + 60_000))) >= 3);
      assert.deepEqual(await store.messageIds.networkIdsFor(account.id, '#Chan', 'xmpp-2'), []);
    });

    test('ping', async () => {
      await store.ping();
    });

    test('metrics: every repository call is timed', async () => {
      for (const operation of [
        'users.getOrCreate',
        'users.find',
        'accounts.upsert',
        'accounts.get',
        'rooms.handleFor',
        'rooms.networkIdFor',
        'contacts.handleFor',
        'messageIds.record',
        'messageIds.networkIdsFor',
        'messageIds.xmppIdFor',
        'store.ping',
      ]) {
        assert.ok((await observations(metrics, operation)) > 0, `${operation} observed`);
      }
      const text = await metrics.registry.metrics();
      assert.match(text, /ponte_store_query_seconds_bucket\{le="0\.005",operation="users\.getOrCreate"\}/);
    });
  });
}

// ---------------------------------------------------------------------------

describe('PGlite', () => {
  let dir = '';
  let dataDir = '';
  before(() => {
    dir = tempDir('pglite');
    dataDir = join(dir, 'data');
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  storeSuite(
    'store on PGlite',
    (o) => openStore({ dataDir, encryptionKey: o.encryptionKey ?? KEY, metrics: o.metrics }),
    {
      engine: 'pglite',
      async assertReleased() {
        assert.ok(!existsSync(join(dataDir, 'ponte.lock')), 'lock file removed on close');
      },
    },
  );

  describe('PGlite specifics', () => {
    test('one data dir, one store: a second open is refused while the first is open', async () => {
      const lockedDir = join(dir, 'locked');
      const first = await openStore({ dataDir: lockedDir, encryptionKey: KEY });
      try {
        await assert.rejects(openStore({ dataDir: lockedDir, encryptionKey: KEY }), /in use by this process/);
      } finally {
        await first.close();
      }
      // A lock left by a process that no longer exists is taken over.
      writeFileSync(join(lockedDir, 'ponte.lock'), '999999999\n');
      const second = await openStore({ dataDir: lockedDir, encryptionKey: KEY });
      assert.deepEqual([...second.appliedMigrations], []);
      await second.close();
    });

    test('in-memory stores are independent, and a rollback never undoes other writes', async () => {
      const a = await openStore({ dataDir: 'memory://', encryptionKey: KEY });
      const b = await openStore({ dataDir: 'memory://', encryptionKey: KEY });
      try {
        await a.users.getOrCreate('only-in-a@example.org');
        assert.equal(await b.users.find('only-in-a@example.org'), null);

        const runner = a.dataSource.createQueryRunner();
        await runner.connect();
        await runner.startTransaction();
        await runner.query(`INSERT INTO users (jid) VALUES ('rolled-back@example.org')`);
        const concurrent = a.users.getOrCreate('committed@example.org'); // waits for the session
        await runner.rollbackTransaction();
        await runner.release();
        await concurrent;
        assert.equal(await a.users.find('rolled-back@example.org'), null);
        assert.ok(await a.users.find('committed@example.org'));
      } finally {
        await a.close();
        await b.close();
      }
      await assert.rejects(a.ping(), 'a closed store refuses queries');
    });

    test('a short encryption key is refused before anything is opened', async () => {
      await assert.rejects(openStore({ dataDir: join(dir, 'never'), encryptionKey: 'short' }), RangeError);
      assert.ok(!existsSync(join(dir, 'never')));
    });
  });
});

describe('PostgreSQL', () => {
  let server: TestPostgres | undefined;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  const url = () => {
    if (!server) throw new Error('PostgreSQL did not start');
    return server.url;
  };

  storeSuite(
    'store on PostgreSQL',
    (o) => openStore({ url: url(), dataDir: 'unused-with-url', encryptionKey: o.encryptionKey ?? KEY, metrics: o.metrics }),
    {
      engine: 'postgres',
      async assertReleased() {
        // Every connection of the closed pool is gone from the server.
        const admin = new pg.Client({ connectionString: url() });
        await admin.connect();
        try {
          for (let i = 0; ; i++) {
            const { rows: active } = await admin.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'ponte'`,
            );
            if (active[0].n === 0) break;
            if (i > 50) assert.fail(`${active[0].n} ponte connections still open after close()`);
            await new Promise((r) => setTimeout(r, 20));
          }
        } finally {
          await admin.end();
        }
      },
    },
  );

  test('an unreachable Postgres gives an error naming it, without the password', async () => {
    const { freePort } = await import('../harness/ports.js');
    const port = await freePort();
    await assert.rejects(
      openStore({ url: `postgres://u:hunter2@127.0.0.1:${port}/db`, dataDir: 'x', encryptionKey: KEY }),
      (err: unknown) => {
        assert.match((err as Error).message, new RegExp(`cannot connect to Postgres at postgres://u:\\*\\*\\*@127\\.0\\.0\\.1:${port}/db`));
        assert.doesNotMatch((err as Error).message, /hunter2/);
        return true;
      },
    );
  });
});
