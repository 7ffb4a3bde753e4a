// Logging in to Matrix as an administrator's users would: ponte runs as its
// own process (the ponte command, configured from the environment) behind
// Prosody and ejabberd, so that it trusts a throw-away CA through
// NODE_EXTRA_CA_CERTS, as a deployment trusts a private CA. The user gives a
// bare server name (`localhost:PORT`): ponte finds the homeserver through
// https://localhost:PORT/.well-known/matrix/client (served with a
// certificate of that CA) and logs in with an access token, as accounts that
// use single sign-on must. A token revoked for good (M_UNKNOWN_TOKEN,
// soft_logout false) reaches the user as a message saying how to log in
// again, and doing so works.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { SERVERS } from '../harness/gateway.js';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSelfSignedCert } from '../harness/irc-server.js';
import { freePort } from '../harness/ports.js';
import { makeTestCa, type TestCa } from '../harness/tls.js';
import { connectClient, xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import type { XmppServer } from '../harness/xmpp-server.js';
import { startHomeserver, startWellKnown, type Homeserver } from '../matrix/homeserver.js';
import { registrationForm } from '../harness/matrix-e2e.js';

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const COMMANDS = 'http://jabber.org/protocol/commands';
const DOMAIN = 'matrix.localhost';
const HS = 'localhost';

const bareOf = (jid: string | undefined) => (jid ?? '').split('/')[0]!;
const roomJid = (alias: string) => `#${alias}%${HS}@${DOMAIN}`;

const command = (node: string) => xml('iq', { type: 'set', to: DOMAIN }, xml('command', { xmlns: COMMANDS, node, action: 'execute' }));
const noteOf = (reply: XmlElement) => reply.getChild('command', COMMANDS)?.getChild('note')?.text() ?? '';

/** Joins a MUC room; resolves with the own presence (status 110) or the error. */
async function joinRoom(client: TestXmppClient, jid: string, nick: string): Promise<XmlElement> {
  await client.send(xml('presence', { to: `${jid}/${nick}` }, xml('x', { xmlns: MUC })));
  return client.waitFor(
    (s) =>
      s.is('presence') &&
      bareOf(s.attrs.from) === jid &&
      (s.attrs.type === 'error' || (s.getChild('x', MUC_USER)?.getChildren('status') ?? []).some((c) => c.attrs.code === '110')),
    20_000,
  );
}

interface PonteProcess {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** The ponte command in its own process, against `server`, trusting the test CA. */
async function spawnPonte(server: XmppServer, ca: TestCa): Promise<PonteProcess> {
  const httpPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_EXTRA_CA_CERTS: ca.caPath,
      PONTE_XMPP_HOST: server.host,
      PONTE_XMPP_PORT: String(server.componentPort),
      PONTE_XMPP_SECRET: server.componentSecret,
      PONTE_NETWORKS_IRC_ENABLED: 'false',
      PONTE_NETWORKS_MATRIX_COMPONENT_PORT: String(server.componentPorts[DOMAIN]),
      PONTE_NETWORKS_MATRIX_ALLOW: 'localhost',
      PONTE_STORE_DATA_DIR: 'memory://',
      PONTE_STORE_ENCRYPTION_KEY: 'matrix-login-test-key-0123',
      PONTE_HTTP_HOST: '127.0.0.1',
      PONTE_HTTP_PORT: String(httpPort),
      PONTE_LOG_FORMAT: 'json',
      PONTE_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  let ready = false;
  while (Date.now() < deadline && child.exitCode === null) {
    // 200 once the store is open and every component is connected.
    const status = await fetch(`http://127.0.0.1:${httpPort}/health`).then((r) => r.status, () => 0);
    if (status === 200) {
      ready = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!ready) {
    await stop();
    throw new Error(`ponte did not become ready:\n${output}`);
  }
  return { child, output: () => output, stop };
}

let hs: Homeserver;
let ca: TestCa;
let wellKnown: { url: string; stop(): Promise<void> };
/** The same, with a self-signed certificate nobody trusts. */
let untrusted: { url: string; stop(): Promise<void> };
before(async () => {
  ca = await makeTestCa();
  hs = await startHomeserver();
  wellKnown = await startWellKnown(hs.url, { tls: { key: ca.key, cert: ca.cert } });
  const self = await makeSelfSignedCert(await mkdtemp(join(tmpdir(), 'ponte-untrusted-')));
  untrusted = await startWellKnown(hs.url, { tls: { key: await readFile(self.keyPath), cert: await readFile(self.certPath) } });
});
after(async () => {
  await untrusted?.stop();
  await wellKnown?.stop();
  await hs?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`Matrix login through ${kind}, ponte as its own process`, () => {
    let server: XmppServer;
    let ponte: PonteProcess;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const me = `@sso${tag}:${HS}`;
    const bob = `@bob${tag}:${HS}`;
    const serverName = () => new URL(wellKnown.url).host; // localhost:PORT

    before(async () => {
      hs.registerUser(`sso${tag}`, 'unused-because-sso', `Sso ${tag}`);
      hs.registerUser(`bob${tag}`, 'bob-secret', 'Bob');
      server = await start({ components: [DOMAIN] });
      ponte = await spawnPonte(server, ca);
      await server.registerUser('alice', 'alice-pw');
      alice = await connectClient(server, 'alice', 'alice-pw');
    });
    after(async () => {
      await alice?.stop().catch(() => undefined);
      await ponte?.stop();
      await server?.stop();
    });

    test('a bare server name is resolved through its https .well-known; an access token logs in (single sign-on accounts)', async () => {
      assert.match(serverName(), /^localhost:\d+$/);
      // A certificate ponte does not trust is said to be the reason, not "unreachable".
      const refused = await alice.iqRaw(registrationForm({ homeserver: new URL(untrusted.url).host, token: 'syt_whatever' }), 30_000);
      assert.equal(refused.attrs.type, 'error', refused.toString());
      assert.ok(refused.getChild('error')?.getChild('remote-server-not-found', 'urn:ietf:params:xml:ns:xmpp-stanzas'), refused.toString());
      assert.match(refused.getChild('error')?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas') ?? '', /TLS certificate is not accepted \(\w+/);

      const logins = hs.logins.length;
      const token = hs.issueToken(me, `SSO${tag}DEVICE`);
      await alice.iq(registrationForm({ homeserver: serverName(), token }), 30_000);
      assert.equal(hs.logins.length, logins, 'no password login: the given token is used');

      const roomId = hs.as(bob).createRoom({ alias: `sso${tag}` });
      const self = await joinRoom(alice, roomJid(`sso${tag}`), 'whatever');
      assert.notEqual(self.attrs.type, 'error', `${self.toString()}\n${ponte.output()}`);
      assert.equal(self.attrs.from, `${roomJid(`sso${tag}`)}/Sso ${tag}`);
      assert.equal(hs.membership(roomId, me), 'join');

      await alice.send(xml('message', { to: roomJid(`sso${tag}`), type: 'groupchat', id: `sso1${tag}` }, xml('body', {}, 'logged in by token')));
      await hs.waitForEvent(roomId, (e) => e.sender === me && e.content.body === 'logged in by token', 10_000, 'the message sent with the token');
      hs.as(bob).say(roomId, 'welcome');
      const incoming = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${roomJid(`sso${tag}`)}/Bob` && s.getChildText('body') === 'welcome', 10_000);
      assert.equal(incoming.attrs.type, 'groupchat');
    });

    test('a token revoked for good (soft_logout false) tells the user how to log in again; a new token and Reconnect do', async () => {
      hs.expireTokens(me, false);
      const notice = await alice.waitFor((s) => s.is('message') && s.attrs.from === DOMAIN && /revoked/.test(s.getChildText('body') ?? ''), 40_000);
      const text = notice.getChildText('body')!;
      assert.match(text, /register with the Matrix gateway again .*new access token.*"Reconnect"/);
      assert.doesNotMatch(text, /soft logout/);
      const status = noteOf(await alice.iq(command('status')));
      assert.match(status, /failed/, status);

      const token = hs.issueToken(me, `SSO${tag}DEVICE2`);
      await alice.iq(registrationForm({ homeserver: serverName(), token }), 30_000);
      assert.match(noteOf(await alice.iq(command('reconnect'), 30_000)), /online/);
      const roomId = hs.as(bob).createRoom({ alias: `back${tag}` });
      const self = await joinRoom(alice, roomJid(`back${tag}`), 'x');
      assert.notEqual(self.attrs.type, 'error', self.toString());
      await alice.send(xml('message', { to: roomJid(`back${tag}`), type: 'groupchat' }, xml('body', {}, 'with the new token')));
      await hs.waitForEvent(roomId, (e) => e.sender === me && e.content.body === 'with the new token', 10_000, 'a message after logging in again');
    });
  });
}
