// Matrix history in ponte's archive, end to end (Prosody and ejabberd, ponte,
// the homeserver stand-in): the join's /messages history is in the room's
// MAM archive; paging MAM back past the archive's start fetches older events
// with /messages (from /context), archives them in order and once; encrypted
// events and stickers in the history are not silenced.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { eventually, HS, joinRoom, mamQuery, registerMatrix, roomJid } from '../harness/matrix-e2e.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { startHomeserver, type Homeserver } from '../matrix/homeserver.js';

const OOB = 'jabber:x:oob';
const DELAY = 'urn:xmpp:delay';
/** What the stamp of an event's time looks like (XEP-0082, whole seconds). */
const stampOf = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
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
