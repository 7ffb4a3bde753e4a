// Subscriptions live in the store: after ponte restarts (same store, a new
// process as far as the XMPP server can tell), the gateway probes the users
// subscribed to it, their answers log them in again, and they see the
// gateway online again without doing anything.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SERVERS, startTestGateway, TEST_DOMAIN } from '../harness/gateway.js';
import { startPonte } from '../harness/ponte.js';
import { removeOnExit, tempDir } from '../harness/process.js';
import { xml, type XmlElement } from '../harness/xmpp-client.js';
import { createTestNetwork, TEST_PASSWORD } from '../networks/test-network.js';

const presenceFrom = (from: string, type?: string) => (s: XmlElement) =>
  s.is('presence') && s.attrs.from === from && s.attrs.type === type;

for (const [kind, start] of SERVERS) {
  describe(`presence across a restart of ponte through ${kind}`, () => {
    test('the subscription survives; the subscribed user is probed, logged in again and sees the gateway online', async () => {
      const dir = tempDir('presence-restart');
      removeOnExit(dir);
      const env = { PONTE_STORE_DATA_DIR: join(dir, 'pglite') };
      const ALICE = 'alice@localhost';
      const t = await startTestGateway(start, { env });
      try {
        const { store } = t.gateway.ponte;
        const user = await store.users.getOrCreate(ALICE);
        await store.accounts.upsert(user.id, 'test', '', { username: 'alice', password: TEST_PASSWORD });
        const alice = await t.client('alice');
        await alice.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })));
        await alice.send(xml('presence', { to: TEST_DOMAIN, type: 'subscribe' }));
        await alice.waitFor(presenceFrom(TEST_DOMAIN, 'subscribe'));
        await alice.send(xml('presence', { to: TEST_DOMAIN, type: 'subscribed' }));
        await alice.waitFor((s) => presenceFrom(TEST_DOMAIN)(s) && !s.getChild('show'));
        // The gateway may show online before it has processed her approval: wait for that to be stored.
        const deadline = Date.now() + 5000;
        while (!(await store.roster.get(ALICE, 'test', { kind: 'gateway', id: '' }))?.entitySees) {
          assert.ok(Date.now() < deadline, 'the approval was not recorded');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }

        await t.gateway.stop();
        await alice.waitFor((s) => presenceFrom(TEST_DOMAIN, 'unavailable')(s) && s.getChildText('status') === 'ponte is shutting down');
        // What the old process showed before stopping is history now.
        const shown = presenceFrom(TEST_DOMAIN);
        while (alice.pending().some(shown)) await alice.waitFor(shown);

        const { network, world } = createTestNetwork();
        const again = await startPonte(t.server, env, { extraNetworks: [{ network, domain: TEST_DOMAIN, allow: ['localhost'] }] });
        try {
          await again.ponte.waitOnline(30_000);
          const online = await alice.waitFor((s) => presenceFrom(TEST_DOMAIN)(s) && !s.getChild('show'), 15_000);
          assert.ok(online.getChild('c', 'http://jabber.org/protocol/caps'));
          assert.ok(world.sessionOf(ALICE), 'the session was opened again');
          const item = await again.ponte.store.roster.get(ALICE, 'test', { kind: 'gateway', id: '' });
          assert.equal(item?.userSees, true);
          assert.equal(item?.entitySees, true);
        } finally {
          await again.stop();
        }
      } finally {
        await t.stop();
      }
    });
  });
}
