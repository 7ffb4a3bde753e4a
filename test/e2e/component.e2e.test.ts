// ponte as an XEP-0114 component of real Prosody and real ejabberd, seen by a
// real XMPP client: disco#info through the server, stanza errors from the one
// error boundary, /health and /metrics, and coming back by itself after the
// XMPP server restarts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProsody, startEjabberd, type XmppServer } from '../harness/xmpp-server.js';
import { connectClient, xml, type TestClient } from '../harness/xmpp-client.js';
import { startPonte, type TestPonte } from '../harness/ponte.js';

const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

function errorCondition(stanza: any): string | undefined {
  const error = stanza.getChild('error');
  return error?.getChildElements().find((child: any) => child.attrs.xmlns === STANZAS && child.name !== 'text')?.name;
}

for (const [kind, start] of [
  ['Prosody', startProsody],
  ['ejabberd', startEjabberd],
] as const) {
  describe(`ponte as a component of ${kind}`, () => {
    let server: XmppServer;
    let gateway: TestPonte;
    let client: TestClient;

    before(async () => {
      server = await start();
      await server.registerUser('alice', 'alicepw');
      gateway = await startPonte(server);
      await gateway.ponte.waitOnline(30_000);
      client = await connectClient(server, 'alice', 'alicepw');
    });

    after(async () => {
      await client?.stop().catch(() => undefined);
      await gateway?.stop();
      await server?.stop();
    });

    test('both component domains are online and /health says ready', async () => {
      const health = await getJson(`${gateway.ponte.httpUrl}/health`);
      assert.equal(health.status, 200, JSON.stringify(health.body));
      assert.equal(health.body.status, 'ready');
      assert.equal(health.body.components['irc.localhost'].state, 'online');
      assert.equal(health.body.components['matrix.localhost'].state, 'online');
      assert.deepEqual(health.body.store, { engine: 'pglite', ok: true });
      assert.equal(health.body.networks.irc.domain, 'irc.localhost');
    });

    for (const [domain, type] of [
      ['irc.localhost', 'irc'],
      ['matrix.localhost', 'matrix'],
    ] as const) {
      test(`a client's disco#info to ${domain} is answered by ponte: gateway/${type}`, async () => {
        const result = await client.iq(xml('iq', { type: 'get', to: domain }, xml('query', { xmlns: DISCO_INFO })));
        const query = result.getChild('query', DISCO_INFO);
        assert.ok(query, result.toString());
        const identity = query.getChild('identity');
        assert.equal(identity?.attrs.category, 'gateway');
        assert.equal(identity?.attrs.type, type);
        const features = query.getChildren('feature').map((f: any) => f.attrs.var);
        assert.ok(features.includes(DISCO_INFO), features.join(' '));
        assert.ok(features.includes('urn:xmpp:ping'));
      });
    }

    test('an unknown address gets item-not-found with a readable text', async () => {
      const reply = await client.iqRaw(xml('iq', { type: 'get', to: 'nobody@irc.localhost' }, xml('query', { xmlns: DISCO_INFO })));
      assert.equal(reply.attrs.type, 'error');
      assert.equal(errorCondition(reply), 'item-not-found');
      assert.match(reply.getChild('error')!.getChildText('text', STANZAS) ?? '', /does not name anything on irc/);
    });

    test('a message to the gateway itself is answered (a help text), never dropped', async () => {
      client.send(xml('message', { to: 'irc.localhost', type: 'chat', id: 'm1' }, xml('body', {}, 'hello')));
      const answer = await client.waitFor((s: any) => s.name === 'message' && s.attrs.from === 'irc.localhost' && s.getChildText('body'));
      assert.notEqual(answer.attrs.type, 'error');
      assert.match(answer.getChildText('body') ?? '', /irc\.localhost/);
    });

    test('/metrics counts stanzas in and out and stanza errors', async () => {
      const text = await (await fetch(`${gateway.ponte.httpUrl}/metrics`)).text();
      assert.match(text, /ponte_stanzas_in_total\{kind="iq",domain="irc.localhost"\} [1-9]/);
      assert.match(text, /ponte_stanzas_out_total\{kind="iq",domain="irc.localhost"\} [1-9]/);
      assert.match(text, /ponte_stanza_errors_total\{condition="item-not-found",domain="irc.localhost"\} 1/);
      assert.match(text, /ponte_component_connected\{domain="matrix.localhost"\} 1/);
      assert.match(text, /ponte_store_query_seconds_count\{operation="store.ping"\} [1-9]/);
      assert.match(text, /ponte_sessions\{network="irc"\} 0/);
      assert.match(text, /ponte_network_connections\{network="matrix"\} 0/);
    });

    test('the component secret never reaches the log', () => {
      const logs = gateway.logs().join('\n');
      assert.ok(logs.includes('component online'), 'the log has content');
      assert.ok(!logs.includes(server.componentSecret), 'secret found in the log');
    });

    test(`ponte comes back by itself after ${kind} restarts`, async () => {
      await client.stop();
      await server.restart();
      // While the server was down /health must have said so; after, ready again.
      await until('ponte back online', async () => {
        const health = await getJson(`${gateway.ponte.httpUrl}/health`);
        return health.status === 200 ? health : undefined;
      });
      client = await connectClient(server, 'alice', 'alicepw');
      const result = await client.iq(xml('iq', { type: 'get', to: 'irc.localhost' }, xml('query', { xmlns: DISCO_INFO })));
      assert.equal(result.getChild('query', DISCO_INFO)?.getChild('identity')?.attrs.type, 'irc');
      const reconnects = gateway.logs().filter((line) => line.includes('component disconnected; reconnecting'));
      assert.ok(reconnects.length >= 2, `expected both domains to log the disconnect, got ${reconnects.length}`);
    });
  });
}
