// Presence both ways between an XMPP user and Matrix, through Prosody and
// ejabberd, ponte and the homeserver stand-in: the m.presence of a
// direct-chat partner becomes their contact presence (online -> available,
// unavailable -> away, offline -> unavailable, with the status), and the
// user's own XMPP presence becomes their Matrix presence (PUT
// /presence/{userId}/status: available -> online, away -> unavailable, no
// resource left -> offline), which ponte's polling then keeps.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { startHomeserver, type Homeserver } from '../matrix/homeserver.js';

const REGISTER = 'jabber:iq:register';
const ROSTER = 'jabber:iq:roster';
const DATA = 'jabber:x:data';
const DOMAIN = 'matrix.localhost';
const HS = 'localhost';

const bareOf = (jid: string | undefined) => (jid ?? '').split('/')[0]!;
const userJid = (localpart: string) => `${localpart}%${HS}@${DOMAIN}`;

const submit = (values: Record<string, string>) =>
  xml(
    'iq',
    { type: 'set', to: DOMAIN },
    xml(
      'query',
      { xmlns: REGISTER },
      xml(
        'x',
        { xmlns: DATA, type: 'submit' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, REGISTER)),
        ...Object.entries(values).map(([name, value]) => xml('field', { var: name }, xml('value', {}, value))),
      ),
    ),
  );

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
      await alice.iq(submit({ homeserver: hs.url, username: `alice${tag}`, password: 'alice-secret' }));
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
