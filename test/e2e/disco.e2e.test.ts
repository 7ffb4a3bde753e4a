// Service discovery (XEP-0030) through real Prosody and ejabberd: the
// gateway's identities and features (which shrink with the network's
// capabilities), its items (command node, servers the user has accounts on),
// rooms with the muc#roominfo form, contacts, occupants, server JIDs, and the
// room directory paged with RSM (XEP-0059).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RoomState } from '../../src/core/rooms.js';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';

const INFO = 'http://jabber.org/protocol/disco#info';
const ITEMS = 'http://jabber.org/protocol/disco#items';
const RSM = 'http://jabber.org/protocol/rsm';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

const info = (to: string, node?: string) => xml('iq', { type: 'get', to }, xml('query', { xmlns: INFO, node }));
const items = (to: string, ...children: XmlElement[]) => xml('iq', { type: 'get', to }, xml('query', { xmlns: ITEMS }, ...children));
const rsm = (max: number, position?: { after?: string; before?: string }) =>
  xml(
    'set',
    { xmlns: RSM },
    xml('max', {}, String(max)),
    position?.after !== undefined ? xml('after', {}, position.after) : null,
    position?.before !== undefined ? xml('before', {}, position.before) : null,
  );

function features(reply: XmlElement): string[] {
  return reply.getChild('query', INFO)!.getChildren('feature').map((f) => f.attrs.var!);
}
function identities(reply: XmlElement): string[] {
  return reply.getChild('query', INFO)!.getChildren('identity').map((i) => `${i.attrs.category}/${i.attrs.type}/${i.attrs.name ?? ''}`);
}
function errorOf(reply: XmlElement): { condition: string; text: string } {
  assert.equal(reply.attrs.type, 'error', reply.toString());
  const error = reply.getChild('error')!;
  const condition = error.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')!.name;
  return { condition, text: error.getChildText('text', STANZAS) ?? '' };
}
function formValues(query: XmlElement, formType: string): Record<string, string> {
  const form = query.getChildren('x', 'jabber:x:data').find((x) => x.getChildren('field').some((f) => f.attrs.var === 'FORM_TYPE' && f.getChildText('value') === formType));
  assert.ok(form, `no ${formType} form in ${query.toString()}`);
  return Object.fromEntries(form.getChildren('field').map((f) => [f.attrs.var!, f.getChildText('value') ?? '']));
}

