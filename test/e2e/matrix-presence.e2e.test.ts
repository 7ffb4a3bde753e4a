// Presence both ways between an XMPP user and Matrix, through Prosody and
// ejabberd, ponte and the homeserver stand-in: the m.presence of a
// direct-chat partner becomes their contact presence (online -> available,
// unavailable -> away, offline -> unavailable, with the status), and the
// user's own XMPP presence becomes their Matrix presence (PUT
// /presence/{userId}/status: available -> online, away -> unavailable, no
// resource left -> offline), which ponte's polling then keeps. Adding a
// Matrix user to the roster opens the direct chat at once, named by the
// user's profile.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { startHomeserver, type Homeserver } from '../matrix/homeserver.js';
import { registrationForm } from '../harness/matrix-e2e.js';

const ROSTER = 'jabber:iq:roster';
const DOMAIN = 'matrix.localhost';
const HS = 'localhost';

const bareOf = (jid: string | undefined) => (jid ?? '').split('/')[0]!;
const userJid = (localpart: string) => `${localpart}%${HS}@${DOMAIN}`;

const rosterPushOf = (jid: string) => (s: XmlElement) =>
  s.is('iq') && s.attrs.type === 'set' && (s.getChild('query', ROSTER)?.getChildren('item') ?? []).some((item) => item.attrs.jid === jid);
const subscribeFrom = (jid: string) => (s: XmlElement) => s.is('presence') && s.attrs.type === 'subscribe' && bareOf(s.attrs.from) === jid;

/**
 * The user accepts what the gateway offers for `jid`, whichever way it comes:
 * a privileged roster push (subscription both) or a subscription request,
 * answered as a client does (subscribed, and a subscription of their own).
 */
async function acceptOffer(client: TestXmppClient, jid: string): Promise<void> {
  const offer = await client.waitFor((s) => rosterPushOf(jid)(s) || subscribeFrom(jid)(s), 15_000);
  if (offer.is('iq')) return;
  await client.send(xml('presence', { to: jid, type: 'subscribed' }));
  await client.send(xml('presence', { to: jid, type: 'subscribe' }));
  await client.waitFor((s) => s.is('presence') && s.attrs.type === 'subscribed' && bareOf(s.attrs.from) === jid, 10_000);
}

