// The Matrix network end to end: a real XMPP client (through Prosody and
// ejabberd), ponte, and the homeserver stand-in (test/matrix/homeserver.ts)
// where the test plays the other Matrix users. Registration (password,
// access token, .well-known delegation, wrong credentials), rooms by alias
// and by handle, occupants and roles, messages both ways with /me, notices,
// styling, corrections, retractions, reactions, replies, typing, receipts,
// topics, membership, invitations, direct chats, errors (unknown alias,
// forbidden join, rate limits, revoked token) and encrypted events. Each
// test uses its own rooms and Matrix users.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MatrixHttpError, startHomeserver, startWellKnown, type Homeserver } from '../matrix/homeserver.js';
import { registrationForm } from '../harness/matrix-e2e.js';

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const CHATSTATES = 'http://jabber.org/protocol/chatstates';
const CORRECT = 'urn:xmpp:message-correct:0';
const RETRACT = 'urn:xmpp:message-retract:1';
const REACTIONS = 'urn:xmpp:reactions:0';
const REPLY = 'urn:xmpp:reply:0';
const MARKERS = 'urn:xmpp:chat-markers:0';
const SID = 'urn:xmpp:sid:0';
const COMMANDS = 'http://jabber.org/protocol/commands';
const DOMAIN = 'matrix.localhost';
const HS = 'localhost';

const roomJid = (alias: string) => `#${alias}%${HS}@${DOMAIN}`;
const userJid = (localpart: string) => `${localpart}%${HS}@${DOMAIN}`;
const bareOf = (jid: string | undefined) => (jid ?? '').split('/')[0]!;
const codes = (el: XmlElement) => (el.getChild('x', MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code));

function errorOf(reply: XmlElement): { condition: string; text: string } {
  assert.equal(reply.attrs.type, 'error', reply.toString());
  const error = reply.getChild('error')!;
  const condition = error.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')!.name;
  return { condition, text: error.getChildText('text', STANZAS) ?? '' };
}

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

const groupchat = (jid: string, body: string, id?: string, ...extra: XmlElement[]) =>
  xml('message', { to: jid, type: 'groupchat', ...(id ? { id } : {}) }, xml('body', {}, body), ...extra);

/** The next message with a body from `from` (full or bare JID). */
const bodyFrom = (client: TestXmppClient, from: string, match: (body: string) => boolean = () => true) =>
  client.waitFor((s) => s.is('message') && (s.attrs.from === from || bareOf(s.attrs.from) === from) && s.getChild('body') !== undefined && match(s.getChildText('body') ?? ''), 10_000);

