// The homeserver stand-in answers as the Client-Server spec says: shapes,
// error codes, since tokens, transaction-id idempotency, both media paths.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Homeserver, MatrixHttpError, startHomeserver, startWellKnown } from './homeserver.js';
import { makeTestCa } from '../harness/tls.js';

let hs: Homeserver;
before(async () => {
  hs = await startHomeserver();
  hs.registerUser('alice', 'alice-pw', 'Alice');
  hs.registerUser('bob', 'bob-pw', 'Bob');
});
after(async () => {
  await hs.stop();
});

async function call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${hs.url}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const login = async (user: string, password: string) =>
  call('POST', '/_matrix/client/v3/login', undefined, { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, initial_device_display_name: 'test' });

describe('homeserver stand-in', () => {
  test('discovery, versions, login and whoami', async () => {
    assert.equal((await call('GET', '/.well-known/matrix/client')).json['m.homeserver'] !== undefined, true);
    assert.ok(((await call('GET', '/_matrix/client/versions')).json.versions as string[]).includes('v1.13'));
    const wrong = await login('alice', 'nope');
    assert.equal(wrong.status, 403);
    assert.equal(wrong.json.errcode, 'M_FORBIDDEN');
    const ok = await login('alice', 'alice-pw');
    assert.equal(ok.status, 200);
    assert.equal(ok.json.user_id, '@alice:localhost');
    const whoami = await call('GET', '/_matrix/client/v3/account/whoami', ok.json.access_token as string);
    assert.equal(whoami.json.user_id, '@alice:localhost');
    assert.equal(whoami.json.device_id, ok.json.device_id);
    const missing = await call('GET', '/_matrix/client/v3/account/whoami');
    assert.equal(missing.json.errcode, 'M_MISSING_TOKEN');
    const unknown = await call('GET', '/_matrix/client/v3/account/whoami', 'syt_nothing');
    assert.deepEqual([unknown.status, unknown.json.errcode, unknown.json.soft_logout], [401, 'M_UNKNOWN_TOKEN', false]);
  });

  test('sync with since tokens; send is idempotent per transaction id; redaction strips content', async () => {
    const token = (await login('alice', 'alice-pw')).json.access_token as string;
    const roomId = hs.as('@bob:localhost').createRoom({ alias: 'sync', name: 'Sync' });
    const joined = await call('POST', `/_matrix/client/v3/join/${encodeURIComponent('#sync:localhost')}`, token, {});
    assert.equal(joined.json.room_id, roomId);
    const first = await call('GET', '/_matrix/client/v3/sync?timeout=0', token);
    const room = (first.json.rooms as { join: Record<string, { state: { events: Array<{ type: string }> } }> }).join[roomId]!;
    assert.ok(room, 'the joined room is in the initial sync');
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/txn1`;
    const sent = await call('PUT', path, token, { msgtype: 'm.text', body: 'hi' });
    const again = await call('PUT', path, token, { msgtype: 'm.text', body: 'hi' });
    assert.equal(sent.json.event_id, again.json.event_id);
    assert.equal(hs.eventsOf(roomId, 'm.room.message').length, 1);
    const next = await call('GET', `/_matrix/client/v3/sync?timeout=1000&since=${first.json.next_batch as string}`, token);
    const timeline = (next.json.rooms as { join: Record<string, { timeline: { events: Array<{ event_id: string; unsigned: { transaction_id?: string } }> } }> }).join[roomId]!.timeline.events;
    assert.deepEqual(timeline.map((e) => [e.event_id, e.unsigned.transaction_id]), [[sent.json.event_id, 'txn1']]);
    const redacted = await call('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(sent.json.event_id as string)}/r1`, token, {});
    assert.equal(redacted.status, 200);
    assert.deepEqual(hs.eventsOf(roomId, 'm.room.message')[0]!.content, {});
    const notMember = await call('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(hs.as('@bob:localhost').createRoom({ public: false }))}/send/m.room.message/t2`, token, { body: 'x' });
    assert.deepEqual([notMember.status, notMember.json.errcode], [403, 'M_FORBIDDEN']);
    const noAlias = await call('POST', `/_matrix/client/v3/join/${encodeURIComponent('#none:localhost')}`, token, {});
    assert.deepEqual([noAlias.status, noAlias.json.errcode], [404, 'M_NOT_FOUND']);
  });

  test('/context gives a token to page back from an event with /messages', async () => {
    const token = (await login('alice', 'alice-pw')).json.access_token as string;
    const bob = hs.as('@bob:localhost');
    const roomId = bob.createRoom({ alias: 'context' });
    await call('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, token, {});
    const ids = [1, 2, 3, 4].map((n) => bob.say(roomId, `m${n}`));
    const room = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;
    const context = await call('GET', `${room}/context/${encodeURIComponent(ids[2]!)}?limit=0`, token);
    assert.equal((context.json.event as { event_id: string }).event_id, ids[2]);
    assert.deepEqual([context.json.events_before, context.json.events_after], [[], []]);
    const back = await call('GET', `${room}/messages?dir=b&limit=2&from=${context.json.start as string}`, token);
    assert.deepEqual((back.json.chunk as Array<{ content: { body: string } }>).map((e) => e.content.body), ['m2', 'm1']);
    const around = await call('GET', `${room}/context/${encodeURIComponent(ids[2]!)}?limit=2`, token);
    assert.deepEqual((around.json.events_before as Array<{ event_id: string }>).map((e) => e.event_id), [ids[1]]);
    assert.deepEqual((around.json.events_after as Array<{ event_id: string }>).map((e) => e.event_id), [ids[3]]);
    const unknown = await call('GET', `${room}/context/${encodeURIComponent('$nothing')}`, token);
    assert.deepEqual([unknown.status, unknown.json.errcode], [404, 'M_NOT_FOUND']);
  });

  test('rate limits carry retry_after_ms; expired tokens say soft_logout', async () => {
    const token = (await login('bob', 'bob-pw')).json.access_token as string;
    hs.failNext({ path: /\/account\/whoami$/ }, new MatrixHttpError(429, 'M_LIMIT_EXCEEDED', 'Too many requests', { retry_after_ms: 1500 }));
    const limited = await call('GET', '/_matrix/client/v3/account/whoami', token);
    assert.deepEqual([limited.status, limited.json.errcode, limited.json.retry_after_ms], [429, 'M_LIMIT_EXCEEDED', 1500]);
    assert.equal((await call('GET', '/_matrix/client/v3/account/whoami', token)).status, 200);
    hs.expireTokens('@bob:localhost', true);
    const expired = await call('GET', '/_matrix/client/v3/account/whoami', token);
    assert.deepEqual([expired.status, expired.json.errcode, expired.json.soft_logout], [401, 'M_UNKNOWN_TOKEN', true]);
  });

  test('media: upload on v3, download on v1 (authenticated); v3 refuses media uploaded after the freeze', async () => {
    const token = (await login('alice', 'alice-pw')).json.access_token as string;
    const upload = await fetch(`${hs.url}/_matrix/media/v3/upload?filename=a.txt`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
      body: 'hello media',
    });
    const uri = ((await upload.json()) as { content_uri: string }).content_uri;
    const [, server, id] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(uri)!;
    const v1 = await fetch(`${hs.url}/_matrix/client/v1/media/download/${server}/${id}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(await v1.text(), 'hello media');
    assert.equal(v1.headers.get('content-type'), 'text/plain');
    const v1NoAuth = await fetch(`${hs.url}/_matrix/client/v1/media/download/${server}/${id}`);
    assert.equal(v1NoAuth.status, 401);
    assert.equal(((await v1NoAuth.json()) as { errcode: string }).errcode, 'M_MISSING_TOKEN');
    // Uploaded after the freeze of unauthenticated media: not on the legacy path.
    const v3 = await fetch(`${hs.url}/_matrix/media/v3/download/${server}/${id}`);
    assert.deepEqual([v3.status, ((await v3.json()) as { errcode: string }).errcode], [404, 'M_NOT_FOUND']);
  });

  test('a homeserver from before v1.11: no authenticated media, files on v3 without a token', async () => {
    const old = await startHomeserver({ legacyMedia: true });
    try {
      const versions = (await (await fetch(`${old.url}/_matrix/client/versions`)).json()) as { versions: string[] };
      assert.equal(versions.versions.at(-1), 'v1.10');
      assert.ok(!versions.versions.includes('v1.11'));
      const [, server, id] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(old.storeMedia(Buffer.from('old media'), 'text/plain'))!;
      const v1 = await fetch(`${old.url}/_matrix/client/v1/media/download/${server}/${id}`, { headers: { Authorization: 'Bearer x' } });
      assert.deepEqual([v1.status, ((await v1.json()) as { errcode: string }).errcode], [404, 'M_UNRECOGNIZED']);
      const v3 = await fetch(`${old.url}/_matrix/media/v3/download/${server}/${id}`);
      assert.equal(await v3.text(), 'old media');
    } finally {
      await old.stop();
    }
  });

  test("presence: PUT sets it, others see it in m.presence; /sync's set_presence marks the poller (offline: not at all)", async () => {
    hs.registerUser('pres', 'pres-pw');
    const token = (await login('pres', 'pres-pw')).json.access_token as string;
    const bobToken = (await login('bob', 'bob-pw')).json.access_token as string;
    const roomId = hs.as('@bob:localhost').createRoom({ alias: 'presence' });
    hs.as('@pres:localhost').join(roomId);
    const status = async () => (await call('GET', '/_matrix/client/v3/presence/%40pres%3Alocalhost/status', bobToken)).json;
    await call('GET', '/_matrix/client/v3/sync?timeout=0&set_presence=offline', token);
    assert.equal((await status()).presence, 'offline');
    await call('GET', '/_matrix/client/v3/sync?timeout=0&set_presence=unavailable', token);
    assert.equal((await status()).presence, 'unavailable');
    await call('GET', '/_matrix/client/v3/sync?timeout=0', token);
    assert.equal((await status()).presence, 'online');
    const bad = await call('GET', '/_matrix/client/v3/sync?timeout=0&set_presence=busy', token);
    assert.deepEqual([bad.status, bad.json.errcode], [400, 'M_INVALID_PARAM']);
    const bobSince = (await call('GET', '/_matrix/client/v3/sync?timeout=0&set_presence=offline', bobToken)).json.next_batch as string;
    assert.equal((await call('PUT', '/_matrix/client/v3/presence/%40pres%3Alocalhost/status', token, { presence: 'unavailable', status_msg: 'lunch' })).status, 200);
    const others = await call('PUT', '/_matrix/client/v3/presence/%40bob%3Alocalhost/status', token, { presence: 'online' });
    assert.deepEqual([others.status, others.json.errcode], [403, 'M_FORBIDDEN']);
    const seen = await call('GET', `/_matrix/client/v3/sync?timeout=1000&set_presence=offline&since=${bobSince}`, bobToken);
    const events = (seen.json.presence as { events: Array<{ sender: string; content: { presence: string; status_msg?: string } }> }).events;
    assert.deepEqual(events.filter((e) => e.sender === '@pres:localhost').map((e) => [e.content.presence, e.content.status_msg]), [['unavailable', 'lunch']]);
  });

  test('a server name delegates through .well-known over HTTPS with a certificate of a test CA', async () => {
    const ca = await makeTestCa();
    const wellKnown = await startWellKnown(hs.url, { tls: { key: ca.key, cert: ca.cert } });
    try {
      assert.match(wellKnown.url, /^https:\/\/localhost:\d+$/);
      const { readFile } = await import('node:fs/promises');
      const { get } = await import('node:https');
      const caPem = await readFile(ca.caPath);
      const body = await new Promise<string>((resolve, reject) => {
        get(`${wellKnown.url}/.well-known/matrix/client`, { ca: caPem }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      assert.deepEqual(JSON.parse(body), { 'm.homeserver': { base_url: hs.url } });
      await assert.rejects(fetch(`${wellKnown.url}/.well-known/matrix/client`), 'without the CA the certificate is not trusted');
    } finally {
      await wellKnown.stop();
    }
  });

  test('lazy_load_members: a sync carries only the members of timeline senders (and the user); /state has them all', async () => {
    const token = (await login('alice', 'alice-pw')).json.access_token as string;
    const roomId = hs.as('@bob:localhost').createRoom({ alias: 'crowd' });
    for (let i = 0; i < 30; i++) {
      hs.registerUser(`crowd${i}`, 'pw');
      hs.as(`@crowd${i}:localhost`).join(roomId);
    }
    await call('POST', `/_matrix/client/v3/join/${encodeURIComponent('#crowd:localhost')}`, token, {});
    hs.as('@crowd7:localhost').say(roomId, 'hello crowd');
    type Joined = { join: Record<string, { state: { events: Array<{ type: string; state_key?: string }> }; timeline: { events: Array<{ sender: string }> } }> };
    const members = (room: Joined['join'][string]) => room.state.events.filter((e) => e.type === 'm.room.member').map((e) => e.state_key).sort();
    const filter = (lazy: boolean) => encodeURIComponent(JSON.stringify({ room: { rooms: [roomId], state: { lazy_load_members: lazy }, timeline: { limit: 1 } } }));
    const lazy = (await call('GET', `/_matrix/client/v3/sync?timeout=0&filter=${filter(true)}`, token)).json.rooms as Joined;
    const room = lazy.join[roomId]!;
    assert.deepEqual(room.timeline.events.map((e) => e.sender), ['@crowd7:localhost']);
    assert.deepEqual(members(room), ['@alice:localhost', '@crowd7:localhost'], "the timeline sender's membership and the user's own, none of the 29 others");
    const full = (await call('GET', `/_matrix/client/v3/sync?timeout=0&filter=${filter(false)}`, token)).json.rooms as Joined;
    assert.equal(members(full.join[roomId]!).length, 32);
    const state = await fetch(`${hs.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(((await state.json()) as Array<{ type: string }>).filter((e) => e.type === 'm.room.member').length, 32);
  });

  test('holdNext keeps a request waiting until released', async () => {
    const token = (await login('alice', 'alice-pw')).json.access_token as string;
    const hold = hs.holdNext({ method: 'GET', path: /\/account\/whoami$/ });
    let answered = false;
    const pending = call('GET', '/_matrix/client/v3/account/whoami', token).then((r) => ((answered = true), r));
    await hold.held;
    assert.equal((await call('GET', '/_matrix/client/versions')).status, 200, 'other requests go on');
    assert.equal(answered, false);
    hold.release();
    assert.equal((await pending).json.user_id, '@alice:localhost');
  });
});
