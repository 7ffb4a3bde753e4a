// Matrix media through ponte, end to end (Prosody and ejabberd, ponte, the
// homeserver stand-in): files from Matrix reach the XMPP user as ponte's own
// link, which ponte serves with the user's token over authenticated media
// (a current homeserver refuses the unauthenticated path for new files), or
// over /_matrix/media/v3 on a homeserver from before v1.11; forged links
// are refused; stickers come through as media; files from XMPP become
// m.image / m.video / m.audio by their type.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { HS, joinRoom, registerMatrix, roomJid } from '../harness/matrix-e2e.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { startHomeserver, type Homeserver } from '../matrix/homeserver.js';

const OOB = 'jabber:x:oob';
const PNG = Buffer.from('89504e470d0a1a0a0000000d494844520000000100000001', 'hex');
/** Files the XMPP side "uploaded" (the XMPP server's upload service stand-in). */
const UPLOADS: Record<string, { type: string; data: Buffer }> = {
  '/upload/photo.png': { type: 'image/png', data: PNG },
  '/upload/clip.mp4': { type: 'video/mp4', data: Buffer.from('\x00\x00\x00\x18ftypmp42 a short clip') },
  '/upload/voice.ogg': { type: 'audio/ogg', data: Buffer.from('OggS a voice message') },
};

let hs: Homeserver;
/** A homeserver from before spec v1.11 (no authenticated media). */
let oldHs: Homeserver;
let files: Server;
let filesHost: string;

