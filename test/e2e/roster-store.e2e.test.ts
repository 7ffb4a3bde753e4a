// The roster store (presence subscriptions) on both engines, PGlite and a
// throw-away PostgreSQL: what update keeps and changes, the filters, and what
// goes when the user or their registration goes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../../src/store/index.js';
import { startPostgres, type TestPostgres } from '../harness/postgres.js';

const KEY = 'roster-store-test-key-0123456789';
const BOB = { kind: 'contact' as const, id: 'bob' };
const GATEWAY = { kind: 'gateway' as const, id: '' };

function suite(name: string, open: () => Promise<Store>): void {
  describe(name, () => {
    let store: Store;
    before(async () => {
      store = await open();
    });
    after(async () => store?.close());

    test('update creates the user and the entry; fields not in the patch are kept', async () => {
      assert.equal(await store.roster.get('Ann@Example.org', 'test', BOB), null);
      const created = await store.roster.update('Ann@Example.org', 'test', BOB, { userSees: true, name: 'Bob' });
      assert.equal(created.userJid, 'ann@example.org');
      assert.deepEqual(
        [created.kind, created.addressId, created.userSees, created.entitySees, created.entityAsked, created.name],
        ['contact', 'bob', true, false, false, 'Bob'],
      );
      assert.ok(await store.users.find('ann@example.org'));
      const changed = await store.roster.update('ann@example.org', 'test', BOB, { entityAsked: true });
      assert.deepEqual([changed.userSees, changed.entityAsked, changed.name], [true, true, 'Bob']);
      const renamed = await store.roster.update('ann@example.org', 'test', BOB, { name: null });
      assert.equal(renamed.name, null);
      assert.equal((await store.roster.get('ANN@example.org', 'test', BOB))?.entityAsked, true);
      // Network ids are case-sensitive; another network is another entry.
      assert.equal(await store.roster.get('ann@example.org', 'test', { kind: 'contact', id: 'Bob' }), null);
      assert.equal(await store.roster.get('ann@example.org', 'other', BOB), null);
    });

    test('concurrent first writes for a new user all land', async () => {
      const contacts = Array.from({ length: 12 }, (_, i) => ({ kind: 'contact' as const, id: `c${i}` }));
      await Promise.all(contacts.map((c) => store.roster.update('new@example.org', 'test', c, { userSees: true })));
      assert.equal((await store.roster.list('new@example.org', 'test')).length, contacts.length);
    });

    test('list, listByNetwork and their filters', async () => {
      await store.roster.update('cy@example.org', 'test', GATEWAY, { userSees: true, entitySees: true });
      await store.roster.update('cy@example.org', 'test', BOB, { userSees: false });
      await store.roster.update('cy@example.org', 'test', { kind: 'server', id: 'irc.example.net' }, { userSees: true });
      const mine = await store.roster.list('cy@example.org', 'test');
      assert.deepEqual(mine.map((i) => `${i.kind}:${i.addressId}`), ['contact:bob', 'gateway:', 'server:irc.example.net']);
      assert.deepEqual((await store.roster.list('cy@example.org', 'test', { userSees: true })).map((i) => i.kind), ['gateway', 'server']);
      assert.deepEqual((await store.roster.list('cy@example.org', 'test', { kind: 'contact' })).map((i) => i.addressId), ['bob']);
      const probed = await store.roster.listByNetwork('test', { kind: 'gateway', entitySees: true });
      assert.ok(probed.some((i) => i.userJid === 'cy@example.org'));
      assert.ok(probed.every((i) => i.kind === 'gateway' && i.entitySees));
    });

    test('removeForUser forgets one network; removing the user forgets everything', async () => {
      await store.roster.update('dee@example.org', 'test', BOB, { userSees: true });
      await store.roster.update('dee@example.org', 'other', BOB, { userSees: true });
      assert.equal(await store.roster.removeForUser('dee@example.org', 'test'), 1);
      assert.equal(await store.roster.get('dee@example.org', 'test', BOB), null);
      assert.ok(await store.roster.get('dee@example.org', 'other', BOB));
      await store.users.remove('dee@example.org');
      assert.deepEqual(await store.roster.list('dee@example.org', 'other'), []);
    });
  });
}

suite('roster store on PGlite', () => openStore({ dataDir: 'memory://', encryptionKey: KEY }));

describe('roster store on PostgreSQL', () => {
  let server: TestPostgres;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => server?.stop());
  suite('suite', () => openStore({ url: server.url, dataDir: 'unused-with-url', encryptionKey: KEY }));
});
