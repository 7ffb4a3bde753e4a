// Proves the end-to-end test harness itself: every throw-away server starts,
// answers a real client, comes back after restart() on the same port, and
// stops. Each server is started inside a test (not a before hook, which would
// only mark the other tests "cancelled"): a server that cannot start FAILS,
// with its output in the error, and so does every test that needs it.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { startProsody, startEjabberd, type XmppServer } from '../harness/xmpp-server.js';
import { connectClient, xml, type TestXmppClient } from '../harness/xmpp-client.js';
import {
  startNgircd,
  startInspircd,
  connectIrc,
  registerAccount,
  type IrcServer,
  type IrcConnection,
} from '../harness/irc-server.js';

const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const COMPONENTS = ['irc.localhost', 'matrix.localhost', 'extra.localhost'];

const T = { timeout: 60_000 };

/**
 * XEP-0114 handshake as `domain`. With `until`, also waits for the server to
 * send something matching it after the handshake (e.g. the XEP-0356 privilege
 * advertisement). Resolves with what the server sent after the handshake.
 */
function componentHandshake(server: XmppServer, domain: string, secret: string, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.componentPorts[domain] ?? server.componentPort });
    let data = '';
    let state: 'header' | 'handshake' | 'after' = 'header';
    let done = false;
    const timer = setTimeout(
      () => finish(new Error(`component ${domain}: timed out in state ${state}${until ? ` waiting for ${until}` : ''}; got: ${data}`)),
      10_000,
    );
    function finish(err: Error | null) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(data);
    }
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error(`component ${domain}: connection closed in state ${state}; got: ${data}`)));
    socket.on('connect', () => {
      socket.write(
        `<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`,
      );
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('stream:error')) return finish(new Error(`component ${domain}: ${data}`));
      if (state === 'header') {
        const id = /<stream:stream[^>]*\sid=['"]([^'"]+)['"]/.exec(data)?.[1];
        if (!id) return;
        state = 'handshake';
        data = '';
        socket.write(`<handshake>${createHash('sha1').update(id + secret).digest('hex')}</handshake>`);
        return;
      }
      if (state === 'handshake') {
        const handshake = /<handshake\s*\/>|<handshake><\/handshake>/;
        if (!handshake.test(data)) return;
        state = 'after';
        data = data.replace(handshake, '');
      }
      if (!until || until.test(data)) finish(null);
    });
  });
}

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} did not start`);
  return value;
}

for (const [kind, start] of [
  ['prosody', startProsody],
  ['ejabberd', startEjabberd],
] as const) {
  describe(`${kind} harness`, () => {
    let server: XmppServer | undefined;
    const clients: TestXmppClient[] = [];

    after(async () => {
      await Promise.all(clients.map((c) => c.stop()));
      await server?.stop();
    });

    async function loginAndDisco(s: XmppServer, resource: string): Promise<TestXmppClient> {
      const client = await connectClient(s, 'alice', 'alice-pw', resource);
      clients.push(client);
      assert.equal(client.jid, `alice@localhost/${resource}`);
      assert.equal(client.raw.isSecure(), false, 'plain TCP, no STARTTLS');
      const reply = await client.iq(xml('iq', { type: 'get', to: s.domain }, xml('query', { xmlns: DISCO_INFO })));
      assert.equal(reply.attrs.type, 'result');
      assert.equal(reply.attrs.from, 'localhost');
      const identity = reply.getChild('query', DISCO_INFO)?.getChild('identity');
      assert.equal(identity?.attrs.category, 'server', reply.toString());
      return client;
    }

    test('starts on loopback ports with the requested components', T, async () => {
      const t0 = Date.now();
      server = await start({ components: COMPONENTS });
      const s = server;
      console.log(`# ${kind} ready in ${Date.now() - t0} ms (dir ${s.dir})`);
      assert.equal(s.kind, kind);
      assert.equal(s.domain, 'localhost');
      assert.equal(s.host, '127.0.0.1');
      assert.deepEqual(s.components, COMPONENTS);
      assert.notEqual(s.c2sPort, s.componentPort);
      assert.deepEqual(Object.keys(s.componentPorts), COMPONENTS);
      assert.equal(s.componentPort, s.componentPorts[COMPONENTS[0]!]);
    });

    test('a registered user logs in and gets disco#info from localhost', T, async () => {
      const s = must(server, kind);
      await s.registerUser('alice', 'alice-pw');
      await loginAndDisco(s, 'one');
    });

    test('iq errors: iq() rejects, iqRaw() returns them; remote domains refused at once (no s2s, no DNS)', T, async () => {
      const s = must(server, kind);
      const client = clients[0] ?? (await loginAndDisco(s, 'errors'));
      const query = () => xml('query', { xmlns: DISCO_INFO });
      await assert.rejects(client.iq(xml('iq', { type: 'get', to: 'nobody@localhost' }, query())), { name: 'StanzaError' });
      const t0 = Date.now();
      const remote = await client.iqRaw(xml('iq', { type: 'get', to: 'bob@example.com' }, query()), 5_000);
      assert.equal(remote.attrs.type, 'error', remote.toString());
      assert.ok(Date.now() - t0 < 2_000, `remote domain took ${Date.now() - t0} ms to be refused`);
      assert.deepEqual(client.pending().filter((el) => el.is('iq')), [], 'iq replies are not left in the buffer');
    });

    test('every component domain can connect; privileges are advertised', T, async () => {
      const s = must(server, kind);
      const [first, ...rest] = s.components;
      const advert = await componentHandshake(s, first!, s.componentSecret, /<\/privilege>/);
      assert.match(advert, /<privilege[^>]*xmlns=['"]urn:xmpp:privilege:[12]['"]/, advert);
      assert.match(advert, /<perm[^>]*access=['"]roster['"][^>]*type=['"]both['"]|<perm[^>]*type=['"]both['"][^>]*access=['"]roster['"]/, advert);
      assert.match(advert, /<perm[^>]*access=['"]message['"]/, advert);
      for (const domain of rest) await componentHandshake(s, domain, s.componentSecret);
      await assert.rejects(componentHandshake(s, first!, 'wrong-secret'), /not-authorized|stream:error/);
    });

    test('restart() comes back on the same ports with the same accounts', T, async () => {
      const s = must(server, kind);
      const ports = [s.c2sPort, { ...s.componentPorts }];
      await Promise.all(clients.splice(0).map((c) => c.stop()));
      await s.restart();
      assert.deepEqual([s.c2sPort, s.componentPorts], ports);
      await loginAndDisco(s, 'two');
      await componentHandshake(s, s.components[1]!, s.componentSecret);
    });
  });
}

describe('ngircd harness', () => {
  let server: IrcServer | undefined;
  const conns: IrcConnection[] = [];

  after(async () => {
    await Promise.all(conns.map((c) => c.close()));
    await server?.stop();
  });

  test('starts', T, async () => {
    const t0 = Date.now();
    server = await startNgircd();
    console.log(`# ngircd ready in ${Date.now() - t0} ms (dir ${server.dir})`);
  });

  test('a client gets 001 on the plain and the TLS port', T, async () => {
    const s = must(server, 'ngircd');
    assert.equal(s.kind, 'ngircd');
    assert.equal(s.services, false);
    const plain = await connectIrc(s, 'bob');
    conns.push(plain);
    assert.equal(plain.welcome?.command, '001');
    assert.equal(plain.welcome?.prefix, 'irc.localhost');
    const tls = await connectIrc(s, 'bobtls', { tls: true });
    conns.push(tls);
    assert.equal(tls.welcome?.command, '001');
  });

  test('WEBIRC sets the user IP', T, async () => {
    const s = must(server, 'ngircd');
    const conn = await connectIrc(s, 'webuser', {
      webirc: { password: s.webircPassword!, hostname: '127.0.0.9', ip: '127.0.0.9' },
    });
    conns.push(conn);
    assert.match(conn.welcome?.params[1] ?? '', /@127\.0\.0\.9$/);
  });

  test('restart() comes back on the same port', T, async () => {
    const s = must(server, 'ngircd');
    const port = s.port;
    await Promise.all(conns.splice(0).map((c) => c.close()));
    await s.restart();
    assert.equal(s.port, port);
    const conn = await connectIrc(s, 'bob');
    conns.push(conn);
    assert.equal(conn.welcome?.command, '001');
  });
});

describe('inspircd + atheme harness', () => {
  let server: IrcServer | undefined;
  const conns: IrcConnection[] = [];

  after(async () => {
    await Promise.all(conns.map((c) => c.close()));
    await server?.stop();
  });

  test('starts with Atheme linked', T, async () => {
    const t0 = Date.now();
    server = await startInspircd({ services: true });
    console.log(`# inspircd + atheme ready in ${Date.now() - t0} ms (dir ${server.dir})`);
  });

  test('a client gets 001; SASL PLAIN is offered', T, async () => {
    const s = must(server, 'inspircd');
    assert.equal(s.kind, 'inspircd');
    assert.equal(s.services, true);
    const conn = await connectIrc(s, 'carol', { caps: ['server-time'] });
    conns.push(conn);
    assert.equal(conn.welcome?.command, '001');
    assert.equal(conn.welcome?.prefix, 'irc.localhost');
    // sasl=PLAIN appears only while Atheme is linked.
    assert.equal(conn.capsOffered['sasl'], 'PLAIN', JSON.stringify(conn.capsOffered));
  });

  test('NickServ account, then SASL PLAIN on a second connection (903)', T, async () => {
    const s = must(server, 'inspircd');
    await registerAccount(s, 'alice', 'alice-pw1');
    const conn = await connectIrc(s, 'alice_', { tls: true, sasl: { account: 'alice', password: 'alice-pw1' } });
    conns.push(conn);
    assert.equal(conn.account, 'alice');
    assert.equal(conn.welcome?.command, '001');
    await assert.rejects(connectIrc(s, 'mallory', { sasl: { account: 'alice', password: 'wrong' } }), / 904 /);
  });

  test('restart() keeps the port and the services database', T, async () => {
    const s = must(server, 'inspircd');
    const port = s.port;
    await Promise.all(conns.splice(0).map((c) => c.close()));
    await s.restart();
    assert.equal(s.port, port);
    const conn = await connectIrc(s, 'alice__', { sasl: { account: 'alice', password: 'alice-pw1' } });
    conns.push(conn);
    assert.equal(conn.account, 'alice');
  });
});