for (const [kind, start] of SERVERS) {
  describe(`service discovery through ${kind}`, () => {
    let t: TestGateway;
    let minimal: TestGateway;
    let alice: TestXmppClient;

    before(async () => {
      // The second: a network with few capabilities (contacts only) and nothing to ask for.
      [t, minimal] = await Promise.all([startTestGateway(start), startTestGateway(start, { capabilities: ['contacts'], minimal: true })]);
      alice = await t.client('alice');
    });
    after(async () => {
      await Promise.all([t?.stop(), minimal?.stop()]);
    });

    test('the gateway: identities and the features the network supports', async () => {
      const reply = await alice.iq(info(TEST_DOMAIN));
      assert.deepEqual(identities(reply).sort(), ['conference/text/Test network gateway', 'gateway/test/Test network gateway']);
      const all = features(reply);
      for (const feature of [
        INFO,
        ITEMS,
        'urn:xmpp:ping',
        'jabber:iq:version',
        'urn:xmpp:time',
        'jabber:iq:register',
        'jabber:iq:gateway',
        'http://jabber.org/protocol/commands',
        'http://jabber.org/protocol/muc',
        'vcard-temp',
        'jabber:x:data',
      ]) {
        assert.ok(all.includes(feature), `${feature} in ${all.join(' ')}`);
      }
      assert.equal(new Set(all).size, all.length, 'no feature twice');
    });

    test('a network declaring fewer capabilities advertises fewer features', async () => {
      const bob = await minimal.client('bob');
      const full = features(await alice.iq(info(TEST_DOMAIN)));
      const reply = await bob.iq(info(TEST_DOMAIN));
      const few = features(reply);
      assert.deepEqual(identities(reply), ['gateway/test/Test network gateway']);
      for (const gone of ['http://jabber.org/protocol/muc', 'jabber:iq:gateway']) {
        assert.ok(full.includes(gone) && !few.includes(gone), gone);
      }
      assert.ok(few.every((f) => full.includes(f)), 'nothing new appears');

      const fullContact = features(await alice.iq(info(`carol@${TEST_DOMAIN}`)));
      const fewContact = features(await bob.iq(info(`carol@${TEST_DOMAIN}`)));
      for (const gone of [
        'http://jabber.org/protocol/chatstates',
        'urn:xmpp:message-correct:0',
        'urn:xmpp:reactions:0',
        'urn:xmpp:message-retract:1',
        'vcard-temp',
      ]) {
        assert.ok(fullContact.includes(gone) && !fewContact.includes(gone), gone);
      }
      // No room directory where the network cannot list rooms.
      const listing = errorOf(await bob.iqRaw(items(`server.test@${TEST_DOMAIN}`)));
      assert.equal(listing.condition, 'feature-not-implemented');
      assert.match(listing.text, /cannot list the rooms/);
    });

    test('the gateway items: the command node, and the servers the user has accounts on', async () => {
      const before = (await alice.iq(items(TEST_DOMAIN))).getChild('query', ITEMS)!.getChildren('item');
      assert.deepEqual(
        before.map((i) => [i.attrs.jid, i.attrs.node]),
        [[TEST_DOMAIN, 'http://jabber.org/protocol/commands']],
      );
      const { store } = t.gateway.ponte;
      const user = await store.users.getOrCreate(alice.bareJid);
      await store.accounts.upsert(user.id, 'test', 'irc.example.test', { password: 'x' });
      await store.accounts.upsert(user.id, 'test', 'Not A Server!', { password: 'x' });
      try {
        const after = (await alice.iq(items(TEST_DOMAIN))).getChild('query', ITEMS)!.getChildren('item');
        assert.deepEqual(
          after.map((i) => [i.attrs.jid, i.attrs.node ?? null]),
          [
            [TEST_DOMAIN, 'http://jabber.org/protocol/commands'],
            [`irc.example.test@${TEST_DOMAIN}`, null],
          ],
        );
      } finally {
        await store.accounts.remove(user.id, 'test', 'irc.example.test');
        await store.accounts.remove(user.id, 'test', 'Not A Server!');
      }
    });

    test('a room: conference identity, MUC features and the muc#roominfo form', async () => {
      t.world.room('#info', { name: 'Info room', description: 'All about info', subject: { text: 'Today: info' } });
      t.world.remoteJoin('#info', 'dave');
      t.world.remoteJoin('#info', 'erin');
      const reply = await alice.iq(info(`#info@${TEST_DOMAIN}`));
      assert.deepEqual(identities(reply), ['conference/text/Info room']);
      const all = features(reply);
      for (const feature of ['http://jabber.org/protocol/muc', 'muc_unsecured', 'muc_public', 'muc_semianonymous']) {
        assert.ok(all.includes(feature), `${feature} in ${all.join(' ')}`);
      }
      assert.ok(!all.includes('muc_passwordprotected'));
      assert.ok(!all.includes('muc_nonanonymous'));
      const roominfo = formValues(reply.getChild('query', INFO)!, 'http://jabber.org/protocol/muc#roominfo');
      assert.equal(roominfo['muc#roominfo_description'], 'All about info');
      assert.equal(roominfo['muc#roominfo_subject'], 'Today: info');
      assert.equal(roominfo['muc#roominfo_occupants'], '2');

      t.world.room('#secret', { password: 'sesame' });
      const secret = features(await alice.iq(info(`#secret@${TEST_DOMAIN}`)));
      assert.ok(secret.includes('muc_passwordprotected') && !secret.includes('muc_unsecured'));
    });

    test('a room the network does not have is item-not-found', async () => {
      const error = errorOf(await alice.iqRaw(info(`#nowhere@${TEST_DOMAIN}`)));
      assert.equal(error.condition, 'item-not-found');
      assert.match(error.text, /#nowhere/);
    });

    test('a contact is a client with the network features', async () => {
      const reply = await alice.iq(info(`carol@${TEST_DOMAIN}`));
      assert.deepEqual(identities(reply), ['client/pc/']);
      const all = features(reply);
      for (const feature of ['http://jabber.org/protocol/chatstates', 'urn:xmpp:receipts', 'urn:xmpp:message-correct:0', 'urn:xmpp:reactions:0']) {
        assert.ok(all.includes(feature), feature);
      }
      const items = (await alice.iq(xml('iq', { type: 'get', to: `carol@${TEST_DOMAIN}` }, xml('query', { xmlns: ITEMS })))).getChild('query', ITEMS)!;
      assert.equal(items.getChildren('item').length, 0);
    });

    test('occupants: only for someone in the room, and only if the occupant is there', async () => {
      const outsider = errorOf(await alice.iqRaw(info(`#occupied@${TEST_DOMAIN}/frank`)));
      assert.equal(outsider.condition, 'bad-request');
      // Put alice in the room as the MUC module would after a join.
      const gateway = t.gateway.ponte.core.gateway(TEST_DOMAIN)!;
      const session = await t.gateway.ponte.core.openSession(gateway, alice.bareJid);
      const room = new RoomState({ kind: 'room', id: '#occupied' }, `#occupied@${TEST_DOMAIN}`, 'alice');
      room.setParticipant({ nick: 'frank', role: 'participant', affiliation: 'none' });
      room.resources.add(alice.jid);
      session.rooms.set('#occupied', room);
      try {
        const frank = await alice.iq(info(`#occupied@${TEST_DOMAIN}/frank`));
        assert.deepEqual(identities(frank), ['client/pc/']);
        assert.deepEqual(features(frank), features(await alice.iq(info(`carol@${TEST_DOMAIN}`))));
        const nobody = errorOf(await alice.iqRaw(info(`#occupied@${TEST_DOMAIN}/nobody`)));
        assert.equal(nobody.condition, 'item-not-found');
        // XEP-0045 §7.2.4: the nick in use in the room; nothing for a room the user is not in.
        assert.deepEqual(identities(await alice.iq(info(`#occupied@${TEST_DOMAIN}`, 'x-roomuser-item'))), ['conference/text/alice']);
        assert.deepEqual(identities(await alice.iq(info(`#info@${TEST_DOMAIN}`, 'x-roomuser-item'))), []);
      } finally {
        session.rooms.delete('#occupied');
      }
    });

    test('a network server is the conference service of its rooms', async () => {
      const reply = await alice.iq(info(`server.test@${TEST_DOMAIN}`));
      assert.deepEqual(identities(reply), ['conference/text/server.test']);
      assert.ok(features(reply).includes(RSM));
    });

    test('the room directory pages with RSM: forward, backward, last page, count', async () => {
      for (let i = 0; i < 25; i++) t.world.room(`#rsm${String(i).padStart(2, '0')}`, { name: `Room ${i}` });
      const expected = [...t.world.rooms.keys()].sort((a, b) => a.localeCompare(b)).map((id) => `${id}@${TEST_DOMAIN}`);
      assert.ok(expected.length >= 25);
      const server = `server.test@${TEST_DOMAIN}`;
      const page = async (set: XmlElement) => {
        const query = (await alice.iq(items(server, set))).getChild('query', ITEMS)!;
        const result = query.getChild('set', RSM)!;
        return {
          jids: query.getChildren('item').map((i) => i.attrs.jid!),
          first: result.getChildText('first'),
          firstIndex: result.getChild('first')?.attrs.index,
          last: result.getChildText('last'),
          count: Number(result.getChildText('count')),
        };
      };
      const seen: string[] = [];
      let position: string | undefined;
      const pages = [];
      for (;;) {
        const current = await page(rsm(10, position === undefined ? undefined : { after: position }));
        assert.equal(current.count, expected.length);
        if (current.jids.length === 0) break;
        assert.ok(current.jids.length <= 10);
        assert.equal(current.first, current.jids[0]);
        assert.equal(current.last, current.jids[current.jids.length - 1]);
        assert.equal(Number(current.firstIndex), seen.length);
        seen.push(...current.jids);
        pages.push(current);
        position = current.last!;
        if (seen.length >= expected.length) break;
      }
      assert.deepEqual(seen, expected);
      assert.equal(pages.length, Math.ceil(expected.length / 10));

      const last = await page(rsm(10, { before: '' }));
      assert.deepEqual(last.jids, expected.slice(-10));
      const previous = await page(rsm(10, { before: pages[1]!.first! }));
      assert.deepEqual(previous.jids, pages[0]!.jids);

      const count = (await alice.iq(items(server, rsm(0)))).getChild('query', ITEMS)!;
      assert.equal(count.getChildren('item').length, 0);
      assert.equal(count.getChild('set', RSM)!.getChildText('count'), String(expected.length));

      const unknown = errorOf(await alice.iqRaw(items(server, rsm(10, { after: `#gone@${TEST_DOMAIN}` }))));
      assert.equal(unknown.condition, 'item-not-found');
    });

    test('unknown nodes are item-not-found', async () => {
      assert.equal(errorOf(await alice.iqRaw(info(TEST_DOMAIN, 'no-such-node'))).condition, 'item-not-found');
      assert.equal(errorOf(await alice.iqRaw(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: ITEMS, node: 'nope' })))).condition, 'item-not-found');
    });
  });
}
