// Presence (RFC 6121) through real Prosody and ejabberd, with a real client
// as the user: subscribing to the gateway and to a contact, probes, the
// gateway's presence following the session state, contact presence from the
// network, unsubscribing, and everything going unavailable when ponte stops.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { TEST_PASSWORD } from '../networks/test-network.js';

const CAPS = 'http://jabber.org/protocol/caps';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';

const presenceFrom = (from: string, type?: string) => (s: XmlElement) =>
  s.is('presence') && s.attrs.from === from && s.attrs.type === type;

/** XEP-0115 §5.1 computed by the test itself from a disco#info answer (identities and features only). */
function verOf(query: XmlElement): string {
  const octets = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const identities = query
    .getChildren('identity')
    .map((i) => [i.attrs.category ?? '', i.attrs.type ?? '', i.attrs['xml:lang'] ?? '', i.attrs.name ?? ''])
    .sort((a, b) => octets(a[0]!, b[0]!) || octets(a[1]!, b[1]!) || octets(a[2]!, b[2]!))
    .map((i) => `${i.join('/')}<`);
  const features = query
    .getChildren('feature')
    .map((f) => f.attrs.var ?? '')
    .sort(octets)
    .map((f) => `${f}<`);
  return createHash('sha1').update(identities.join('') + features.join(''), 'utf8').digest('base64');
}

/** The caps of a presence verify against disco#info at their node (what a client does, XEP-0115 §5.6). */
async function assertCapsVerify(client: TestXmppClient, presence: XmlElement): Promise<void> {
  const c = presence.getChild('c', CAPS);
  assert.ok(c, `no caps in ${presence.toString()}`);
  assert.equal(c.attrs.hash, 'sha-1');
  const node = `${c.attrs.node}#${c.attrs.ver}`;
  const info = await client.iq(xml('iq', { type: 'get', to: presence.attrs.from }, xml('query', { xmlns: DISCO_INFO, node })));
  const query = info.getChild('query', DISCO_INFO)!;
  assert.equal(query.attrs.node, node);
  assert.equal(verOf(query), c.attrs.ver, query.toString());
}