before(async () => {
  hs = await startHomeserver();
  oldHs = await startHomeserver({ legacyMedia: true });
  files = createServer((req, res) => {
    const file = UPLOADS[req.url ?? ''];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': String(file.data.length) });
    res.end(file.data);
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', () => resolve()));
  filesHost = `127.0.0.1:${(files.address() as AddressInfo).port}`;
});
after(async () => {
  await hs?.stop();
  await oldHs?.stop();
  files?.closeAllConnections();
  await new Promise((resolve) => files?.close(resolve));
});

/** The next message from `from` with an XEP-0066 link. */
const mediaFrom = (client: TestXmppClient, from: string): Promise<XmlElement> =>
  client.waitFor((s) => s.is('message') && s.attrs.from === from && s.getChild('x', OOB) !== undefined, 10_000);
const oobUrl = (message: XmlElement) => message.getChild('x', OOB)!.getChildText('url')!;

for (const [kind, start] of SERVERS) {
  describe(`Matrix media through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    let olga: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const me = `@alice${tag}:${HS}`;
    const bob = `@bob${tag}:${HS}`;

    before(async () => {
      hs.registerUser(`alice${tag}`, 'alice-secret', `Alice ${tag}`);
      hs.registerUser(`bob${tag}`, 'bob-secret', 'Bob');
      oldHs.registerUser(`olga${tag}`, 'olga-secret', 'Olga');
      oldHs.registerUser(`oscar${tag}`, 'oscar-secret', 'Oscar');
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_MATRIX_MEDIA_HOSTS: filesHost } });
      alice = await t.client('alice');
      await registerMatrix(alice, hs.url, `alice${tag}`, 'alice-secret');
      olga = await t.client('olga');
      await registerMatrix(olga, oldHs.url, `olga${tag}`, 'olga-secret');
    });
    after(async () => {
      await t?.stop();
    });

    test('an m.image from Matrix: a link on ponte that gives the exact bytes, fetched with authenticated media', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `pics${tag}` });
      const room = roomJid(`pics${tag}`);
      await joinRoom(alice, room, 'a');
      const mxc = bobActor.upload(PNG, 'image/png', 'cat.png');
      bobActor.send(roomId, { msgtype: 'm.image', body: 'cat.png', url: mxc, info: { mimetype: 'image/png', size: PNG.length } });
      const image = await mediaFrom(alice, `${room}/Bob`);
      const url = oobUrl(image);
      assert.equal(image.getChildText('body'), url, 'the URL is the body too, for clients without XEP-0066');
      assert.ok(url.startsWith(`${t.gateway.ponte.httpUrl}/media/`), url);
      assert.ok(url.endsWith('/cat.png'), url);
      assert.ok(!url.includes(hs.url) && !url.includes('alice'), 'neither the homeserver nor the user shows in the link');

      // The homeserver itself refuses the unauthenticated path for this new file.
      const [, server, mediaId] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc)!;
      assert.equal((await fetch(`${hs.url}/_matrix/media/v3/download/${server}/${mediaId}`)).status, 404);

      const before = hs.requests.length;
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'image/png');
      assert.equal(response.headers.get('content-length'), String(PNG.length));
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), PNG);
      assert.deepEqual(
        hs.requests.slice(before).filter((r) => r.includes('/download/')),
        [`GET /_matrix/client/v1/media/download/${server}/${mediaId}`],
      );
      assert.equal(hs.membership(roomId, me), 'join');
    });

    test('a forged or altered link is refused; a file the homeserver lacks is 404', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `forge${tag}` });
      const room = roomJid(`forge${tag}`);
      await joinRoom(alice, room, 'a');
      bobActor.send(roomId, { msgtype: 'm.file', body: 'notes.txt', url: bobActor.upload(Buffer.from('notes'), 'text/plain', 'notes.txt') });
      const url = oobUrl(await mediaFrom(alice, `${room}/Bob`));
      const { token, base } = /^(?<base>.*\/media\/)(?<token>[^/]+)\/[^/]+$/.exec(url)!.groups as { token: string; base: string };
      // One character of the token changed.
      const flipped = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21);
      const altered = await fetch(`${base}${flipped}/notes.txt`);
      assert.equal(altered.status, 403);
      assert.match(await altered.text(), /not made by this gateway, or it was altered/);
      const forged = await fetch(`${base}${Buffer.from(JSON.stringify(['matrix', 'alice@localhost', 'mxc://localhost/x'])).toString('base64url')}/x`);
      assert.equal(forged.status, 403);
      assert.equal((await fetch(`${base}not-a-token/x`)).status, 403);
      // The genuine link works, and the text file is a download, not a page of ponte's origin.
      const genuine = await fetch(url);
      assert.equal(await genuine.text(), 'notes');
      assert.match(genuine.headers.get('content-disposition') ?? '', /^attachment;/);
      assert.equal(genuine.headers.get('x-content-type-options'), 'nosniff');

      bobActor.send(roomId, { msgtype: 'm.image', body: 'gone.png', url: `mxc://${HS}/NoSuchMediaHere` });
      const gone = await fetch(oobUrl(await mediaFrom(alice, `${room}/Bob`)));
      assert.equal(gone.status, 404);
      assert.match(await gone.text(), /no such file/);
    });

    test('a homeserver from before v1.11: the file is fetched from /_matrix/media/v3', async () => {
      const oscar = oldHs.as(`@oscar${tag}:${HS}`);
      const roomId = oscar.createRoom({ alias: `old${tag}` });
      const room = roomJid(`old${tag}`);
      await joinRoom(olga, room, 'o');
      const data = Buffer.from('an old-style file');
      const mxc = oscar.upload(data, 'application/octet-stream', 'old.bin');
      oscar.send(roomId, { msgtype: 'm.file', body: 'old.bin', url: mxc, info: { mimetype: 'application/octet-stream', size: data.length } });
      const url = oobUrl(await mediaFrom(olga, `${room}/Oscar`));
      const before = oldHs.requests.length;
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), data);
      const [, server, mediaId] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc)!;
      assert.deepEqual(
        oldHs.requests.slice(before).filter((r) => r.includes('/media/')),
        [`GET /_matrix/media/v3/download/${server}/${mediaId}`],
        'no authenticated media asked of a server that does not offer it',
      );
    });

    test('a sticker comes through as media', async () => {
      const bobActor = hs.as(bob);
      const roomId = bobActor.createRoom({ alias: `stickers${tag}` });
      const room = roomJid(`stickers${tag}`);
      await joinRoom(alice, room, 'a');
      const mxc = bobActor.upload(PNG, 'image/png', 'wave.png');
      bobActor.send(roomId, { body: 'a waving hand', url: mxc, info: { mimetype: 'image/png', size: PNG.length } }, 'm.sticker');
      const sticker = await mediaFrom(alice, `${room}/Bob`);
      assert.equal(sticker.getChild('x', OOB)!.getChildText('desc'), 'a waving hand', 'the sticker\'s description');
      assert.deepEqual(Buffer.from(await (await fetch(oobUrl(sticker))).arrayBuffer()), PNG);
    });

    test('files from XMPP arrive as m.image, m.video and m.audio by their type', async () => {
      const roomId = hs.as(bob).createRoom({ alias: `out${tag}` });
      const room = roomJid(`out${tag}`);
      await joinRoom(alice, room, 'a');
      const expected: Record<string, string> = { '/upload/photo.png': 'm.image', '/upload/clip.mp4': 'm.video', '/upload/voice.ogg': 'm.audio' };
      for (const [index, [path, msgtype]] of Object.entries(expected).entries()) {
        const url = `http://${filesHost}${path}`;
        await alice.send(xml('message', { to: room, type: 'groupchat', id: `o${index}${tag}` }, xml('body', {}, url), xml('x', { xmlns: OOB }, xml('url', {}, url))));
        const name = path.slice('/upload/'.length);
        const event = await hs.waitForEvent(roomId, (e) => e.sender === me && e.content.body === name, 10_000, `${msgtype} ${name}`);
        assert.equal(event.content.msgtype, msgtype);
        assert.deepEqual(event.content.info, { mimetype: UPLOADS[path]!.type, size: UPLOADS[path]!.data.length });
        assert.deepEqual(hs.storedMedia(String(event.content.url))?.data, UPLOADS[path]!.data);
      }
    });
  });
}
