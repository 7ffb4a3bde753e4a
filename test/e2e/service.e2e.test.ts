// What every gateway domain answers whatever the network, through both
// servers: software version (XEP-0092), ping (XEP-0199), entity time (XEP-0202).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient } from '../harness/xmpp-client.js';
import { VERSION } from '../../src/version.js';

for (const [kind, start] of SERVERS) {
  describe(`gateway services through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    before(async () => {
      t = await startTestGateway(start);
      alice = await t.client('alice');
    });
    after(async () => t?.stop());

    test('XEP-0092 software version', async () => {
      const result = await alice.iq(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: 'jabber:iq:version' })));
      const query = result.getChild('query', 'jabber:iq:version');
      assert.equal(query?.getChildText('name'), 'ponte');
      assert.equal(query?.getChildText('version'), VERSION);
    });

    test('XEP-0199 ping', async () => {
      const result = await alice.iq(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
      assert.equal(result.attrs.type, 'result');
      assert.equal(result.getChildElements().length, 0);
    });

    test('XEP-0202 entity time, within a minute of ours', async () => {
      const result = await alice.iq(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('time', { xmlns: 'urn:xmpp:time' })));
      const time = result.getChild('time', 'urn:xmpp:time');
      assert.equal(time?.getChildText('tzo'), 'Z');
      const utc = Date.parse(time?.getChildText('utc') ?? '');
      assert.ok(Math.abs(utc - Date.now()) < 60_000, `utc ${time?.getChildText('utc')}`);
    });
  });
}