let hs: Homeserver;
let delegation: { url: string; stop(): Promise<void> };
/** An upload service stand-in (what an XMPP server's XEP-0363 service serves files from). */
let files: Server;
let filesHost: string;
const fileRequests: string[] = [];
const REPORT = Buffer.from('%PDF-1.4 a small report');
before(async () => {
  hs = await startHomeserver();
  delegation = await startWellKnown(hs.url);
  files = createServer((req, res) => {
    fileRequests.push(req.url ?? '');
    if (req.url === '/upload/report.pdf') {
      res.writeHead(200, { 'Content-Type': 'application/pdf', 'Content-Length': String(REPORT.length) });
      res.end(REPORT);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', () => resolve()));
  filesHost = `127.0.0.1:${(files.address() as AddressInfo).port}`;
});
after(async () => {
  await delegation?.stop();
  await hs?.stop();
  files?.closeAllConnections();
  await new Promise((resolve) => files?.close(resolve));
});

for (const [kind, start] of SERVERS) {
  describe(`Matrix through ${kind} and the homeserver stand-in`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const me = `@alice${tag}:${HS}`;
    const bob = `@bob${tag}:${HS}`;
    const carol = `@carol${tag}:${HS}`;

    before(async () => {
      hs.registerUser(`alice${tag}`, 'alice-secret', `Alice ${tag}`);
      hs.registerUser(`bob${tag}`, 'bob-secret', 'Bob');
      hs.registerUser(`carol${tag}`, 'carol-secret', 'Carol');
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_MATRIX_MEDIA_HOSTS: filesHost } });
      alice = await t.client('alice');
    });
    after(async () => {
      await t?.stop();
    });

    test('registration: wrong password refused, .well-known followed, device named ponte, token stored sealed', async () => {
      const wrong = errorOf(await alice.iqRaw(registrationForm({ homeserver: delegation.url, username: `alice${tag}`, password: 'nope' })));
      assert.equal(wrong.condition, 'not-authorized');
      assert.match(wrong.text, /wrong username or password/);
      const unreachable = errorOf(await alice.iqRaw(registrationForm({ homeserver: 'http://127.0.0.1:1', username: `alice${tag}`, password: 'x' })));
      assert.equal(unreachable.condition, 'remote-server-not-found');
      const badToken = errorOf(await alice.iqRaw(registrationForm({ homeserver: hs.url, token: 'syt_wrong' })));
      assert.equal(badToken.condition, 'not-authorized');

      await alice.iq(registrationForm({ homeserver: delegation.url, username: `alice${tag}`, password: 'alice-secret' }));
      const login = hs.logins.at(-1)!;
      assert.equal(login.initial_device_display_name, 'ponte XMPP gateway');
      const user = await t.gateway.ponte.store.users.find('alice@localhost');
      const account = await t.gateway.ponte.store.accounts.get(user!.id, 'matrix', '');
      assert.equal(account?.credentials.userId, me);
      assert.equal(account?.credentials.baseUrl, hs.url);
      assert.match(String(account?.credentials.accessToken), /^syt_/);
      assert.equal(account?.credentials.password, undefined, 'the password is not kept');
    });

    test('joining by alias: occupants with display names and roles, topic, own nick; messages and /me both ways', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `talk${tag}`, name: 'Talk', topic: 'the topic' });
      hs.as(carol).join(roomId);
      const sequence = await joinRoom(alice, roomJid(`talk${tag}`), 'whatever');
      const bobPresence = sequence.find((s) => s.is('presence') && s.attrs.from === `${roomJid(`talk${tag}`)}/Bob`);
      assert.ok(bobPresence, sequence.map(String).join('\n'));
      const bobItem = bobPresence.getChild('x', MUC_USER)!.getChild('item')!;
      assert.deepEqual([bobItem.attrs.role, bobItem.attrs.affiliation], ['moderator', 'owner']);
      assert.ok(sequence.some((s) => s.attrs.from === `${roomJid(`talk${tag}`)}/Carol`));
      const self = sequence.find((s) => s.is('presence') && codes(s).includes(110))!;
      assert.equal(self.attrs.from, `${roomJid(`talk${tag}`)}/Alice ${tag}`);
      assert.equal(sequence.at(-1)!.getChildText('subject'), 'the topic');
      assert.equal(hs.membership(roomId, me), 'join');

      await alice.send(groupchat(roomJid(`talk${tag}`), 'hello *matrix*', `m1${tag}`));
      const sent = await hs.waitForEvent(roomId, (e) => e.type === 'm.room.message' && e.sender === me, 10_000, 'message from alice');
      assert.equal(sent.content.body, 'hello *matrix*');
      assert.equal(sent.content.formatted_body, 'hello <strong>matrix</strong>');
      // The reflection comes once (the sync echo is recognised by its transaction id).
      const reflected = await bodyFrom(alice, `${roomJid(`talk${tag}`)}/Alice ${tag}`);
      assert.equal(reflected.attrs.id, `m1${tag}`);

      bobActor.say(roomId, 'hello from matrix');
      const incoming = await bodyFrom(alice, `${roomJid(`talk${tag}`)}/Bob`);
      assert.equal(incoming.attrs.type, 'groupchat');
      assert.equal(incoming.getChildText('body'), 'hello from matrix');

      bobActor.say(roomId, '**bold** move', '<strong>bold</strong> move &amp; <em>more</em>');
      assert.equal((await bodyFrom(alice, `${roomJid(`talk${tag}`)}/Bob`)).getChildText('body'), '*bold* move & _more_');

      await alice.send(groupchat(roomJid(`talk${tag}`), '/me waves'));
      const emote = await hs.waitForEvent(roomId, (e) => e.content.msgtype === 'm.emote', 10_000, 'emote');
      assert.equal(emote.content.body, 'waves');
      bobActor.send(roomId, { msgtype: 'm.emote', body: 'dances' });
      assert.equal((await bodyFrom(alice, `${roomJid(`talk${tag}`)}/Bob`, (b) => b.includes('dances'))).getChildText('body'), '/me dances');
      bobActor.send(roomId, { msgtype: 'm.notice', body: 'a bot speaks' });
      // A notice is marked as one where the XMPP side does so ("[notice] ", as biboumi).
      await bodyFrom(alice, `${roomJid(`talk${tag}`)}/Bob`, (b) => /^(\[notice\] )?a bot speaks$/.test(b));

      const duplicates = alice.pending().filter((s) => s.is('message') && s.attrs.from === `${roomJid(`talk${tag}`)}/Alice ${tag}` && s.getChildText('body') === 'hello *matrix*');
      assert.equal(duplicates.length, 0, 'the own message is shown once');
    });

    test('joining shows the recent history from /messages, with its original time; leaving leaves on Matrix', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `history${tag}` });
      bobActor.say(roomId, 'said before 1');
      bobActor.say(roomId, 'said before 2');
      const sequence = await joinRoom(alice, roomJid(`history${tag}`), 'a');
      const history = sequence.filter((s) => s.is('message') && s.getChild('body') !== undefined);
      assert.deepEqual(history.map((s) => s.getChildText('body')), ['said before 1', 'said before 2']);
      assert.ok(history.every((s) => s.attrs.from === `${roomJid(`history${tag}`)}/Bob` && s.getChild('delay', 'urn:xmpp:delay') !== undefined), history.map(String).join('\n'));
      assert.ok(hs.requests.some((r) => r === `GET /_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`));
      // Leaving from XMPP leaves on Matrix.
      await alice.send(xml('presence', { to: `${roomJid(`history${tag}`)}/Alice ${tag}`, type: 'unavailable' }));
      await eventually(() => hs.membership(roomId, me) === 'leave', 'alice left on Matrix');
    });

    test('Matrix media reach the XMPP user as a URL they can open (XEP-0066)', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `media${tag}` });
      const room = roomJid(`media${tag}`);
      await joinRoom(alice, room, 'a');
      const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
      const mxc = bobActor.upload(png, 'image/png', 'cat.png');
      bobActor.send(roomId, { msgtype: 'm.image', body: 'cat.png', url: mxc, info: { mimetype: 'image/png', size: png.length } });
      const image = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${room}/Bob` && s.getChild('x', 'jabber:x:oob') !== undefined, 10_000);
      const url = image.getChild('x', 'jabber:x:oob')!.getChildText('url')!;
      assert.equal(image.getChildText('body'), url);
      const response = await fetch(url);
      assert.equal(response.headers.get('content-type'), 'image/png');
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), png);
    });

    test("a Matrix user's vCard has their display name and avatar (fetched through authenticated media)", async () => {
      const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001', 'hex');
      hs.as(bob).setAvatar(hs.as(bob).upload(png, 'image/png', 'bob.png'));
      const before = hs.requests.length;
      const reply = await alice.iq(xml('iq', { type: 'get', to: userJid(`bob${tag}`) }, xml('vCard', { xmlns: 'vcard-temp' })));
      const vcard = reply.getChild('vCard', 'vcard-temp')!;
      assert.equal(vcard.getChildText('FN'), 'Bob');
      const photo = vcard.getChild('PHOTO')!;
      assert.equal(photo.getChildText('TYPE'), 'image/png');
      assert.deepEqual(Buffer.from(photo.getChildText('BINVAL')!.replace(/\s+/g, ''), 'base64'), png);
      assert.ok(hs.requests.slice(before).some((r) => r.startsWith('GET /_matrix/client/v1/media/download/')), 'the authenticated media path');
    });

    test('files from XMPP on a listed host are uploaded to Matrix; other URLs stay links', async () => {
      const roomId = hs.as(bob).createRoom({ alias: `files${tag}` });
      const room = roomJid(`files${tag}`);
      await joinRoom(alice, room, 'a');
      const url = `http://${filesHost}/upload/report.pdf`;
      await alice.send(groupchat(room, url, `f1${tag}`, xml('x', { xmlns: 'jabber:x:oob' }, xml('url', {}, url))));
      const file = await hs.waitForEvent(roomId, (e) => e.sender === me && e.content.msgtype === 'm.file', 10_000, 'm.file');
      assert.equal(file.content.body, 'report.pdf');
      assert.deepEqual(file.content.info, { mimetype: 'application/pdf', size: REPORT.length });
      assert.deepEqual(hs.storedMedia(String(file.content.url))?.data, REPORT);
      // The reflection comes once, as the user sent it.
      await bodyFrom(alice, `${room}/Alice ${tag}`, (b) => b === url);

      const elsewhere = `http://localhost:${filesHost.split(':')[1]}/upload/other.pdf`;
      await alice.send(groupchat(room, elsewhere, `f2${tag}`, xml('x', { xmlns: 'jabber:x:oob' }, xml('url', {}, elsewhere))));
      const link = await hs.waitForEvent(roomId, (e) => e.sender === me && e.content.body === elsewhere, 10_000, 'the link as text');
      assert.equal(link.content.msgtype, 'm.text');
      assert.ok(!fileRequests.includes('/upload/other.pdf'), 'an unlisted URL is never fetched');
    });

    test('corrections, retractions, reactions and replies both ways', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `edits${tag}` });
      const room = roomJid(`edits${tag}`);
      await joinRoom(alice, room, 'a');
      const original = bobActor.say(roomId, 'typo here');
      const first = await bodyFrom(alice, `${room}/Bob`, (b) => b === 'typo here');
      const firstId = first.getChild('stanza-id', SID)!.attrs.id!;
      bobActor.edit(roomId, original, 'no typo here');
      const edit = await bodyFrom(alice, `${room}/Bob`, (b) => b === 'no typo here');
      assert.equal(edit.getChild('replace', CORRECT)?.attrs.id, first.attrs.id);
      bobActor.react(roomId, original, '👍');
      const reaction = await alice.waitFor((s) => s.is('message') && s.getChild('reactions', REACTIONS) !== undefined, 10_000);
      assert.equal(reaction.getChild('reactions', REACTIONS)!.attrs.id, firstId);
      assert.deepEqual(reaction.getChild('reactions', REACTIONS)!.getChildren('reaction').map((r) => r.text()), ['👍']);
      bobActor.redact(roomId, original);
      const retraction = await alice.waitFor((s) => s.is('message') && s.getChild('retract', RETRACT) !== undefined, 10_000);
      assert.equal(retraction.getChild('retract', RETRACT)!.attrs.id, firstId);

      // From XMPP: a message, its correction, a reaction to Bob's, a reply, a retraction.
      const bobsMessage = bobActor.say(roomId, 'react to me');
      const bobsStanza = await bodyFrom(alice, `${room}/Bob`, (b) => b === 'react to me');
      const bobsStanzaId = bobsStanza.getChild('stanza-id', SID)!.attrs.id!;
      await alice.send(groupchat(room, 'first version', `c1${tag}`));
      const mine = await hs.waitForEvent(roomId, (e) => e.sender === me && e.content.body === 'first version', 10_000, 'first version');
      const mineReflected = await bodyFrom(alice, `${room}/Alice ${tag}`, (b) => b === 'first version');
      const mineStanzaId = mineReflected.getChild('stanza-id', SID)!.attrs.id!;
      await alice.send(groupchat(room, 'second version', `c2${tag}`, xml('replace', { xmlns: CORRECT, id: `c1${tag}` })));
      const correction = await hs.waitForEvent(roomId, (e) => e.sender === me && (e.content['m.relates_to'] as { rel_type?: string } | undefined)?.rel_type === 'm.replace', 10_000, 'm.replace');
      assert.equal((correction.content['m.relates_to'] as { event_id: string }).event_id, mine.event_id);
      assert.equal((correction.content['m.new_content'] as { body: string }).body, 'second version');
      await alice.send(xml('message', { to: room, type: 'groupchat', id: `r1${tag}` }, xml('reactions', { xmlns: REACTIONS, id: bobsStanzaId }, xml('reaction', {}, '🎉'))));
      const annotation = await hs.waitForEvent(roomId, (e) => e.type === 'm.reaction' && e.sender === me, 10_000, 'm.reaction');
      assert.deepEqual(annotation.content['m.relates_to'], { rel_type: 'm.annotation', event_id: bobsMessage, key: '🎉' });
      await alice.send(xml('message', { to: room, type: 'groupchat', id: `r2${tag}` }, xml('reactions', { xmlns: REACTIONS, id: bobsStanzaId })));
      await hs.waitForEvent(roomId, (e) => e.type === 'm.room.redaction' && e.redacts === annotation.event_id, 10_000, 'reaction removed');
      await alice.send(groupchat(room, 'a reply', `p1${tag}`, xml('reply', { xmlns: REPLY, to: `${room}/Bob`, id: bobsStanzaId })));
      const reply = await hs.waitForEvent(roomId, (e) => e.sender === me && e.content.body === 'a reply', 10_000, 'reply');
      assert.deepEqual(reply.content['m.relates_to'], { 'm.in_reply_to': { event_id: bobsMessage } });
      bobActor.reply(roomId, mine.event_id, 'answering you');
      const incomingReply = await bodyFrom(alice, `${room}/Bob`, (b) => b.endsWith('answering you'));
      assert.ok(incomingReply.getChild('reply', REPLY), incomingReply.toString());
      await alice.send(xml('message', { to: room, type: 'groupchat', id: `x1${tag}` }, xml('retract', { xmlns: RETRACT, id: mineStanzaId })));
      await hs.waitForEvent(roomId, (e) => e.type === 'm.room.redaction' && e.redacts === mine.event_id, 10_000, 'retraction of the own message');
    });

    test('typing and read receipts both ways; topic from XMPP; members coming, renamed and going', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `people${tag}`, topic: 'old' });
      // Alice may set the topic (level 50): she is an admin and moderator.
      bobActor.setState(roomId, 'm.room.power_levels', { ...hs.rooms.get(roomId)!.state.get('m.room.power_levels\u0000')!.event.content, users: { [bob]: 100, [me]: 50 } });
      const room = roomJid(`people${tag}`);
      const joined = await joinRoom(alice, room, 'a');
      const self = joined.find((s) => s.is('presence') && codes(s).includes(110))!;
      assert.deepEqual([self.getChild('x', MUC_USER)!.getChild('item')!.attrs.role, self.getChild('x', MUC_USER)!.getChild('item')!.attrs.affiliation], ['moderator', 'admin']);
      bobActor.typing(roomId, true);
      const typing = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${room}/Bob` && s.getChild('composing', CHATSTATES) !== undefined, 10_000);
      assert.ok(typing);
      await alice.send(xml('message', { to: room, type: 'groupchat' }, xml('composing', { xmlns: CHATSTATES })));
      await eventually(() => hs.rooms.get(roomId)!.typing.has(me), 'alice typing on Matrix');
      const said = bobActor.say(roomId, 'read me');
      const stanza = await bodyFrom(alice, `${room}/Bob`, (b) => b === 'read me');
      await alice.send(xml('message', { to: room, type: 'groupchat' }, xml('displayed', { xmlns: MARKERS, id: stanza.getChild('stanza-id', SID)!.attrs.id! })));
      await eventually(() => hs.rooms.get(roomId)!.receipts.some((r) => r.userId === me && r.eventId === said), 'receipt from alice');

      await alice.send(xml('message', { to: room, type: 'groupchat' }, xml('subject', {}, 'new topic')));
      const topic = await hs.waitForEvent(roomId, (e) => e.type === 'm.room.topic' && e.sender === me, 10_000, 'topic');
      assert.equal(topic.content.topic, 'new topic');
      const echoed = await alice.waitFor((s) => s.is('message') && s.getChildText('subject') === 'new topic', 10_000);
      assert.equal(echoed.attrs.from, `${room}/Alice ${tag}`);

      const erin = hs.registerUser(`erin${tag}`, 'erin-secret', 'Erin');
      hs.as(erin).join(roomId);
      await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${room}/Erin` && s.attrs.type === undefined, 10_000);
      // A second member named Bob: both become distinguishable (nick changes, status 303).
      hs.as(erin).setDisplayName('Bob');
      const renames = [
        await alice.waitFor((s) => s.is('presence') && bareOf(s.attrs.from) === room && s.attrs.type === 'unavailable' && codes(s).includes(303), 10_000),
        await alice.waitFor((s) => s.is('presence') && bareOf(s.attrs.from) === room && s.attrs.type === 'unavailable' && codes(s).includes(303), 10_000),
      ];
      const newNicks = renames.map((r) => r.getChild('x', MUC_USER)!.getChild('item')!.attrs.nick).sort();
      assert.deepEqual(newNicks, [`Bob (${bob})`, `Bob (${erin})`]);
      hs.as(erin).leave(roomId);
      await alice.waitFor((s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${room}/Bob (${erin})`, 10_000);
      // Bob alone again: his plain name comes back.
      const back = await alice.waitFor((s) => s.is('presence') && bareOf(s.attrs.from) === room && codes(s).includes(303), 10_000);
      assert.equal(back.getChild('x', MUC_USER)!.getChild('item')!.attrs.nick, 'Bob');
    });

    test('from XMPP: a nick change sets the room display name; invitations and kicks reach Matrix; threads read as replies', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `moderate${tag}` });
      bobActor.setState(roomId, 'm.room.power_levels', { ...hs.rooms.get(roomId)!.state.get('m.room.power_levels\u0000')!.event.content, users: { [bob]: 100, [me]: 50 } });
      const room = roomJid(`moderate${tag}`);
      await joinRoom(alice, room, 'a');
      await alice.send(xml('presence', { to: `${room}/Ally` }));
      const renamed = await hs.waitForEvent(roomId, (e) => e.type === 'm.room.member' && e.state_key === me && e.content.displayname === 'Ally', 10_000, 'room display name');
      assert.equal(renamed.content.membership, 'join');
      await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${room}/Ally` && codes(s).includes(110), 10_000);

      await alice.send(xml('message', { to: room }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: userJid(`carol${tag}`) }, xml('reason', {}, 'join us')))));
      await eventually(() => hs.membership(roomId, carol) === 'invite', 'carol invited');
      hs.as(carol).join(roomId);
      await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${room}/Carol` && s.attrs.type === undefined, 10_000);
      await alice.iq(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#admin' }, xml('item', { nick: 'Carol', role: 'none' }, xml('reason', {}, 'bye')))));
      await eventually(() => hs.membership(roomId, carol) === 'leave', 'carol kicked');
      const kick = hs.eventsOf(roomId, 'm.room.member').at(-1)!;
      assert.deepEqual([kick.sender, kick.state_key, kick.content.reason], [me, carol, 'bye']);

      const root = bobActor.say(roomId, 'thread root');
      const rootStanza = await bodyFrom(alice, `${room}/Bob`, (b) => b === 'thread root');
      bobActor.send(roomId, { msgtype: 'm.text', body: 'in the thread', 'm.relates_to': { rel_type: 'm.thread', event_id: root, is_falling_back: true, 'm.in_reply_to': { event_id: root } } });
      const threaded = await bodyFrom(alice, `${room}/Bob`, (b) => b.endsWith('in the thread'));
      assert.equal(threaded.getChild('reply', REPLY)?.attrs.id, rootStanza.getChild('stanza-id', SID)!.attrs.id);
    });

    test('kicked or banned on Matrix: the user is out of the room with the reason (XEP-0045 307/301)', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `out${tag}` });
      const room = roomJid(`out${tag}`);
      await joinRoom(alice, room, 'a');
      bobActor.kick(roomId, me, 'behave');
      const kicked = await alice.waitFor((s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${room}/Alice ${tag}`, 10_000);
      assert.ok(codes(kicked).includes(307), kicked.toString());
      assert.ok(codes(kicked).includes(110), kicked.toString());
      await joinRoom(alice, room, 'a');
      bobActor.setState(roomId, 'm.room.member', { membership: 'ban', reason: 'enough' }, me);
      const banned = await alice.waitFor((s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${room}/Alice ${tag}`, 10_000);
      assert.ok(codes(banned).includes(301), banned.toString());
      const again = await joinRoom(alice, room, 'a');
      assert.equal(errorOf(again.at(-1)!).condition, 'forbidden');
    });

    test("the homeserver's public rooms are listed in disco#items of its JID", async () => {
      hs.as(bob).createRoom({ alias: `listed${tag}`, name: `Listed ${tag}` });
      const hidden = hs.as(bob).createRoom({ alias: `hidden${tag}`, public: false });
      const reply = await alice.iq(xml('iq', { type: 'get', to: `${HS}@${DOMAIN}` }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' })));
      const items = reply.getChild('query')!.getChildren('item');
      const listed = items.find((item) => item.attrs.jid === roomJid(`listed${tag}`));
      assert.equal(listed?.attrs.name, `Listed ${tag}`, reply.toString());
      assert.ok(!items.some((item) => item.attrs.jid === roomJid(`hidden${tag}`)), `${hidden} is not public`);
    });

    test('a Matrix invitation becomes a MUC invitation; a room without alias is joined through its handle', async () => {
      const roomId = hs.as(bob).createRoom({ public: false, name: 'Secret' });
      hs.as(bob).invite(roomId, me);
      const invite = await alice.waitFor((s) => s.is('message') && s.getChild('x', MUC_USER)?.getChild('invite') !== undefined, 10_000);
      const handleJid = bareOf(invite.attrs.from);
      assert.match(handleJid, /^[a-z2-7]{10}@matrix\.localhost$/);
      assert.equal(invite.getChild('x', MUC_USER)!.getChild('invite')!.attrs.from, userJid(`bob${tag}`));
      const sequence = await joinRoom(alice, handleJid, 'a');
      assert.ok(sequence.some((s) => s.is('presence') && codes(s).includes(110)), sequence.map(String).join('\n'));
      assert.equal(hs.membership(roomId, me), 'join');
    });

    test('direct chats: writing to user%server opens an m.direct room; a new contact writes first and is offered', async () => {
      await alice.send(xml('message', { to: userJid(`carol${tag}`), type: 'chat', id: `d1${tag}` }, xml('body', {}, 'hi carol')));
      const direct = await eventually(async () => {
        for (const room of hs.rooms.values()) {
          if (hs.membership(room.id, carol) === 'invite' && hs.membership(room.id, me) === 'join') return room.id;
        }
        return undefined;
      }, 'a direct room inviting carol');
      const create = hs.eventsOf(direct, 'm.room.member').find((e) => e.state_key === carol)!;
      assert.equal(create.content.is_direct, true);
      hs.as(carol).join(direct);
      await hs.waitForEvent(direct, (e) => e.content.body === 'hi carol', 10_000, 'the direct message');
      hs.as(carol).say(direct, 'hi alice');
      const answer = await bodyFrom(alice, userJid(`carol${tag}`), (b) => b === 'hi alice');
      assert.equal(answer.attrs.type, 'chat');
      // Writing again reuses the room.
      await alice.send(xml('message', { to: userJid(`carol${tag}`), type: 'chat' }, xml('body', {}, 'again')));
      await hs.waitForEvent(direct, (e) => e.content.body === 'again', 10_000, 'the second direct message');

      // Dave, never seen, opens a DM (as Element does: invite with is_direct).
      hs.registerUser(`dave${tag}`, 'dave-secret', 'Dave');
      const dave = `@dave${tag}:${HS}`;
      const dm = hs.as(dave).createRoom({ public: false, invite: [me], direct: true });
      await eventually(() => hs.membership(dm, me) === 'join', 'alice accepted the direct chat');
      hs.as(dave).say(dm, 'hello, I am new');
      // Offered as a contact: pushed into the roster where the server granted roster access (XEP-0356; its
      // presence then reaches the user), else a subscription request.
      const offer = await alice.waitFor(
        (s) => s.is('presence') && (s.attrs.type === 'subscribe' || s.attrs.type === undefined) && bareOf(s.attrs.from) === userJid(`dave${tag}`),
        10_000,
      );
      assert.ok(offer);
      await bodyFrom(alice, userJid(`dave${tag}`), (b) => b === 'hello, I am new');
    });

    test('errors: unknown alias, forbidden join, rate limits honoured, encrypted events noticed', async () => {
      const unknown = await joinRoom(alice, roomJid(`nowhere${tag}`), 'a');
      assert.equal(unknown.at(-1)!.attrs.type, 'error');
      assert.equal(errorOf(unknown.at(-1)!).condition, 'item-not-found');
      const closed = hs.as(bob).createRoom({ alias: `closed${tag}`, public: false });
      const refused = await joinRoom(alice, roomJid(`closed${tag}`), 'a');
      assert.equal(errorOf(refused.at(-1)!).condition, 'forbidden');
      assert.notEqual(hs.membership(closed, me), 'join');

      const roomId = hs.as(bob).createRoom({ alias: `limits${tag}` });
      await joinRoom(alice, roomJid(`limits${tag}`), 'a');
      hs.failNext({ method: 'PUT', path: /\/send\/m\.room\.message\// }, new MatrixHttpError(429, 'M_LIMIT_EXCEEDED', 'Too Many Requests', { retry_after_ms: 300 }), 2);
      await alice.send(groupchat(roomJid(`limits${tag}`), 'patience', `l1${tag}`));
      await hs.waitForEvent(roomId, (e) => e.content.body === 'patience', 10_000, 'the message after the rate limit');
      assert.equal(hs.eventsOf(roomId, 'm.room.message').filter((e) => e.content.body === 'patience').length, 1);
      // The homeserver stores the message but the answer is lost (a 502 from its proxy): sent again with the same txn id, stored once.
      hs.failNext({ method: 'PUT', path: /\/send\/m\.room\.message\//, afterHandling: true }, new MatrixHttpError(502, 'M_UNKNOWN', 'Bad Gateway'));
      await alice.send(groupchat(roomJid(`limits${tag}`), 'exactly once', `l3${tag}`));
      await bodyFrom(alice, `${roomJid(`limits${tag}`)}/Alice ${tag}`, (b) => b === 'exactly once');
      assert.equal(hs.eventsOf(roomId, 'm.room.message').filter((e) => e.content.body === 'exactly once').length, 1);
      hs.failNext({ method: 'PUT', path: /\/send\/m\.room\.message\// }, new MatrixHttpError(429, 'M_LIMIT_EXCEEDED', 'Too Many Requests', { retry_after_ms: 120_000 }));
      await alice.send(groupchat(roomJid(`limits${tag}`), 'too fast', `l2${tag}`));
      const bounced = await alice.waitFor((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.id === `l2${tag}`, 10_000);
      assert.equal(errorOf(bounced).condition, 'resource-constraint');
      assert.match(errorOf(bounced).text, /try again in 120 s/);

      // The homeserver fails for a while: the session says it is reconnecting and why, then is online again.
      hs.failNext({ method: 'GET', path: /\/sync$/ }, new MatrixHttpError(502, 'M_UNKNOWN', 'Bad Gateway'), 3);
      hs.as(bob).say(roomId, 'wake the sync');
      const status = async () => {
        const reply = await alice.iq(xml('iq', { type: 'set', to: DOMAIN }, xml('command', { xmlns: COMMANDS, node: 'status', action: 'execute' })));
        return reply.getChild('command', COMMANDS)?.getChild('note')?.text() ?? '';
      };
      await eventually(async () => /reconnecting .*Bad Gateway/.test(await status()), 'the session reconnecting');
      await eventually(async () => /: online;/.test(await status()), 'the session online again', 20_000);

      hs.as(bob).send(roomId, { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'xyz', session_id: 's', sender_key: 'k', device_id: 'D' }, 'm.room.encrypted');
      const notice = await bodyFrom(alice, `${roomJid(`limits${tag}`)}/Bob`, (b) => b.includes('cannot decrypt'));
      assert.ok(notice);
    });

    test('a revoked access token tells the user how to log in again', async () => {
      hs.expireTokens(me, true);
      const notice = await alice.waitFor((s) => s.is('message') && s.attrs.from === DOMAIN && /soft logout/.test(s.getChildText('body') ?? ''), 40_000);
      assert.match(notice.getChildText('body')!, /register with the Matrix gateway again .*"Reconnect"/);
      // Logging in again: a new registration, then the Reconnect command.
      await alice.iq(registrationForm({ homeserver: hs.url, username: `alice${tag}`, password: 'alice-secret' }));
      const reconnected = await alice.iq(xml('iq', { type: 'set', to: DOMAIN }, xml('command', { xmlns: COMMANDS, node: 'reconnect', action: 'execute' })));
      assert.match(reconnected.getChild('command', COMMANDS)?.getChild('note')?.text() ?? '', /online/);
      const roomId = hs.as(bob).createRoom({ alias: `again${tag}` });
      await joinRoom(alice, roomJid(`again${tag}`), 'a');
      await alice.send(groupchat(roomJid(`again${tag}`), 'back again'));
      await hs.waitForEvent(roomId, (e) => e.sender === me && e.content.body === 'back again', 10_000, 'a message after logging in again');
    });
  });
}

/** Polls until `check` gives a truthy value (bounded). */
async function eventually<T>(check: () => T | Promise<T>, what: string, ms = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
