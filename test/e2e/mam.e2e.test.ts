// Message Archive Management (XEP-0313) over ponte's own archive, through
// real Prosody and ejabberd: a room's archive paged with RSM, the one-to-one
// archive on the gateway domain with its filters, the #extended fields, the
// errors, tombstones, ids that survive a restart, retention at start, and an
// archive turned off (ids only).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { startPonte, type TestPonte } from '../harness/ponte.js';
import { removeOnExit, tempDir } from '../harness/process.js';
import { connectClient, xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { createTestNetwork } from '../networks/test-network.js';
import type { NetworkAddress } from '../../src/networks/types.js';

const MAM = 'urn:xmpp:mam:2';
const RSM = 'http://jabber.org/protocol/rsm';
const FORWARD = 'urn:xmpp:forward:0';
const DELAY = 'urn:xmpp:delay';
const SID = 'urn:xmpp:sid:0';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const USER = 'alice@localhost';
const jidOf = (local: string) => `${local}@${TEST_DOMAIN}`;

interface Fields {
  with?: string;
  start?: string;
  end?: string;
  'after-id'?: string;
  'before-id'?: string;
  ids?: string[];
  [other: string]: string | string[] | undefined;
}

interface Paging {
  max?: number;
  after?: string;
  before?: string;
  flip?: boolean;
}

interface Result {
  id: string;
  /** The archived message. */
  message: XmlElement;
  stamp: string;
  from: string;
}

interface Fin {
  complete: boolean;
  first?: string;
  last?: string;
  count?: number;
}

let queries = 0;

function queryElement(to: string, queryId: string, fields: Fields, paging: Paging): XmlElement {
  const formFields = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => xml('field', { var: name }, ...(Array.isArray(value) ? value : [value!]).map((v) => xml('value', {}, v))));
  const form =
    formFields.length > 0
      ? xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, MAM)), ...formFields)
      : null;
  const set =
    paging.max !== undefined || paging.after !== undefined || paging.before !== undefined
      ? xml(
          'set',
          { xmlns: RSM },
          paging.max !== undefined ? xml('max', {}, String(paging.max)) : null,
          paging.after !== undefined ? xml('after', {}, paging.after) : null,
          paging.before !== undefined ? xml('before', {}, paging.before) : null,
        )
      : null;
  return xml('iq', { type: 'set', to }, xml('query', { xmlns: MAM, queryid: queryId }, form, set, paging.flip ? xml('flip-page') : null));
}

/** Runs a query; resolves with the results (in the order received) and the <fin/>, or the error reply. */
async function mam(client: TestXmppClient, to: string, fields: Fields = {}, paging: Paging = {}): Promise<{ results: Result[]; fin: Fin } | { error: XmlElement }> {
  const queryId = `q${++queries}`;
  const reply = await client.iqRaw(queryElement(to, queryId, fields, paging));
  const results: Result[] = [];
  for (;;) {
    const next = client.pending().find((s) => s.is('message') && s.getChild('result', MAM)?.attrs.queryid === queryId);
    if (!next) break;
    const taken = await client.waitFor((s) => s === next, 100);
    const result = taken.getChild('result', MAM)!;
    const forwarded = result.getChild('forwarded', FORWARD)!;
    results.push({ id: result.attrs.id!, message: forwarded.getChild('message')!, stamp: forwarded.getChild('delay', DELAY)!.attrs.stamp!, from: taken.attrs.from! });
  }
  if (reply.attrs.type === 'error') return { error: reply };
  const fin = reply.getChild('fin', MAM)!;
  const set = fin.getChild('set', RSM)!;
  const count = set.getChildText('count');
  return {
    results,
    fin: {
      complete: fin.attrs.complete === 'true',
      first: set.getChildText('first') ?? undefined,
      last: set.getChildText('last') ?? undefined,
      count: count === null ? undefined : Number(count),
    },
  };
}

async function ok(query: ReturnType<typeof mam>): Promise<{ results: Result[]; fin: Fin }> {
  const answer = await query;
  if ('error' in answer) throw new Error(`MAM query failed: ${answer.error.toString()}`);
  return answer;
}

async function failed(query: ReturnType<typeof mam>): Promise<{ condition: string | undefined; text: string | null }> {
  const answer = await query;
  if (!('error' in answer)) throw new Error(`MAM query did not fail: ${answer.results.length} results`);
  const error = answer.error.getChild('error')!;
  return {
    condition: error.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')?.name,
    text: error.getChildText('text', STANZAS),
  };
}

