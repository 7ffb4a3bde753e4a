// Matrix rooms beyond messages, through Prosody and ejabberd, ponte and the
// homeserver stand-in: a room's name and avatar changing on Matrix reach the
// XMPP user as a configuration change (status 104) with the new name and the
// XEP-0486 avatar hash in disco#info, the avatar in the room's vCard and its
// hash in a presence from the room (XEP-0153 style), which a room with an
// avatar also sends after each join (as mod_vcard_muc); encrypted rooms and
// direct chats (ponte cannot encrypt) are told once, messages still go out,
// and encrypted messages become notices.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { MatrixHttpError, startHomeserver, type Homeserver } from '../matrix/homeserver.js';
import { registrationForm } from '../harness/matrix-e2e.js';

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const DATA = 'jabber:x:data';
const VCARD = 'vcard-temp';
const VCARD_UPDATE = 'vcard-temp:x:update';
const SID = 'urn:xmpp:sid:0';
const REPLY = 'urn:xmpp:reply:0';
const REACTIONS = 'urn:xmpp:reactions:0';
const CHATSTATES = 'http://jabber.org/protocol/chatstates';
const MARKERS = 'urn:xmpp:chat-markers:0';
const DOMAIN = 'matrix.localhost';
const HS = 'localhost';

const roomJid = (alias: string) => `#${alias}%${HS}@${DOMAIN}`;
const bareOf = (jid: string | undefined) => (jid ?? '').split('/')[0]!;
const codes = (el: XmlElement) => (el.getChild('x', MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code));

/** Joins; resolves with everything up to the subject (the end of the join), or the error. */
async function joinRoom(client: TestXmppClient, jid: string, nick: string): Promise<XmlElement[]> {
  await client.send(xml('presence', { to: `${jid}/${nick}` }, xml('x', { xmlns: MUC })));
  const out: XmlElement[] = [];
  for (;;) {
    const el = await client.waitFor((s) => bareOf(s.attrs.from) === jid, 20_000);
    out.push(el);
    if (el.attrs.type === 'error') return out;
    if (el.is('message') && el.getChild('subject') && !el.getChild('body')) return out;
  }
}

/** A room's disco#info: identity name and the muc#roominfo form's fields. */
async function discoInfo(client: TestXmppClient, jid: string): Promise<{ name: string | undefined; fields: Map<string, string[]> }> {
  const reply = await client.iq(xml('iq', { type: 'get', to: jid }, xml('query', { xmlns: DISCO_INFO })));
  const query = reply.getChild('query', DISCO_INFO)!;
  const fields = new Map<string, string[]>();
  for (const field of query.getChild('x', DATA)?.getChildren('field') ?? []) {
    fields.set(field.attrs.var!, field.getChildren('value').map((v) => v.text()));
  }
  return { name: query.getChild('identity')?.attrs.name, fields };
}

const configChange = (jid: string) => (s: XmlElement) => s.is('message') && s.attrs.from === jid && codes(s).includes(104);

