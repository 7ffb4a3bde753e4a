// The archive repository (store.archive) on both engines, PGlite and a
// throw-away PostgreSQL: references from both sides, paging, bounds,
// retention, unregistration and user deletion.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../src/core/errors.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { NewArchiveEntry } from '../../src/store/repositories/archive.js';
import { startPostgres, type TestPostgres } from '../harness/postgres.js';
import { removeOnExit, tempDir } from '../harness/process.js';

const KEY = 'test-encryption-key-0123456789';
const ALICE = 'alice@example.org';
const ROOM = '#room@irc.example.org';

function archiveSuite(name: string, open: () => Promise<Store>): void {
  describe(name, () => {
    let store: Store;
    before(async () => {
      store = await open();
    });
    after(async () => store?.close());

    const entry = (over: Partial<NewArchiveEntry>): NewArchiveEntry => ({
      userJid: ALICE,
      network: 'irc',
      kind: 'groupchat',
      conversation: ROOM,
      outgoing: false,
      nick: 'bob',
      content: { body: 'x' },
      ...over,
    });
    const notFound = (err: unknown) => err instanceof GatewayError && err.condition === 'item-not-found';

    test('append creates the user; the stanza-id is the id attribute unless given; conversations are lowercased', async () => {
      const stored = await store.archive.append(entry({ conversation: '#Room@IRC.example.org', networkIds: ['n1', 'n2'], content: { body: 'hello' } }));
      assert.match(stored.id, /^[0-9a-f-]{36}$/);
      assert.equal(stored.xmppId, stored.id);
      assert.equal(stored.conversation, ROOM);
      assert.deepEqual(stored.networkIds, ['n1', 'n2']);
      assert.deepEqual(stored.content, { body: 'hello' });
      assert.ok(stored.at instanceof Date);
      await store.archive.settled(); // the row (and the user's) is written a moment later
      assert.ok(await store.users.find(ALICE));
    });

    test('appends close together are one write, in order, each readable at once; a row the database refuses loses only itself', async () => {
      const conversation = '#batch@irc.example.org';
      const taken = (await store.archive.append(entry({ conversation, content: { body: 'first' } }))).id;
      // Not awaited one by one: all queued at once, written together.
      const batch = await Promise.all([
        store.archive.append(entry({ conversation, content: { body: 'b0' }, networkIds: ['batch-0'] })),
        store.archive.append(entry({ conversation, id: taken, content: { body: 'same id' } })),
        store.archive.append(entry({ userJid: 'new-in-batch@example.org', conversation, content: { body: 'b1' } })),
        store.archive.append(entry({ conversation, content: { body: 'b2' }, networkIds: ['batch-2', 'batch-2b'] })),
      ]);
      assert.equal((await store.archive.byNetworkId(ALICE, conversation, 'batch-2b'))?.content?.body, 'b2', 'read straight after the append');
      const page = await store.archive.query({ userJid: ALICE, network: 'irc', kind: 'groupchat', conversation }, { max: 10 });
      assert.deepEqual(page.entries.map((e) => e.content?.body), ['first', 'b0', 'b2'], 'in append order; the duplicate id lost alone');
      assert.deepEqual(page.entries[2]!.networkIds, ['batch-2', 'batch-2b']);
      assert.deepEqual(page.entries.map((e) => e.id), [taken, batch[0]!.id, batch[3]!.id]);
      const theirs = await store.archive.query({ userJid: 'new-in-batch@example.org', network: 'irc', kind: 'groupchat' }, { max: 10 });
      assert.deepEqual(theirs.entries.map((e) => e.content?.body), ['b1'], 'a user without a row got one');
      await assert.rejects(store.archive.append(entry({ conversation: '' })), TypeError, 'a bad entry is refused at once');
    });

    test('references: by stanza-id, id attribute or origin-id; by network id; own messages only for ownMessage', async () => {
      const mine = await store.archive.append(entry({ outgoing: true, nick: 'alice', xmppId: 'client-1', originId: 'origin-1', networkIds: ['n10'] }));
      const theirs = await store.archive.append(entry({ networkIds: ['n11'] }));
      for (const reference of [mine.id, 'client-1', 'origin-1']) {
        assert.equal((await store.archive.byReference(ALICE, ROOM, reference))?.id, mine.id, reference);
      }
      assert.equal(await store.archive.byReference(ALICE, '#other@irc.example.org', 'client-1'), null, 'scoped to the conversation');
      assert.equal(await store.archive.byReference('eve@example.org', ROOM, 'client-1'), null, 'scoped to the user');
      assert.equal(await store.archive.byReference(ALICE, ROOM, 'not-a-uuid-and-unknown'), null);
      assert.equal((await store.archive.byNetworkId(ALICE, ROOM, 'n11'))?.id, theirs.id);
      assert.equal(await store.archive.byNetworkId(ALICE, ROOM, 'n99'), null);
      assert.equal((await store.archive.ownMessage(ALICE, ROOM, 'origin-1'))?.id, mine.id);
      assert.equal(await store.archive.ownMessage(ALICE, ROOM, theirs.id), null, 'not the user\'s');
      assert.equal(await store.archive.replaceContent(theirs.id, { retracted: { stamp: '2024-01-01T00:00:00Z' } }), true);
      assert.deepEqual((await store.archive.byNetworkId(ALICE, ROOM, 'n11'))?.content, { retracted: { stamp: '2024-01-01T00:00:00Z' } });
    });

    test('paging: forward, backward, the last page, bounds by id, ids, time; count and complete', async () => {
      const conversation = '#paging@irc.example.org';
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push((await store.archive.append(entry({ conversation, content: { body: `p${i}` } }))).id);
      const scope = { userJid: ALICE, network: 'irc', kind: 'groupchat' as const, conversation };
      const body = (page: { entries: Array<{ content: Record<string, unknown> | null }> }) => page.entries.map((e) => e.content?.body);

      const first = await store.archive.query(scope, { max: 5 });
      assert.deepEqual(body(first), ['p0', 'p1', 'p2', 'p3', 'p4']);
      assert.deepEqual([first.count, first.complete], [12, false]);
      const next = await store.archive.query(scope, { max: 5, after: ids[4] });
      assert.deepEqual(body(next), ['p5', 'p6', 'p7', 'p8', 'p9']);
      const rest = await store.archive.query(scope, { max: 5, after: ids[9] });
      assert.deepEqual([body(rest), rest.complete], [['p10', 'p11'], true]);
      const last = await store.archive.query(scope, { max: 5, before: true });
      assert.deepEqual([body(last), last.complete], [['p7', 'p8', 'p9', 'p10', 'p11'], false]);
      const back = await store.archive.query(scope, { max: 5, before: ids[2] });
      assert.deepEqual([body(back), back.complete], [['p0', 'p1'], true]);
      const between = await store.archive.query(scope, { max: 50, afterId: ids[3], beforeId: ids[7] });
      assert.deepEqual([body(between), between.count], [['p4', 'p5', 'p6'], 3]);
      const picked = await store.archive.query(scope, { max: 50, ids: [ids[8]!, ids[1]!] });
      assert.deepEqual(body(picked), ['p1', 'p8']);
      const future = await store.archive.query(scope, { max: 50, start: new Date(Date.now() + 60_000) });
      assert.deepEqual([future.entries.length, future.count, future.complete], [0, 0, true]);
      const countOnly = await store.archive.query(scope, { max: 0 });
      assert.deepEqual([countOnly.entries.length, countOnly.count], [0, 12]);
      await assert.rejects(store.archive.query(scope, { max: 5, after: 'nope' }), notFound);
      await assert.rejects(store.archive.query(scope, { max: 5, after: '00000000-0000-4000-8000-000000000000' }), notFound);
      await assert.rejects(store.archive.query({ ...scope, conversation: ROOM }, { max: 5, after: ids[0] }), notFound, 'another archive');
      const bounds = await store.archive.bounds(scope);
      assert.deepEqual([bounds?.first.id, bounds?.last.id], [ids[0], ids[11]]);
      assert.equal(await store.archive.bounds({ ...scope, conversation: '#empty@irc.example.org' }), null);
    });

    test('prepend: older history sorts before the conversation and before earlier prepends, at its own time', async () => {
      const room = '#backfill@irc.example.org';
      const now = await store.archive.append(entry({ conversation: room, content: { body: 'now' } }));
      // Pages fetched further back, each newest first.
      // Within the retention: a later test prunes everything older.
      const daysAgo = (days: number) => new Date(Math.floor(Date.now() / 1000) * 1000 - days * 86_400_000);
      const page1 = [daysAgo(2), daysAgo(3)];
      for (const [i, sentAt] of page1.entries()) await store.archive.prepend(entry({ conversation: room, content: { body: `p1-${i}` }, sentAt }));
      const sentAt = daysAgo(5);
      const older = await store.archive.prepend(entry({ conversation: room, content: { body: 'p2-0' }, sentAt }));
      assert.equal(older.at.toISOString(), sentAt.toISOString(), 'at is the network time');
      assert.ok(BigInt(older.seq) < 0n);
      const page = await store.archive.query({ userJid: ALICE, network: 'irc', kind: 'groupchat', conversation: room }, { max: 10 });
      assert.deepEqual(page.entries.map((e) => e.content?.body), ['p2-0', 'p1-1', 'p1-0', 'now']);
      const bounds = await store.archive.bounds({ userJid: ALICE, network: 'irc', kind: 'groupchat', conversation: room });
      assert.deepEqual([bounds?.first.id, bounds?.last.id], [older.id, now.id]);
      const before = await store.archive.query({ userJid: ALICE, network: 'irc', kind: 'groupchat', conversation: room }, { max: 2, before: now.id });
      assert.deepEqual(before.entries.map((e) => e.content?.body), ['p1-1', 'p1-0']);
      assert.equal(before.complete, false);
    });

    test('one-to-one scopes: all chats, one peer, one resource', async () => {
      await store.archive.append(entry({ kind: 'chat', conversation: 'bob%irc.example.org@irc.example.org', nick: '', content: { body: 'to bob' }, outgoing: true }));
      await store.archive.append(entry({ kind: 'chat', conversation: ROOM, resource: 'carol', nick: '', content: { body: 'pm carol' } }));
      const scope = { userJid: ALICE, network: 'irc', kind: 'chat' as const };
      assert.equal((await store.archive.query(scope, { max: 50 })).count, 2);
      assert.equal((await store.archive.query({ ...scope, conversation: ROOM }, { max: 50 })).count, 1);
      assert.equal((await store.archive.query({ ...scope, conversation: ROOM, resource: 'carol' }, { max: 50 })).count, 1);
      assert.equal((await store.archive.query({ ...scope, conversation: ROOM, resource: 'dave' }, { max: 50 })).count, 0);
      assert.equal((await store.archive.query({ ...scope, network: 'matrix' }, { max: 50 })).count, 0);
    });

    test('retention prunes the oldest in bounded batches; unregistration and user deletion remove the rest', async () => {
      const user = 'old@example.org';
      for (let i = 0; i < 7; i++) await store.archive.append(entry({ userJid: user, content: { body: `o${i}` } }));
      await store.archive.settled(); // written before the SQL below ages them
      await store.dataSource.query(`UPDATE archive a SET at = now() - interval '100 days' FROM users u WHERE u.id = a.user_id AND u.jid = $1`, [user]);
      const fresh = await store.archive.append(entry({ userJid: user, content: { body: 'fresh' } }));
      const cutoff = new Date(Date.now() - 90 * 86_400_000);
      assert.equal(await store.archive.pruneOlderThan(cutoff, { batchSize: 3, maxBatches: 2 }), 6, 'two batches of three, then stop');
      assert.equal(await store.archive.pruneOlderThan(cutoff, { batchSize: 3 }), 1);
      assert.equal(await store.archive.pruneOlderThan(cutoff), 0);
      assert.ok(await store.archive.byReference(user, ROOM, fresh.id));
      await store.archive.append(entry({ userJid: user, network: 'matrix', content: { body: 'm' } }));
      assert.equal(await store.archive.removeForUser(user, 'irc'), 1);
      assert.equal((await store.archive.query({ userJid: user, network: 'matrix', kind: 'groupchat' }, { max: 5 })).count, 1);
      await store.users.remove(user);
      const left = (await store.dataSource.query(`SELECT count(*)::int AS n FROM archive a WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)`)) as Array<{ n: number }>;
      assert.equal(left[0]!.n, 0);
      assert.equal(await store.archive.byReference(user, ROOM, fresh.id), null);
    });
  });
}

archiveSuite('archive on PGlite', () => {
  const dir = tempDir('archive-pglite');
  removeOnExit(dir);
  return openStore({ dataDir: dir, encryptionKey: KEY });
});

test('closing the store writes the appends still waiting', async () => {
  const dir = tempDir('archive-close');
  removeOnExit(dir);
  const first = await openStore({ dataDir: dir, encryptionKey: KEY });
  const appended = await first.archive.append({ userJid: ALICE, network: 'irc', kind: 'groupchat', conversation: ROOM, outgoing: false, content: { body: 'last words' } });
  await first.close();
  const again = await openStore({ dataDir: dir, encryptionKey: KEY });
  try {
    assert.equal((await again.archive.byReference(ALICE, ROOM, appended.id))?.content?.body, 'last words');
  } finally {
    await again.close();
  }
});

describe('archive on PostgreSQL', () => {
  let server: TestPostgres | undefined;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => server?.stop());
  archiveSuite('store', () => openStore({ url: server!.url, dataDir: 'unused-with-url', encryptionKey: KEY }));
});