let hs: Homeserver;
before(async () => {
  hs = await startHomeserver();
});
after(async () => {
  await hs?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`Matrix presence through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const me = `@alice${tag}:${HS}`;
    const carol = `@carol${tag}:${HS}`;
    let direct: string;

    before(async () => {
      hs.registerUser(`alice${tag}`, 'alice-secret', `Alice ${tag}`);
      hs.registerUser(`carol${tag}`, 'carol-secret', 'Carol');
      t = await startTestGateway(start);
      alice = await t.client('alice');
      // Like every client: the roster first (Prosody delivers subscription approvals only to "interested" resources).
      await alice.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
      await alice.iq(registrationForm({ homeserver: hs.url, username: `alice${tag}`, password: 'alice-secret' }));
      // XEP-0100 §4.1: the gateway enters the roster; from then on her server sends it her presence.
      await acceptOffer(alice, DOMAIN);
    });
    after(async () => {
      await t?.stop();
    });

    test("a direct-chat partner's m.presence is their contact presence: online, unavailable, offline, with the status", async () => {
      // Carol opens a direct chat as Element does; ponte accepts it and records it in m.direct.
      direct = hs.as(carol).createRoom({ public: false, invite: [me], direct: true });
      await eventually(() => hs.membership(direct, me) === 'join', 'alice in the direct chat');
      const contact = userJid(`carol${tag}`);
      hs.as(carol).presence('online', 'around');
      await acceptOffer(alice, contact);
      const online = await alice.waitFor((s) => s.is('presence') && bareOf(s.attrs.from) === contact && s.attrs.type === undefined && s.getChildText('status') === 'around', 15_000);
      assert.equal(online.getChild('show'), undefined);

      hs.as(carol).presence('unavailable', 'idle a while');
      const away = await alice.waitFor((s) => s.is('presence') && bareOf(s.attrs.from) === contact && s.getChildText('status') === 'idle a while', 15_000);
      assert.equal(away.attrs.type, undefined);
      assert.equal(away.getChildText('show'), 'away');

      hs.as(carol).presence('offline');
      const gone = await alice.waitFor((s) => s.is('presence') && bareOf(s.attrs.from) === contact && s.attrs.type === 'unavailable', 15_000);
      assert.ok(gone);
    });

    test('adding user%server to the roster opens the direct chat at once (m.direct), named by the profile; then reused; no such user: item-not-found', async () => {
      hs.registerUser(`erin${tag}`, 'erin-secret', 'Erin Example');
      const erin = `@erin${tag}:${HS}`;
      const contact = userJid(`erin${tag}`);
      await alice.send(xml('presence', { to: contact, type: 'subscribe' }));
      await alice.waitFor((s) => s.is('presence') && s.attrs.type === 'subscribed' && bareOf(s.attrs.from) === contact, 15_000);
      const back = await alice.waitFor(subscribeFrom(contact), 15_000);
      assert.equal(back.getChildText('nick', 'http://jabber.org/protocol/nick'), 'Erin Example');
      await alice.send(xml('presence', { to: contact, type: 'subscribed' }));

      const direct = await eventually(() => (hs.users.get(me)!.accountData.get('m.direct')?.content[erin] as string[] | undefined)?.[0], 'erin in m.direct');
      const invite = hs.eventsOf(direct, 'm.room.member').find((e) => e.state_key === erin);
      assert.deepEqual([invite?.content.membership, invite?.content.is_direct], ['invite', true]);
      assert.equal(hs.eventsOf(direct, 'm.room.message').length, 0, 'opened before any message');

      hs.as(erin).join(direct);
      await alice.send(xml('message', { to: contact, type: 'chat' }, xml('body', {}, 'hi erin')));
      await hs.waitForEvent(direct, (e) => e.content.body === 'hi erin', 10_000, 'the first message in the room opened by the subscription');
      const invitedRooms = [...hs.rooms.values()].filter((room) => room.state.get(`m.room.member\u0000${erin}`) !== undefined);
      assert.equal(invitedRooms.length, 1, 'one direct chat');

      const nobody = userJid(`nobody${tag}`);
      await alice.send(xml('presence', { to: nobody, type: 'subscribe' }));
      const refused = await alice.waitFor((s) => s.is('presence') && bareOf(s.attrs.from) === nobody, 15_000);
      assert.equal(refused.attrs.type, 'error', refused.toString());
      assert.ok(refused.getChild('error')?.getChild('item-not-found', 'urn:ietf:params:xml:ns:xmpp-stanzas'), refused.toString());
      assert.match(refused.getChild('error')?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas') ?? '', /no Matrix user/);
    });

    test('her XMPP presence is her Matrix presence: away -> unavailable with the status, available -> online, gone -> offline', async () => {
      const presenceOf = () => hs.users.get(me)!.presence;
      await alice.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'at lunch')));
      await eventually(() => presenceOf().presence === 'unavailable' && presenceOf().status_msg === 'at lunch', 'unavailable "at lunch" on Matrix');
      assert.ok(hs.requests.includes(`PUT /_matrix/client/v3/presence/${encodeURIComponent(me)}/status`));

      await alice.send(xml('presence', {}, xml('show', {}, 'chat')));
      await eventually(() => presenceOf().presence === 'online' && presenceOf().status_msg === undefined, 'online on Matrix');

      // A second resource that is away changes nothing: the most available one counts.
      const second = await t.client('alice', 'phone');
      await second.send(xml('presence', {}, xml('show', {}, 'xa')));
      await second.stop();
      await alice.send(xml('presence', {}, xml('show', {}, 'dnd'), xml('status', {}, 'busy')));
      await eventually(() => presenceOf().presence === 'unavailable' && presenceOf().status_msg === 'busy', 'dnd as unavailable on Matrix');

      await alice.stop();
      await eventually(() => presenceOf().presence === 'offline', 'offline on Matrix once no resource is left');
      // ponte keeps syncing (bouncer-like) without marking her online again: the next polls say set_presence=offline.
      const polls = (since: number) => hs.requests.slice(since).filter((r) => r === 'GET /_matrix/client/v3/sync').length;
      const before = hs.requests.length;
      hs.as(carol).say(direct, 'are you there?');
      await eventually(() => polls(before) >= 1, 'a poll of /sync after the message');
      // A second message ends that poll: it was answered, so its set_presence was applied.
      hs.as(carol).say(direct, 'hello?');
      await eventually(() => polls(before) >= 2, 'another poll of /sync');
      assert.equal(presenceOf().presence, 'offline');
    });
  });
}

/** Polls until `check` gives a truthy value (bounded). */
async function eventually<T>(check: () => T | Promise<T>, what: string, ms = 15_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