let hs: Homeserver;
before(async () => {
  hs = await startHomeserver();
});
after(async () => {
  await hs?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`Matrix rooms through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const bob = `@bob${tag}:${HS}`;

    before(async () => {
      hs.registerUser(`alice${tag}`, 'alice-secret', `Alice ${tag}`);
      hs.registerUser(`bob${tag}`, 'bob-secret', 'Bob');
      t = await startTestGateway(start);
      alice = await t.client('alice');
      await alice.iq(registrationForm({ homeserver: hs.url, username: `alice${tag}`, password: 'alice-secret' }));
    });
    after(async () => {
      await t?.stop();
    });

    test('a new room name and avatar on Matrix: status 104, the name and avatar hash in disco#info, the avatar in the vCard and a presence', async () => {
      const room = roomJid(`named${tag}`);
      const roomId = hs.as(bob).createRoom({ alias: `named${tag}`, name: 'Old name' });
      await joinRoom(alice, room, 'a');
      assert.equal((await discoInfo(alice, room)).name, 'Old name');

      hs.as(bob).setState(roomId, 'm.room.name', { name: 'New name' });
      const renamed = await alice.waitFor(configChange(room), 10_000);
      assert.equal(renamed.attrs.type, 'groupchat');
      const info = await discoInfo(alice, room);
      assert.equal(info.name, 'New name');
      assert.deepEqual(info.fields.get('muc#roomconfig_roomname'), ['New name']);

      const image = Buffer.from('\x89PNG\r\n\x1a\n a tiny room avatar', 'latin1');
      const hash = createHash('sha1').update(image).digest('hex');
      const mxc = hs.as(bob).upload(image, 'image/png', 'avatar.png');
      hs.as(bob).setState(roomId, 'm.room.avatar', { url: mxc, info: { mimetype: 'image/png', size: image.length } });
      await alice.waitFor(configChange(room), 10_000);
      const update = await alice.waitFor((s) => s.is('presence') && s.attrs.from === room && s.getChild('x', VCARD_UPDATE) !== undefined, 10_000);
      assert.equal(update.attrs.type, undefined);
      assert.equal(update.getChild('x', VCARD_UPDATE)!.getChildText('photo'), hash);
      assert.deepEqual((await discoInfo(alice, room)).fields.get('muc#roominfo_avatarhash'), [hash]);
      const vcard = (await alice.iq(xml('iq', { type: 'get', to: room }, xml('vCard', { xmlns: VCARD })))).getChild('vCard', VCARD)!;
      assert.equal(vcard.getChild('PHOTO')?.getChildText('TYPE'), 'image/png');
      assert.deepEqual(Buffer.from(vcard.getChild('PHOTO')!.getChildText('BINVAL')!, 'base64'), image);

      // The same name again is no change: nothing is sent for it.
      hs.as(bob).setState(roomId, 'm.room.name', { name: 'New name' });
      hs.as(bob).say(roomId, 'after the same name');
      await alice.waitFor((s) => s.is('message') && s.getChildText('body') === 'after the same name', 10_000);
      assert.equal(alice.pending().filter(configChange(room)).length, 0);
    });

    test('joining a room with an avatar: after the join sequence, a presence from the room with its hash (as mod_vcard_muc), for each resource', async () => {
      const image = Buffer.from('\x89PNG\r\n\x1a\n a room avatar from the start', 'latin1');
      const hash = createHash('sha1').update(image).digest('hex');
      const roomId = hs.as(bob).createRoom({ alias: `pictured${tag}` });
      const mxc = hs.as(bob).upload(image, 'image/png', 'room.png');
      hs.as(bob).setState(roomId, 'm.room.avatar', { url: mxc, info: { mimetype: 'image/png', size: image.length } });
      const room = roomJid(`pictured${tag}`);
      const avatarPresence = (s: XmlElement) => s.is('presence') && s.attrs.from === room && s.getChild('x', VCARD_UPDATE) !== undefined;

      const joined = await joinRoom(alice, room, 'a');
      assert.ok(!joined.some(avatarPresence), 'not inside the join sequence');
      const update = await alice.waitFor(avatarPresence, 10_000);
      assert.equal(update.attrs.type, undefined);
      assert.equal(update.getChild('x', VCARD_UPDATE)!.getChildText('photo'), hash);

      // Another resource of the user joins the room it is in already: it gets the hash too.
      const second = await t.client('alice', 'second');
      const sequence = await joinRoom(second, room, 'a');
      assert.ok(sequence.some((s) => s.is('presence') && codes(s).includes(110)), sequence.map(String).join('\n'));
      assert.ok(!sequence.some(avatarPresence), 'not inside the join sequence');
      const again = await second.waitFor(avatarPresence, 10_000);
      assert.equal(again.getChild('x', VCARD_UPDATE)!.getChildText('photo'), hash);
      await second.stop();
    });

    test('a room with 2,000 members: joining it does not hold up the other rooms, and the whole occupant list arrives', async () => {
      const MEMBERS = 2_000;
      const crowdId = hs.as(bob).createRoom({ alias: `crowd${tag}` });
      for (let i = 1; i < MEMBERS; i++) {
        const id = hs.registerUser(`m${i}${tag}`, 'pw', `Member ${i}`);
        hs.as(id).join(crowdId);
      }
      const quiet = roomJid(`quiet${tag}`);
      const quietId = hs.as(bob).createRoom({ alias: `quiet${tag}` });
      await joinRoom(alice, quiet, 'a');

      // The homeserver is slow to answer the big room's state: the other room must not wait for it.
      // (An encoded room id holds letters, digits and %: nothing a regular expression reads specially.)
      const slow = hs.holdNext({ method: 'GET', path: new RegExp(`/rooms/${encodeURIComponent(crowdId)}/state$`) });
      const crowd = roomJid(`crowd${tag}`);
      await alice.send(xml('presence', { to: `${crowd}/a` }, xml('x', { xmlns: MUC })));
      await slow.held;
      hs.as(bob).say(quietId, 'meanwhile in the quiet room');
      await alice.waitFor((s) => s.is('message') && s.attrs.from === `${quiet}/Bob` && s.getChildText('body') === 'meanwhile in the quiet room', 10_000);
      assert.equal(alice.pending().filter((s) => s.is('presence') && bareOf(s.attrs.from) === crowd).length, 0, 'the big join is still waiting');
      slow.release();

      const occupants = new Set<string>();
      for (;;) {
        const el = await alice.waitFor((s) => bareOf(s.attrs.from) === crowd, 60_000);
        assert.notEqual(el.attrs.type, 'error', el.toString());
        if (el.is('presence') && !codes(el).includes(110)) occupants.add(el.attrs.from!);
        if (el.is('message') && el.getChild('subject') && !el.getChild('body')) break;
      }
      assert.equal(occupants.size, MEMBERS);
      assert.ok(occupants.has(`${crowd}/Member 1999`) && occupants.has(`${crowd}/Bob`));
      // And the big room works like any other.
      hs.as(`@m1234${tag}:${HS}`).say(crowdId, 'hello from the crowd');
      await alice.waitFor((s) => s.is('message') && s.attrs.from === `${crowd}/Member 1234` && s.getChildText('body') === 'hello from the crowd', 10_000);
    });

    test('a reply from XMPP to a message in a thread stays in the thread; a resent reaction reacts once', async () => {
      const room = roomJid(`threads${tag}`);
      const roomId = hs.as(bob).createRoom({ alias: `threads${tag}` });
      await joinRoom(alice, room, 'a');
      const root = hs.as(bob).say(roomId, 'the root');
      const inThread = hs.as(bob).send(roomId, {
        msgtype: 'm.text',
        body: 'in the thread',
        'm.relates_to': { rel_type: 'm.thread', event_id: root, is_falling_back: true, 'm.in_reply_to': { event_id: root } },
      });
      const rootStanza = await alice.waitFor((s) => s.is('message') && s.getChildText('body') === 'the root', 10_000);
      // (The XMPP side quotes the root as the reply's fallback.)
      const threaded = await alice.waitFor((s) => s.is('message') && (s.getChildText('body') ?? '').endsWith('in the thread'), 10_000);
      const threadedId = threaded.getChild('stanza-id', SID)!.attrs.id!;

      await alice.send(xml('message', { to: room, type: 'groupchat', id: `t1${tag}` }, xml('body', {}, 'answer in the thread'), xml('reply', { xmlns: REPLY, to: `${room}/Bob`, id: threadedId })));
      const answer = await hs.waitForEvent(roomId, (e) => e.content.body === 'answer in the thread', 10_000, 'the threaded answer');
      assert.deepEqual(answer.content['m.relates_to'], { rel_type: 'm.thread', event_id: root, is_falling_back: false, 'm.in_reply_to': { event_id: inThread } });
      // A reply to a message outside any thread stays a plain reply.
      const rootId = rootStanza.getChild('stanza-id', SID)!.attrs.id!;
      await alice.send(xml('message', { to: room, type: 'groupchat', id: `t2${tag}` }, xml('body', {}, 'plain answer'), xml('reply', { xmlns: REPLY, to: `${room}/Bob`, id: rootId })));
      const plain = await hs.waitForEvent(roomId, (e) => e.content.body === 'plain answer', 10_000, 'the plain answer');
      assert.deepEqual(plain.content['m.relates_to'], { 'm.in_reply_to': { event_id: root } });

      // The homeserver stores the reaction but its answer is lost, and ponte's sync is held so that it does not
      // learn of the reaction otherwise: only the txn id, the same for the client's resend (same id), avoids a second one.
      const syncHeld = hs.holdNext({ method: 'GET', path: /\/sync$/ });
      // A message ends the long poll in progress, if one is: the next poll is the one held.
      hs.as(bob).say(roomId, 'wake the sync');
      await syncHeld.held;
      hs.failNext({ method: 'PUT', path: /\/send\/m\.reaction\//, afterHandling: true }, new MatrixHttpError(502, 'M_UNKNOWN', 'Bad Gateway'), 4);
      const reaction = () => xml('message', { to: room, type: 'groupchat', id: `x1${tag}` }, xml('reactions', { xmlns: REACTIONS, id: threadedId }, xml('reaction', {}, '👀')));
      await alice.send(reaction());
      const bounced = await alice.waitFor((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.id === `x1${tag}`, 20_000);
      assert.ok(bounced);
      await alice.send(reaction());
      await alice.waitFor((s) => s.is('message') && s.attrs.id === `x1${tag}` && s.attrs.type === 'groupchat' && s.getChild('reactions', REACTIONS) !== undefined, 20_000);
      const reactions = hs.eventsOf(roomId, 'm.reaction').filter((e) => e.sender === `@alice${tag}:${HS}`);
      assert.equal(reactions.length, 1, 'one reaction on Matrix');
      syncHeld.release();
      await alice.waitFor((s) => s.is('message') && s.getChildText('body') === 'wake the sync', 10_000);
    });

    test('typing and read receipts in a direct chat, both ways', async () => {
      hs.registerUser(`fay${tag}`, 'fay-secret', 'Fay');
      const fay = `@fay${tag}:${HS}`;
      const me = `@alice${tag}:${HS}`;
      const contact = `fay${tag}%${HS}@${DOMAIN}`;
      const dm = hs.as(fay).createRoom({ public: false, invite: [me], direct: true });
      const end = Date.now() + 10_000;
      while (hs.membership(dm, me) !== 'join' && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.equal(hs.membership(dm, me), 'join');

      const hello = hs.as(fay).say(dm, 'hello alice');
      const incoming = await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === contact && s.getChildText('body') === 'hello alice', 10_000);
      hs.as(fay).typing(dm, true);
      await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === contact && s.getChild('composing', CHATSTATES) !== undefined, 10_000);
      hs.as(fay).typing(dm, false);
      await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === contact && s.getChild('paused', CHATSTATES) !== undefined, 10_000);

      await alice.send(xml('message', { to: contact, type: 'chat' }, xml('composing', { xmlns: CHATSTATES })));
      const typingUntil = Date.now() + 10_000;
      while (!hs.rooms.get(dm)!.typing.has(me) && Date.now() < typingUntil) await new Promise((r) => setTimeout(r, 50));
      assert.ok(hs.rooms.get(dm)!.typing.has(me), 'alice typing in the direct chat');
      await alice.send(xml('message', { to: contact, type: 'chat' }, xml('displayed', { xmlns: MARKERS, id: incoming.attrs.id! })));
      const readUntil = Date.now() + 10_000;
      while (!hs.rooms.get(dm)!.receipts.some((r) => r.userId === me && r.eventId === hello) && Date.now() < readUntil) await new Promise((r) => setTimeout(r, 50));
      assert.ok(hs.rooms.get(dm)!.receipts.some((r) => r.userId === me && r.eventId === hello && r.type === 'm.read'), 'alice read it');

      await alice.send(xml('message', { to: contact, type: 'chat', id: `dm1${tag}` }, xml('body', {}, 'read this'), xml('markable', { xmlns: MARKERS })));
      const mine = await hs.waitForEvent(dm, (e) => e.content.body === 'read this', 10_000, 'the message to fay');
      hs.as(fay).read(dm, mine.event_id);
      const displayed = await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === contact && s.getChild('displayed', MARKERS) !== undefined, 10_000);
      assert.equal(displayed.getChild('displayed', MARKERS)!.attrs.id, `dm1${tag}`);
    });

    test('an encrypted room: told once on joining and when a room becomes encrypted; messages go out unencrypted; encrypted ones noticed', async () => {
      const room = roomJid(`secret${tag}`);
      const roomId = hs.as(bob).createRoom({ alias: `secret${tag}` });
      hs.as(bob).setState(roomId, 'm.room.encryption', { algorithm: 'm.megolm.v1.aes-sha2' });
      await joinRoom(alice, room, 'a');
      const told = await alice.waitFor((s) => s.is('message') && s.attrs.from === room && /end-to-end encrypted/.test(s.getChildText('body') ?? ''), 10_000);
      assert.match(told.getChildText('body')!, /goes out unencrypted/);

      await alice.send(xml('message', { to: room, type: 'groupchat', id: `enc1${tag}` }, xml('body', {}, 'in the clear')));
      const sent = await hs.waitForEvent(roomId, (e) => e.content.body === 'in the clear', 10_000, 'the message');
      assert.equal(sent.type, 'm.room.message');
      hs.as(bob).send(roomId, { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'abc', session_id: 's', sender_key: 'k', device_id: 'D' }, 'm.room.encrypted');
      await alice.waitFor((s) => s.is('message') && s.attrs.from === `${room}/Bob` && /cannot decrypt/.test(s.getChildText('body') ?? ''), 10_000);

      // A room that becomes encrypted while the user is in it.
      const later = roomJid(`later${tag}`);
      const laterId = hs.as(bob).createRoom({ alias: `later${tag}` });
      await joinRoom(alice, later, 'a');
      hs.as(bob).setState(laterId, 'm.room.encryption', { algorithm: 'm.megolm.v1.aes-sha2' });
      await alice.waitFor((s) => s.is('message') && s.attrs.from === later && /end-to-end encrypted/.test(s.getChildText('body') ?? ''), 10_000);
      hs.as(bob).setState(laterId, 'm.room.encryption', { algorithm: 'm.megolm.v1.aes-sha2', rotation_period_ms: 604800000 });
      hs.as(bob).say(laterId, 'still here');
      await alice.waitFor((s) => s.is('message') && s.attrs.from === `${later}/Bob` && s.getChildText('body') === 'still here', 10_000);
      const told1 = (jid: string) => alice.pending().filter((s) => s.is('message') && s.attrs.from === jid && /end-to-end encrypted/.test(s.getChildText('body') ?? ''));
      assert.equal(told1(later).length, 0, 'told once');
      assert.equal(told1(room).length, 0, 'told once');
    });

    test('an encrypted direct chat (as Element creates them): the undecryptable message is a notice in the chat; writing there works, unencrypted, told once', async () => {
      hs.registerUser(`dana${tag}`, 'dana-secret', 'Dana');
      const dana = `@dana${tag}:${HS}`;
      const contact = `dana${tag}%${HS}@${DOMAIN}`;
      const dm = hs.as(dana).createRoom({ public: false, invite: [`@alice${tag}:${HS}`], direct: true });
      hs.as(dana).setState(dm, 'm.room.encryption', { algorithm: 'm.megolm.v1.aes-sha2' });
      const end = Date.now() + 10_000;
      while (hs.membership(dm, `@alice${tag}:${HS}`) !== 'join' && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.equal(hs.membership(dm, `@alice${tag}:${HS}`), 'join', 'the direct chat was accepted');
      hs.as(dana).send(dm, { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'xyz', session_id: 's', sender_key: 'k', device_id: 'D' }, 'm.room.encrypted');
      const notice = await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === contact && /cannot decrypt/.test(s.getChildText('body') ?? ''), 10_000);
      assert.equal(notice.attrs.type, 'chat');

      for (const body of ['hello dana', 'again']) {
        await alice.send(xml('message', { to: contact, type: 'chat' }, xml('body', {}, body)));
        const sent = await hs.waitForEvent(dm, (e) => e.content.body === body, 10_000, `"${body}"`);
        assert.equal(sent.type, 'm.room.message');
      }
      await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === contact && /end-to-end encrypted/.test(s.getChildText('body') ?? ''), 10_000);
      hs.as(dana).say(dm, 'got them');
      await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === contact && s.getChildText('body') === 'got them', 10_000);
      assert.equal(alice.pending().filter((s) => s.is('message') && bareOf(s.attrs.from) === contact && /end-to-end encrypted/.test(s.getChildText('body') ?? '')).length, 0, 'told once');
    });
  });
}