for (const [kind, start] of SERVERS) {
  describe(`presence through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const ALICE = 'alice@localhost';
    const BOB = `bob@${TEST_DOMAIN}`;
    const CAROL = `carol@${TEST_DOMAIN}`;

    before(async () => {
      t = await startTestGateway(start);
      // A registered user: her session opens when she comes online.
      const { store } = t.gateway.ponte;
      const user = await store.users.getOrCreate(ALICE);
      await store.accounts.upsert(user.id, 'test', '', { username: 'alice', password: TEST_PASSWORD });
      alice = await t.client('alice');
      // Like every client: fetch the roster first. Prosody delivers subscription
      // approvals only to "interested" resources (RFC 6121 §2.1.6).
      await alice.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })));
    });
    after(async () => t?.stop());

    test('subscribing to the gateway: subscribed, its presence, and a subscription back that logs the user in', async () => {
      await alice.send(xml('presence', { to: TEST_DOMAIN, type: 'subscribe' }));
      await alice.waitFor(presenceFrom(TEST_DOMAIN, 'subscribed'));
      await alice.waitFor(presenceFrom(TEST_DOMAIN, 'subscribe'));
      await alice.send(xml('presence', { to: TEST_DOMAIN, type: 'subscribed' }));
      // Her server now sends her presence to the gateway: the session opens and shows online.
      const online = await alice.waitFor((s) => presenceFrom(TEST_DOMAIN)(s) && !s.getChild('show'));
      assert.ok(t.world.sessionOf(ALICE), 'the session was opened');
      assert.equal(t.world.callsOf('login').filter((c) => c.user === ALICE).length, 1);
      await assertCapsVerify(alice, online);
    });

    test('a probe is answered with the current presence', async () => {
      // A second resource logging in makes the server probe the gateway.
      const second = await t.client('alice', 'second');
      const presence = await second.waitFor(presenceFrom(TEST_DOMAIN));
      assert.equal(presence.getChild('show'), undefined);
      assert.ok(presence.getChild('c', CAPS));
      await second.stop();
    });

    test('the gateway presence shows the session state with the reason', async () => {
      t.world.disconnect(ALICE, 'the network went away');
      const away = await alice.waitFor((s) => presenceFrom(TEST_DOMAIN)(s) && s.getChildText('show') === 'away');
      assert.equal(away.getChildText('status'), 'Reconnecting: the network went away');
      assert.ok(away.getChild('c', CAPS));

      const session = t.world.sessionOf(ALICE)!;
      session.sink.connectionState('failed', 'wrong password');
      const failed = await alice.waitFor((s) => presenceFrom(TEST_DOMAIN)(s) && s.getChildText('show') === 'dnd');
      assert.equal(failed.getChildText('status'), 'Login failed: wrong password');

      await session.reconnect();
      const online = await alice.waitFor((s) => presenceFrom(TEST_DOMAIN)(s) && !s.getChild('show'));
      assert.equal(online.getChildText('status'), null);
    });

    test('a network server JID can be subscribed to and shows the session state too', async () => {
      const SERVER = `net.example@${TEST_DOMAIN}`;
      await alice.send(xml('presence', { to: SERVER, type: 'subscribe' }));
      await alice.waitFor(presenceFrom(SERVER, 'subscribed'));
      const shown = await alice.waitFor(presenceFrom(SERVER));
      assert.equal(shown.getChild('show'), undefined);
      await assertCapsVerify(alice, shown);
      await alice.waitFor(presenceFrom(SERVER, 'subscribe'));
      await alice.send(xml('presence', { to: SERVER, type: 'subscribed' }));
      t.world.disconnect(ALICE, 'netsplit');
      const away = await alice.waitFor((s) => presenceFrom(SERVER)(s) && s.getChildText('show') === 'away');
      assert.equal(away.getChildText('status'), 'Reconnecting: netsplit');
      await t.world.sessionOf(ALICE)!.reconnect();
      await alice.waitFor((s) => presenceFrom(SERVER)(s) && !s.getChild('show'));
      await alice.waitFor((s) => presenceFrom(TEST_DOMAIN)(s) && !s.getChild('show'));
    });

    test('subscribing to a contact; its network presence reaches the user', async () => {
      for (const contact of [BOB, CAROL]) {
        await alice.send(xml('presence', { to: contact, type: 'subscribe' }));
        await alice.waitFor(presenceFrom(contact, 'subscribed'));
        await alice.waitFor(presenceFrom(contact, 'subscribe'));
        await alice.send(xml('presence', { to: contact, type: 'subscribed' }));
      }
      t.world.remotePresence('bob', ALICE, 'away', 'lunch');
      const bob = await alice.waitFor(presenceFrom(BOB));
      assert.equal(bob.getChildText('show'), 'away');
      assert.equal(bob.getChildText('status'), 'lunch');
      await assertCapsVerify(alice, bob);

      t.world.remotePresence('bob', ALICE, 'offline', 'quit');
      const gone = await alice.waitFor(presenceFrom(BOB, 'unavailable'));
      assert.equal(gone.getChildText('status'), 'quit');
    });

    test('after unsubscribing, the contact presence stops', async () => {
      await alice.send(xml('presence', { to: BOB, type: 'unsubscribe' }));
      await alice.waitFor(presenceFrom(BOB, 'unavailable'));
      t.world.remotePresence('bob', ALICE, 'available', 'back');
      // Carol's presence takes the same path right after: once it is here, Bob's would be too.
      t.world.remotePresence('carol', ALICE, 'dnd', 'busy');
      const carol = await alice.waitFor(presenceFrom(CAROL));
      assert.equal(carol.getChildText('show'), 'dnd');
      assert.deepEqual(
        alice.pending().filter((s) => s.is('presence') && s.attrs.from === BOB && s.attrs.type === undefined),
        [],
      );
    });

    test('a presence of an unknown type is refused with bad-request', async () => {
      await alice.send(xml('presence', { to: TEST_DOMAIN, type: 'dance', id: 'p1' }));
      const error = await alice.waitFor((s) => s.is('presence') && s.attrs.id === 'p1');
      assert.equal(error.attrs.type, 'error');
      assert.ok(error.getChild('error')?.getChild('bad-request', 'urn:ietf:params:xml:ns:xmpp-stanzas'), error.toString());
    });

    test('when ponte stops, the user sees the gateway and the contacts go unavailable, with the shutdown message', async () => {
      const shownBefore = alice.pending().length;
      await t.gateway.stop();
      const shuttingDown = (from: string) => (s: XmlElement) =>
        presenceFrom(from, 'unavailable')(s) && s.getChildText('status') === 'ponte is shutting down';
      await alice.waitFor(shuttingDown(TEST_DOMAIN));
      await alice.waitFor(shuttingDown(CAROL));
      await alice.waitFor(shuttingDown(`net.example@${TEST_DOMAIN}`));
      // Nothing shows available after the unavailable.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const late = alice.pending().slice(shownBefore).filter((s) => s.is('presence') && s.attrs.type === undefined);
      assert.deepEqual(late.map((s) => s.toString()), []);
    });
  });
}
