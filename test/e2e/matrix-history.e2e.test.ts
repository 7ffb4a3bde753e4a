// Matrix history in ponte's archive, end to end (Prosody and ejabberd, ponte,
// the homeserver stand-in): the join's /messages history is in the room's
// MAM archive; encrypted events and stickers in the history are not
// silenced.
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
