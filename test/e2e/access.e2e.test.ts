// Access control: only the domains and JIDs the admin lists may use a
// network; everyone else gets `forbidden` with a text, except for disco#info.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { xml } from '../harness/xmpp-client.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

for (const [kind, start] of SERVERS) {
  describe(`access control through ${kind}`, () => {
    let t: TestGateway;
    before(async () => {
      t = await startTestGateway(start, { allow: ['alice@localhost'] });
    });
    after(async () => t?.stop());

    test('a user not on the list may discover the gateway, and nothing else', async () => {
      const eve = await t.client('eve');
      const info = await eve.iqRaw(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
      assert.equal(info.attrs.type, 'result');
      const items = await eve.iqRaw(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' })));
      assert.equal(items.attrs.type, 'error');
      const error = items.getChild('error')!;
      assert.ok(error.getChild('forbidden', STANZAS), items.toString());
      assert.match(error.getChildText('text', STANZAS) ?? '', /not allowed to use test\.localhost/);
      await eve.send(xml('message', { to: `#room@${TEST_DOMAIN}`, type: 'groupchat', id: 'e1' }, xml('body', {}, 'hi')));
      const bounce = await eve.waitFor((s) => s.name === 'message' && s.attrs.id === 'e1');
      assert.equal(bounce.attrs.type, 'error');
      assert.ok(bounce.getChild('error')?.getChild('forbidden', STANZAS));
    });

    test('a listed user gets through', async () => {
      const alice = await t.client('alice');
      const items = await alice.iqRaw(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' })));
      assert.equal(items.attrs.type, 'result', items.toString());
    });
  });
}
