// Matrix history in ponte's archive, end to end (Prosody and ejabberd, ponte,
// the homeserver stand-in): the join's /messages history is in the room's
// MAM archive; paging MAM back past the archive's start fetches older events
// with /messages (from /context), archives them in order and once, in rooms
// and in direct chats (the one-to-one archive on the gateway domain, through
// the contact's m.direct room); encrypted events and stickers in the history
// are not silenced.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { bareOf, eventually, HS, joinRoom, MATRIX_DOMAIN, mamQuery, registerMatrix, roomJid } from '../harness/matrix-e2e.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { startHomeserver, type Homeserver } from '../matrix/homeserver.js';

const OOB = 'jabber:x:oob';
const DELAY = 'urn:xmpp:delay';
/** What the stamp of an event's time looks like (XEP-0082, whole seconds). */
const stampOf = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const contactJid = (localpart: string) => `${localpart}%${HS}@${MATRIX_DOMAIN}`;
const bodies = (results: Array<{ message: XmlElement }>) => results.map((r) => r.message.getChildText('body'));

let hs: Homeserver;
before(async () => {
  hs = await startHomeserver();
});
after(async () => {
  await hs?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`Matrix history through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const bob = `@bob${tag}:${HS}`;

    before(async () => {
      hs.registerUser(`alice${tag}`, 'alice-secret', `Alice ${tag}`);
      hs.registerUser(`bob${tag}`, 'bob-secret', 'Bob');
      t = await startTestGateway(start);
      alice = await t.client('alice');
      await registerMatrix(alice, hs.url, `alice${tag}`, 'alice-secret');
    });
    after(async () => {
      await t?.stop();
    });

    test("the join's history from /messages is in the room's archive (MAM), with the original times", async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `archive${tag}` });
      for (let i = 1; i <= 5; i++) bobActor.say(roomId, `before join ${i}`);
      const room = roomJid(`archive${tag}`);
      await joinRoom(alice, room, 'a');
      const page = await eventually(async () => {
        const answer = await mamQuery(alice, room);
        return answer.count >= 5 ? answer : null;
      }, 'the join history archived');
      assert.deepEqual(bodies(page.results), [1, 2, 3, 4, 5].map((i) => `before join ${i}`));
      assert.ok(page.results.every((r) => r.message.attrs.from === `${room}/Bob`), page.results.map((r) => r.message.toString()).join('\n'));
      const sent = hs.eventsOf(roomId, 'm.room.message');
      assert.deepEqual(page.results.map((r) => r.stamp), sent.map((e) => stampOf(e.origin_server_ts)));
      assert.equal(page.count, 5);
      assert.equal(page.complete, true);

      // Rejoining adds what is new only.
      await alice.send(xml('presence', { to: `${room}/Alice ${tag}`, type: 'unavailable' }));
      await eventually(() => hs.membership(roomId, `@alice${tag}:${HS}`) === 'leave', 'left on Matrix');
      bobActor.say(roomId, 'while away');
      await joinRoom(alice, room, 'a');
      const again = await eventually(async () => {
        const answer = await mamQuery(alice, room);
        return answer.count >= 6 ? answer : null;
      }, 'the new message archived');
      assert.deepEqual(bodies(again.results), [...[1, 2, 3, 4, 5].map((i) => `before join ${i}`), 'while away']);
    });

    test('MAM paging back past the archive fetches older events from Matrix, in order, each once', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `scroll${tag}` });
      for (let i = 1; i <= 80; i++) bobActor.say(roomId, `old ${i}`);
      const room = roomJid(`scroll${tag}`);
      const joined = await joinRoom(alice, room, 'a');
      // The join's /messages gives the last 20 events: the user's own join and 19 messages.
      assert.equal(joined.filter((s) => s.is('message') && s.getChild('body') && s.getChild('delay', DELAY)).length, 19);
      await eventually(async () => (await mamQuery(alice, room, { max: 0 })).count >= 19, 'the join history archived');
      const said = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `old ${from + i}`);

      // The last page: 19 archived, 31 more fetched from before the oldest.
      const last = await mamQuery(alice, room, { max: 50, before: '' });
      assert.deepEqual(bodies(last.results), said(31, 80));
      assert.equal(last.complete, false, 'older messages are in the archive now');
      assert.ok(hs.requests.some((r) => r.startsWith(`GET /_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/context/`)));

      // Further back: the page before the first one gets the remaining 30.
      const earlier = await mamQuery(alice, room, { max: 50, before: last.first! });
      assert.deepEqual(bodies(earlier.results), said(1, 30));
      assert.equal(earlier.complete, true);
      // Before the room's first message there is nothing more.
      const none = await mamQuery(alice, room, { max: 50, before: earlier.first! });
      assert.deepEqual(none.results, []);
      assert.equal(none.complete, true);

      // The whole archive: each message once, in the order it was said, with its own time.
      const all = await mamQuery(alice, room, { max: 250 });
      assert.deepEqual(bodies(all.results), said(1, 80));
      assert.equal(all.count, 80);
      const sent = hs.eventsOf(roomId, 'm.room.message');
      assert.deepEqual(all.results.map((r) => r.stamp), sent.map((e) => stampOf(e.origin_server_ts)));
      assert.equal(new Set(all.results.map((r) => r.id)).size, 80);
    });

    test('MAM paging back in a direct chat fetches older events of the m.direct room, both sides, in order, each once', async () => {
      // Dina and Bob talked on Matrix before Dina used ponte: none of it is in her archive.
      const dinaId = `@dina${tag}:${HS}`;
      hs.registerUser(`dina${tag}`, 'dina-secret', 'Dina');
      const bobActor = hs.as(bob);
      const dinaActor = hs.as(dinaId);
      const dm = bobActor.createRoom({ public: false, invite: [dinaId], direct: true });
      dinaActor.join(dm);
      dinaActor.setDirect({ [bob]: [dm] });
      const said = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `dm ${from + i}`);
      for (let i = 1; i <= 40; i++) (i % 2 === 1 ? bobActor : dinaActor).say(dm, `dm ${i}`);
      // Dina is in a room too: its invitation tells when ponte's first sync (which replays nothing) is done.
      dinaActor.join(bobActor.createRoom({ alias: `lobby${tag}` }));

      const dina = await t.client('dina');
      await registerMatrix(dina, hs.url, `dina${tag}`, 'dina-secret');
      // The gateway is not in her roster yet (ejabberd: its subscription request is still open): her presence brings the session up.
      await dina.send(xml('presence', { to: MATRIX_DOMAIN }));
      await dina.waitFor((s) => s.is('message') && s.toString().includes(roomJid(`lobby${tag}`)), 15_000);
      const bobJid = contactJid(`bob${tag}`);
      const dinaJid = bareOf(dina.jid);
      // One live message: the archive of the chat starts there.
      bobActor.say(dm, 'dm live');
      await dina.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === bobJid && s.getChildText('body') === 'dm live', 10_000);
      await eventually(async () => (await mamQuery(dina, MATRIX_DOMAIN, { with: bobJid, max: 0 })).count >= 1, 'the live message archived');
      const requestsBefore = hs.requests.length;

      // The last page: the live message, and 24 fetched from before it.
      const last = await mamQuery(dina, MATRIX_DOMAIN, { with: bobJid, max: 25, before: '' });
      assert.deepEqual(bodies(last.results), [...said(17, 40), 'dm live']);
      assert.equal(last.complete, false, 'older messages may be on Matrix still');
      assert.ok(
        hs.requests.slice(requestsBefore).some((r) => r.startsWith(`GET /_matrix/client/v3/rooms/${encodeURIComponent(dm)}/context/`)),
        'paged back from the oldest archived event of the direct room',
      );

      // Further back: the remaining 16, then the chat's beginning.
      const earlier = await mamQuery(dina, MATRIX_DOMAIN, { with: bobJid, max: 25, before: last.first! });
      assert.deepEqual(bodies(earlier.results), said(1, 16));
      assert.equal(earlier.complete, true);
      const none = await mamQuery(dina, MATRIX_DOMAIN, { with: bobJid, max: 25, before: earlier.first! });
      assert.deepEqual(none.results, []);
      assert.equal(none.complete, true);

      // The whole chat: each message once, in order, from its sender (Dina's own Matrix messages are hers), at its own time.
      const all = await mamQuery(dina, MATRIX_DOMAIN, { with: bobJid, max: 250 });
      assert.deepEqual(bodies(all.results), [...said(1, 40), 'dm live']);
      assert.equal(all.count, 41);
      assert.equal(new Set(all.results.map((r) => r.id)).size, 41);
      all.results.forEach((r, i) => {
        const fromDina = i < 40 && i % 2 === 1;
        assert.equal(r.message.attrs.type, 'chat');
        assert.equal(bareOf(r.message.attrs.from), fromDina ? dinaJid : bobJid, r.message.toString());
        assert.equal(bareOf(r.message.attrs.to), fromDina ? bobJid : dinaJid, r.message.toString());
      });
      const sent = hs.eventsOf(dm, 'm.room.message').filter((e) => e.content.body !== 'dm live');
      assert.deepEqual(all.results.slice(0, 40).map((r) => r.stamp), sent.map((e) => stampOf(e.origin_server_ts)));

      // A chat with nothing archived yet starts from the direct room's latest event: a room Dina joined on
      // Matrix, which ponte followed silently, becomes her direct chat with Ezra (m.direct) after it was said.
      const ezraId = `@ezra${tag}:${HS}`;
      hs.registerUser(`ezra${tag}`, 'ezra-secret', 'Ezra');
      const ezraRoom = hs.as(ezraId).createRoom({});
      dinaActor.join(ezraRoom);
      for (let i = 1; i <= 3; i++) hs.as(ezraId).say(ezraRoom, `ezra ${i}`);
      // Syncs are in order: once a later message reached Dina, ponte has passed Ezra's (not yet a direct chat).
      bobActor.say(dm, 'dm marker');
      await dina.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === bobJid && s.getChildText('body') === 'dm marker', 10_000);
      dinaActor.setDirect({ [bob]: [dm], [ezraId]: [ezraRoom] });
      const ezraJid = contactJid(`ezra${tag}`);
      const ezraAll = await eventually(async () => {
        const page = await mamQuery(dina, MATRIX_DOMAIN, { with: ezraJid, max: 50, before: '' });
        return page.results.length > 0 ? page : null;
      }, 'the direct chat with Ezra read from Matrix');
      assert.deepEqual(bodies(ezraAll.results), ['ezra 1', 'ezra 2', 'ezra 3']);
      assert.equal(ezraAll.complete, true);
      const ezraPath = `/rooms/${encodeURIComponent(ezraRoom)}/`;
      assert.ok(hs.requests.some((r) => r.startsWith(`GET /_matrix/client/v3${ezraPath}messages`)));
      assert.ok(!hs.requests.some((r) => r.includes(`${ezraPath}context/`)), 'nothing archived to page back from: read from the latest event');
      assert.equal((await mamQuery(dina, MATRIX_DOMAIN, { with: ezraJid, max: 50 })).count, 3);

      // Someone without a direct chat: an empty archive, and no room made to read one.
      hs.registerUser(`fay${tag}`, 'fay-secret', 'Fay');
      const fayPage = await mamQuery(dina, MATRIX_DOMAIN, { with: contactJid(`fay${tag}`), max: 50, before: '' });
      assert.deepEqual(fayPage.results, []);
      assert.equal(fayPage.complete, true);
      assert.equal([...hs.rooms.values()].filter((room) => hs.membership(room.id, dinaId) === 'join').length, 3);
    });

    test('encrypted events and stickers in the join history are not silenced', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `quiet${tag}` });
      bobActor.say(roomId, 'in clear');
      bobActor.send(roomId, { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'xyz', session_id: 's', sender_key: 'k', device_id: 'D' }, 'm.room.encrypted');
      const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
      bobActor.send(roomId, { body: 'a thumbs up', url: bobActor.upload(png, 'image/png', 'thumbs.png'), info: { mimetype: 'image/png', size: png.length } }, 'm.sticker');
      const room = roomJid(`quiet${tag}`);
      const joined = await joinRoom(alice, room, 'a');
      const history = joined.filter((s) => s.is('message') && s.getChild('body') !== undefined);
      assert.equal(history.length, 3, history.map(String).join('\n'));
      assert.equal(history[0]!.getChildText('body'), 'in clear');
      assert.match(history[1]!.getChildText('body')!, /encrypted message .*cannot decrypt/);
      const sticker = history[2]!.getChild('x', OOB);
      assert.ok(sticker, history[2]!.toString());
      assert.equal(sticker.getChildText('desc'), 'a thumbs up');
      assert.deepEqual(Buffer.from(await (await fetch(sticker.getChildText('url')!)).arrayBuffer()), png);
      const archived = await eventually(async () => {
        const answer = await mamQuery(alice, room);
        return answer.count >= 3 ? answer : null;
      }, 'the history archived');
      assert.match(archived.results[1]!.message.getChildText('body')!, /cannot decrypt/);
      assert.ok(archived.results[2]!.message.getChild('x', OOB));
    });
  });
}
