// Roster population through real Prosody and ejabberd: the XEP-0356
// privilege advertisement is received (urn:xmpp:privilege:2 from Prosody,
// :1 from ejabberd 23.01); a contact the network reports is pushed into the
// user's roster with a privileged roster set on Prosody, and on ejabberd
// 23.01, whose privileged roster set fails (bug #3942), the contact asks
// for a subscription and the gateway suggests it (XEP-0144) instead.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { privilegesOf } from '../../src/xmpp/privilege.js';
import { addContactsToRoster, addGatewayToRoster, cancelSubscriptions } from '../../src/xmpp/presence.js';

const ROSTER = 'jabber:iq:roster';
const ROSTERX = 'http://jabber.org/protocol/rosterx';
const GROUP = 'Test network gateway';

const presenceFrom = (from: string, type?: string) => (s: XmlElement) =>
  s.is('presence') && s.attrs.from === from && s.attrs.type === type;

async function rosterOf(client: TestXmppClient): Promise<Map<string, XmlElement>> {
  const result = await client.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
  const items = result.getChild('query', ROSTER)?.getChildren('item') ?? [];
  return new Map(items.map((item) => [item.attrs.jid ?? '', item]));
}

for (const [kind, start] of SERVERS) {
  const privileged = kind === 'Prosody';

  describe(`roster population through ${kind}`, () => {
    let t: TestGateway;

    before(async () => {
      t = await startTestGateway(start);
    });
    after(async () => t?.stop());

    /** A user logged in, with a session on the test network, whose roster was fetched (as clients do). */
    async function userWithSession(name: string): Promise<TestXmppClient> {
      const client = await t.client(name);
      await rosterOf(client);
      const gateway = t.gateway.ponte.core.gateway(TEST_DOMAIN)!;
      await t.gateway.ponte.core.openSession(gateway, `${name}@localhost`);
      return client;
    }

    test('the server advertised its privileges to the component', async () => {
      // It follows the component handshake: right before or right after `online`.
      const registry = privilegesOf(t.gateway.ponte.router);
      const deadline = Date.now() + 5000;
      while (!registry.get(TEST_DOMAIN, 'localhost') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const granted = registry.get(TEST_DOMAIN, 'localhost');
      assert.ok(granted, 'no advertisement recorded');
      assert.equal(granted.namespace, privileged ? 'urn:xmpp:privilege:2' : 'urn:xmpp:privilege:1');
      assert.equal(granted.roster, 'both');
      assert.equal(granted.message, 'outgoing');
      assert.equal(granted.presence, 'roster');
    });

    test(
      privileged
        ? 'a contact the network reports is pushed into the roster, with its presence'
        : 'the privileged roster set fails: the contact asks for a subscription and the gateway suggests it',
      async () => {
        const dave = await userWithSession('dave');
        const ERIN = `erin@${TEST_DOMAIN}`;
        t.world.remotePresence('erin', 'dave@localhost', 'available', 'hello');
        if (privileged) {
          const presence = await dave.waitFor(presenceFrom(ERIN));
          assert.equal(presence.getChildText('status'), 'hello');
          const item = (await rosterOf(dave)).get(ERIN);
          assert.ok(item, 'erin is in the roster');
          assert.equal(item.attrs.subscription, 'both');
          assert.deepEqual(item.getChildren('group').map((g) => g.getText()), [GROUP]);
          return;
        }
        await dave.waitFor(presenceFrom(ERIN, 'subscribe'));
        const suggestion = await dave.waitFor((s) => s.is('message') && s.attrs.from === TEST_DOMAIN && !!s.getChild('x', ROSTERX));
        const items = suggestion.getChild('x', ROSTERX)!.getChildren('item');
        assert.deepEqual(
          items.map((i) => [i.attrs.action, i.attrs.jid, i.getChildText('group')]),
          [['add', ERIN, GROUP]],
        );
        assert.match(suggestion.getChildText('body') ?? '', /erin@test\.localhost/);
        assert.equal(privilegesOf(t.gateway.ponte.router).maySetRoster(TEST_DOMAIN, 'dave@localhost'), false, 'the failed set was noticed');
        assert.ok(t.gateway.logs().some((line) => line.includes('roster push failed')));
        // The user accepts and subscribes back, as clients offer to: the contact's presence follows.
        await dave.send(xml('presence', { to: ERIN, type: 'subscribed' }));
        await dave.send(xml('presence', { to: ERIN, type: 'subscribe' }));
        await dave.waitFor(presenceFrom(ERIN, 'subscribed'));
        const presence = await dave.waitFor(presenceFrom(ERIN));
        assert.equal(presence.getChildText('status'), 'hello');
        assert.equal((await rosterOf(dave)).get(ERIN)?.attrs.subscription, 'both');
      },
    );

    test('addContactsToRoster with a name; offering again changes nothing', async () => {
      const ivy = await userWithSession('ivy');
      const session = t.gateway.ponte.core.session(t.gateway.ponte.core.gateway(TEST_DOMAIN)!, 'ivy@localhost')!;
      const JOE = `joe@${TEST_DOMAIN}`;
      const first = await addContactsToRoster(t.gateway.ponte, session, [{ address: { kind: 'contact', id: 'joe' }, name: 'Joe Bloggs' }]);
      if (privileged) {
        assert.deepEqual(first, { pushed: [JOE], present: [], requested: [] });
        const item = (await rosterOf(ivy)).get(JOE);
        assert.equal(item?.attrs.name, 'Joe Bloggs');
        assert.equal(item?.attrs.subscription, 'both');
      } else {
        assert.deepEqual(first.requested, [JOE]);
        assert.match(first.fallbackReason ?? '', /roster/);
        const request = await ivy.waitFor(presenceFrom(JOE, 'subscribe'));
        assert.equal(request.getChildText('nick', 'http://jabber.org/protocol/nick'), 'Joe Bloggs');
        const suggestion = await ivy.waitFor((s) => s.is('message') && !!s.getChild('x', ROSTERX));
        assert.equal(suggestion.getChild('x', ROSTERX)!.getChild('item')!.attrs.name, 'Joe Bloggs');
      }
      const again = await addContactsToRoster(t.gateway.ponte, session, [{ address: { kind: 'contact', id: 'joe' }, name: 'Joe Bloggs' }]);
      assert.deepEqual(again.pushed, []);
      assert.deepEqual(again.requested, []);
    });

    test('addGatewayToRoster after a registration, and cancelSubscriptions after an unregistration', async () => {
      const kim = await t.client('kim');
      await rosterOf(kim);
      const gateway = t.gateway.ponte.core.gateway(TEST_DOMAIN)!;
      const result = await addGatewayToRoster(t.gateway.ponte, gateway, 'kim@localhost');
      if (privileged) {
        assert.deepEqual(result.pushed, [TEST_DOMAIN]);
        assert.equal((await rosterOf(kim)).get(TEST_DOMAIN)?.attrs.subscription, 'both');
        await kim.waitFor(presenceFrom(TEST_DOMAIN));
      } else {
        assert.deepEqual(result.requested, [TEST_DOMAIN]);
        await kim.waitFor(presenceFrom(TEST_DOMAIN, 'subscribe'));
        await kim.send(xml('presence', { to: TEST_DOMAIN, type: 'subscribed' }));
        await kim.send(xml('presence', { to: TEST_DOMAIN, type: 'subscribe' }));
        await kim.waitFor(presenceFrom(TEST_DOMAIN, 'subscribed'));
        await kim.waitFor(presenceFrom(TEST_DOMAIN));
        // The stored state follows the answers.
        const deadline = Date.now() + 5000;
        while (!(await t.gateway.ponte.store.roster.get('kim@localhost', 'test', { kind: 'gateway', id: '' }))?.entitySees && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const stored = await t.gateway.ponte.store.roster.get('kim@localhost', 'test', { kind: 'gateway', id: '' });
      assert.equal(stored?.userSees, true);
      assert.equal(stored?.entitySees, true);

      await cancelSubscriptions(t.gateway.ponte, gateway, 'kim@localhost', 'You are no longer registered.');
      const gone = await kim.waitFor(presenceFrom(TEST_DOMAIN, 'unavailable'));
      assert.equal(gone.getChildText('status'), 'You are no longer registered.');
      await kim.waitFor(presenceFrom(TEST_DOMAIN, 'unsubscribe'));
      await kim.waitFor(presenceFrom(TEST_DOMAIN, 'unsubscribed'));
      assert.equal(await t.gateway.ponte.store.roster.get('kim@localhost', 'test', { kind: 'gateway', id: '' }), null);
      const deadline = Date.now() + 5000;
      let subscription: string | undefined = 'both';
      while (Date.now() < deadline) {
        subscription = (await rosterOf(kim)).get(TEST_DOMAIN)?.attrs.subscription;
        if (subscription === undefined || subscription === 'none') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(subscription === undefined || subscription === 'none', `the user's roster still says ${subscription}`);
    });

    test('a contact already in the roster is left as the user made it, and offered only once', async () => {
      const fay = await userWithSession('fay');
      const GUS = `gus@${TEST_DOMAIN}`;
      await fay.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: ROSTER }, xml('item', { jid: GUS, name: 'Gus (mine)' }))));
      t.world.remotePresence('gus', 'fay@localhost', 'away');
      t.world.remotePresence('gus', 'fay@localhost', 'dnd');
      // Hal is new: once his offer is visible, Gus's would be too (same path, in order).
      t.world.remotePresence('hal', 'fay@localhost', 'available');
      const HAL = `hal@${TEST_DOMAIN}`;
      if (privileged) await fay.waitFor(presenceFrom(HAL));
      else await fay.waitFor(presenceFrom(HAL, 'subscribe'));
      const roster = await rosterOf(fay);
      assert.equal(roster.get(GUS)?.attrs.name, 'Gus (mine)');
      assert.equal(roster.get(GUS)?.attrs.subscription, 'none');
      assert.deepEqual(
        fay.pending().filter((s) => s.attrs.from === GUS),
        [],
        'no subscription request nor presence from a contact the user did not subscribe to',
      );
      const offers = fay.pending().filter((s) => s.is('message') && s.getChild('x', ROSTERX));
      assert.ok(offers.every((m) => m.getChild('x', ROSTERX)!.getChildren('item').every((i) => i.attrs.jid === HAL)));
    });
  });
}