const bodies = (results: Result[]) => results.map((r) => r.message.getChildText('body'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function joinRoom(client: TestXmppClient, room: string, nick: string): Promise<void> {
  await client.send(xml('presence', { to: `${jidOf(room)}/${nick}` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })));
  await client.waitFor((s) => s.is('message') && s.attrs.from?.split('/')[0] === jidOf(room) && s.getChild('subject') !== undefined && !s.getChild('body'));
}

for (const [kind, start] of SERVERS) {
  describe(`MAM through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    before(async () => {
      t = await startTestGateway(start);
      alice = await t.client('alice');
    });
    after(async () => t?.stop());

    describe('a room\'s archive', () => {
      const ROOM = '#archive';
      /** Live stanza-ids and ids of the 30 messages, in order. */
      const live: Array<{ stanzaId: string; id: string; body: string }> = [];

      before(async () => {
        t.world.remoteJoin(ROOM, 'bob');
        await joinRoom(alice, ROOM, 'alice');
        for (let i = 1; i <= 29; i++) {
          const text = `m${String(i).padStart(2, '0')}`;
          t.world.remoteSay(ROOM, 'bob', text);
          const got = await alice.waitFor((s) => s.is('message') && s.getChildText('body') === text);
          live.push({ stanzaId: got.getChild('stanza-id', SID)!.attrs.id!, id: got.attrs.id!, body: text });
        }
        await alice.send(xml('message', { to: jidOf(ROOM), type: 'groupchat', id: 'own-30' }, xml('body', {}, 'm30')));
        const reflected = await alice.waitFor((s) => s.is('message') && s.attrs.id === 'own-30');
        live.push({ stanzaId: reflected.getChild('stanza-id', SID)!.attrs.id!, id: 'own-30', body: 'm30' });
      });

      test('paging forward by 10 through 30 messages: the live stanza-ids, in order, complete on the last page', async () => {
        const pages: Result[][] = [];
        let after: string | undefined;
        for (let page = 0; page < 3; page++) {
          const { results, fin } = await ok(mam(alice, jidOf(ROOM), {}, { max: 10, after }));
          assert.equal(results.length, 10);
          assert.equal(fin.count, 30);
          assert.equal(fin.first, results[0]!.id);
          assert.equal(fin.last, results[9]!.id);
          assert.equal(fin.complete, page === 2, `page ${page}`);
          pages.push(results);
          after = fin.last;
        }
        const all = pages.flat();
        assert.deepEqual(all.map((r) => r.id), live.map((m) => m.stanzaId));
        assert.deepEqual(bodies(all), live.map((m) => m.body));
        assert.deepEqual(all.map((r) => r.message.attrs.id), live.map((m) => m.id), 'the id attribute as it was sent live');
        const first = all[0]!;
        assert.equal(first.from, jidOf(ROOM));
        assert.equal(first.message.attrs.from, `${jidOf(ROOM)}/bob`);
        assert.equal(first.message.attrs.type, 'groupchat');
        assert.equal(first.message.attrs.to, undefined, 'XEP-0313 §6.1.2: no to');
        assert.ok(!Number.isNaN(new Date(first.stamp).getTime()));
        assert.equal(all[29]!.message.attrs.from, `${jidOf(ROOM)}/alice`, "the user's own message, from her nick");
      });

      test('the last page with an empty <before/>, then backwards with <before>id</before>', async () => {
        const last = await ok(mam(alice, jidOf(ROOM), {}, { max: 10, before: '' }));
        assert.deepEqual(bodies(last.results), live.slice(20).map((m) => m.body));
        assert.equal(last.fin.complete, false, 'there is more before it');
        const previous = await ok(mam(alice, jidOf(ROOM), {}, { max: 10, before: last.fin.first }));
        assert.deepEqual(bodies(previous.results), live.slice(10, 20).map((m) => m.body));
        const firstPage = await ok(mam(alice, jidOf(ROOM), {}, { max: 15, before: previous.fin.first }));
        assert.deepEqual(bodies(firstPage.results), live.slice(0, 10).map((m) => m.body));
        assert.equal(firstPage.fin.complete, true);
      });

      test('#extended: after-id/before-id, ids, flip-page, metadata; with = room/nick', async () => {
        const between = await ok(mam(alice, jidOf(ROOM), { 'after-id': live[4]!.stanzaId, 'before-id': live[8]!.stanzaId }));
        assert.deepEqual(bodies(between.results), ['m06', 'm07', 'm08']);
        assert.equal(between.fin.complete, true);
        const picked = await ok(mam(alice, jidOf(ROOM), { ids: [live[12]!.stanzaId, live[2]!.stanzaId] }));
        assert.deepEqual(bodies(picked.results), ['m03', 'm13']);
        const flipped = await ok(mam(alice, jidOf(ROOM), {}, { max: 3, flip: true }));
        assert.deepEqual(bodies(flipped.results), ['m03', 'm02', 'm01']);
        assert.equal(flipped.fin.first, live[0]!.stanzaId, 'first/last keep the archive order');
        const mine = await ok(mam(alice, jidOf(ROOM), { with: `${jidOf(ROOM)}/alice` }));
        assert.deepEqual(bodies(mine.results), ['m30']);
        const nobody = await ok(mam(alice, jidOf(ROOM), { with: jidOf('bob') }));
        assert.equal(nobody.results.length, 0);
        const metadata = await alice.iq(xml('iq', { type: 'get', to: jidOf(ROOM) }, xml('metadata', { xmlns: MAM })));
        const meta = metadata.getChild('metadata', MAM)!;
        assert.equal(meta.getChild('start')!.attrs.id, live[0]!.stanzaId);
        assert.equal(meta.getChild('end')!.attrs.id, live[29]!.stanzaId);
        const count = await ok(mam(alice, jidOf(ROOM), {}, { max: 0 }));
        assert.equal(count.results.length, 0);
        assert.equal(count.fin.count, 30);
      });

      test('errors: an unknown id, an unknown field, index paging, a JID without an archive', async () => {
        assert.equal((await failed(mam(alice, jidOf(ROOM), {}, { after: 'no-such-id' }))).condition, 'item-not-found');
        assert.equal((await failed(mam(alice, jidOf(ROOM), { 'before-id': '00000000-0000-4000-8000-000000000000' }))).condition, 'item-not-found');
        assert.equal((await failed(mam(alice, jidOf(ROOM), { ids: [live[0]!.stanzaId, 'nope'] }))).condition, 'item-not-found');
        const unknown = await failed(mam(alice, jidOf(ROOM), { 'include-groupchat': 'true' }));
        assert.equal(unknown.condition, 'feature-not-implemented');
        assert.match(unknown.text ?? '', /include-groupchat/);
        assert.equal((await failed(mam(alice, jidOf(ROOM), { start: 'last tuesday' }))).condition, 'bad-request');
        const contact = await failed(mam(alice, jidOf('bob')));
        assert.equal(contact.condition, 'service-unavailable');
        assert.match(contact.text ?? '', /has no archive/);
        // An id of another archive is not in this one.
        assert.equal((await failed(mam(alice, TEST_DOMAIN, {}, { after: live[0]!.stanzaId }))).condition, 'item-not-found');
        const form = await alice.iq(xml('iq', { type: 'get', to: jidOf(ROOM) }, xml('query', { xmlns: MAM })));
        const vars = form.getChild('query', MAM)!.getChild('x', 'jabber:x:data')!.getChildren('field').map((f) => f.attrs.var);
        assert.deepEqual(vars, ['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids']);
      });

      test('someone else\'s archive of the room is not visible', async () => {
        const carol = await t.client('carol');
        const theirs = await ok(mam(carol, jidOf(ROOM)));
        assert.equal(theirs.results.length, 0);
        assert.equal(theirs.fin.count, 0);
        assert.equal(theirs.fin.complete, true);
      });
    });

    describe('one-to-one archive on the gateway domain', () => {
      let mid: Date;
      before(async () => {
        for (const text of ['c1', 'c2', 'c3']) {
          t.world.remoteDirect('carol', USER, text);
          await alice.waitFor((s) => s.getChildText('body') === text);
        }
        await alice.send(xml('message', { to: jidOf('carol'), type: 'chat', id: 'to-carol' }, xml('body', {}, 'c4 from alice'), xml('request', { xmlns: 'urn:xmpp:receipts' })));
        await alice.waitFor((s) => s.getChild('received', 'urn:xmpp:receipts')?.attrs.id === 'to-carol');
        await sleep(100);
        mid = new Date();
        await sleep(100);
        for (const text of ['d1', 'd2']) {
          t.world.remoteDirect('dave', USER, text);
          await alice.waitFor((s) => s.getChildText('body') === text);
        }
      });

      test('with = a contact: both directions, as the user and the contact', async () => {
        const { results, fin } = await ok(mam(alice, TEST_DOMAIN, { with: jidOf('carol') }));
        assert.deepEqual(bodies(results), ['c1', 'c2', 'c3', 'c4 from alice']);
        assert.equal(fin.complete, true);
        assert.equal(results[0]!.from, TEST_DOMAIN);
        assert.deepEqual([results[0]!.message.attrs.from, results[0]!.message.attrs.to], [jidOf('carol'), USER]);
        assert.deepEqual([results[3]!.message.attrs.from, results[3]!.message.attrs.to], [USER, jidOf('carol')]);
        assert.equal(results[3]!.message.attrs.id, 'to-carol');
        const upper = await ok(mam(alice, TEST_DOMAIN, { with: jidOf('CAROL') }));
        assert.equal(upper.results.length, 4, 'JIDs compare case-insensitively');
      });

      test('start and end', async () => {
        const after = await ok(mam(alice, TEST_DOMAIN, { start: mid.toISOString() }));
        assert.deepEqual(bodies(after.results), ['d1', 'd2']);
        const beforeMid = await ok(mam(alice, TEST_DOMAIN, { with: jidOf('carol'), end: mid.toISOString() }));
        assert.equal(beforeMid.results.length, 4);
        const none = await ok(mam(alice, TEST_DOMAIN, { with: jidOf('dave'), end: mid.toISOString() }));
        assert.equal(none.results.length, 0);
        const window = await ok(mam(alice, TEST_DOMAIN, { start: new Date(mid.getTime() - 60_000).toISOString(), end: mid.toISOString() }));
        assert.ok(bodies(window.results).includes('c4 from alice') && !bodies(window.results).includes('d1'));
      });

      test('a retracted message is a tombstone, followed by the retraction', async () => {
        const id = t.world.remoteDirect('erin', USER, 'regret this');
        await alice.waitFor((s) => s.getChildText('body') === 'regret this');
        t.world.remoteRetract({ kind: 'contact', id: 'erin' }, 'erin', USER, id);
        await alice.waitFor((s) => s.attrs.from === jidOf('erin') && s.getChild('retract', 'urn:xmpp:message-retract:1') !== undefined);
        const { results } = await ok(mam(alice, TEST_DOMAIN, { with: jidOf('erin') }));
        assert.equal(results.length, 2);
        assert.equal(results[0]!.message.getChild('body'), undefined, 'the text is gone');
        assert.ok(results[0]!.message.getChild('retracted', 'urn:xmpp:message-retract:1'));
        assert.equal(results[1]!.message.getChild('retract', 'urn:xmpp:message-retract:1')!.attrs.id, results[0]!.message.attrs.id);
      });
    });
  });

  describe(`archive ids across a restart, retention at start, archive off, through ${kind}`, () => {
    const dir = tempDir('mam-store');
    removeOnExit(dir);
    const { network, world } = createTestNetwork();
    let server: Awaited<ReturnType<typeof start>>;
    let ponte: TestPonte | undefined;
    let alice: TestXmppClient;
    const env = { PONTE_STORE_DATA_DIR: dir, PONTE_ARCHIVE_RETENTION_DAYS: '30' };
    const startGateway = async (extra: Record<string, string> = {}) => {
      ponte = await startPonte(server, { ...env, ...extra }, { extraNetworks: [{ network, domain: TEST_DOMAIN, allow: ['localhost'] }] });
      await ponte.ponte.waitOnline(30_000);
    };

    before(async () => {
      server = await start({ components: ['irc.localhost', 'matrix.localhost', TEST_DOMAIN] });
      await server.registerUser('alice', 'alice-pw');
      await startGateway();
      alice = await connectClient(server, 'alice', 'alice-pw', 'desk');
    });
    after(async () => {
      await alice?.stop();
      await ponte?.stop();
      await server?.stop();
    });

    test('the same message has the same stanza-id live, in MAM, and in MAM after a restart; references still resolve', async () => {
      await alice.send(xml('message', { to: jidOf('frank'), type: 'chat', id: 'hi-frank' }, xml('body', {}, 'hi'), xml('request', { xmlns: 'urn:xmpp:receipts' })));
      await alice.waitFor((s) => s.getChild('received', 'urn:xmpp:receipts')?.attrs.id === 'hi-frank');
      const networkId = world.remoteDirect('frank', USER, 'remember me');
      const live = await alice.waitFor((s) => s.getChildText('body') === 'remember me');
      const stanzaId = live.getChild('stanza-id', SID)!.attrs.id!;
      const before = await ok(mam(alice, TEST_DOMAIN, { with: jidOf('frank') }));
      assert.deepEqual(before.results.map((r) => r.id).slice(-1), [stanzaId]);
      // An old message, past the 30 days of retention: pruned when ponte starts.
      world.remoteDirect('frank', USER, 'ancient');
      await alice.waitFor((s) => s.getChildText('body') === 'ancient');
      await ponte!.ponte.store.archive.settled(); // its row is written before the SQL below ages it
      await ponte!.ponte.store.dataSource.query(`UPDATE archive SET at = now() - interval '40 days' WHERE content->>'body' = 'ancient'`);

      await ponte!.stop();
      await startGateway();

      const after = await ok(mam(alice, TEST_DOMAIN, { with: jidOf('frank') }));
      assert.deepEqual(bodies(after.results), ['hi', 'remember me'], 'the old one is gone');
      assert.deepEqual(after.results.map((r) => r.id), before.results.map((r) => r.id));
      assert.equal(after.results[1]!.message.attrs.id, live.attrs.id);
      // The network id is found again from the id the client kept.
      await alice.send(xml('message', { to: jidOf('frank'), type: 'chat', id: 'react' }, xml('reactions', { xmlns: 'urn:xmpp:reactions:0', id: live.attrs.id! }, xml('reaction', {}, '👍'))));
      const deadline = Date.now() + 5000;
      while (!world.callsOf('react').length && Date.now() < deadline) await sleep(20);
      const react = world.callsOf('react').at(-1)!;
      assert.deepEqual([(react.args[0] as NetworkAddress).id, react.args[1]], ['frank', networkId]);
      // A resend of a message from before the restart is known from the archive: not passed on again.
      const sendsToFrank = () => world.callsOf('send').filter((c) => (c.args[0] as NetworkAddress).id === 'frank').map((c) => (c.args[1] as { xmppId: string }).xmppId);
      const sentBefore = sendsToFrank();
      await alice.send(xml('message', { to: jidOf('frank'), type: 'chat', id: 'hi-frank' }, xml('body', {}, 'hi')));
      await alice.send(xml('message', { to: jidOf('frank'), type: 'chat', id: 'new-frank' }, xml('body', {}, 'new'), xml('request', { xmlns: 'urn:xmpp:receipts' })));
      await alice.waitFor((s) => s.getChild('received', 'urn:xmpp:receipts')?.attrs.id === 'new-frank');
      assert.deepEqual(sendsToFrank(), [...sentBefore, 'new-frank']);
    });

    test('archive turned off: no MAM, but stanza-ids and references still work, and no text is stored', async () => {
      await ponte!.stop();
      await startGateway({ PONTE_ARCHIVE_ENABLED: 'false' });
      await alice.send(xml('message', { to: jidOf('gina'), type: 'chat', id: 'open' }, xml('body', {}, 'hello gina'), xml('request', { xmlns: 'urn:xmpp:receipts' })));
      await alice.waitFor((s) => s.getChild('received', 'urn:xmpp:receipts')?.attrs.id === 'open');
      const networkId = world.remoteDirect('gina', USER, 'secret text');
      const got = await alice.waitFor((s) => s.getChildText('body') === 'secret text');
      assert.ok(got.getChild('stanza-id', SID));
      const off = await failed(mam(alice, TEST_DOMAIN, { with: jidOf('gina') }));
      assert.equal(off.condition, 'service-unavailable');
      await alice.send(xml('message', { to: jidOf('gina'), type: 'chat', id: 'r' }, xml('reactions', { xmlns: 'urn:xmpp:reactions:0', id: got.attrs.id! }, xml('reaction', {}, '🙂'))));
      const deadline = Date.now() + 5000;
      while (world.callsOf('react').at(-1)?.args[1] !== networkId && Date.now() < deadline) await sleep(20);
      assert.equal(world.callsOf('react').at(-1)!.args[1], networkId);
      await ponte!.ponte.store.archive.settled();
      const stored = (await ponte!.ponte.store.dataSource.query(`SELECT content FROM archive WHERE conversation = $1`, [jidOf('gina')])) as Array<{ content: unknown }>;
      assert.equal(stored.length, 3, 'the two messages and the reaction, as ids');
      assert.ok(!JSON.stringify(stored).includes('secret text') && !JSON.stringify(stored).includes('hello gina'), JSON.stringify(stored));
    });
  });
}
