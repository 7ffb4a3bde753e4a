// IRC settings end to end: the ad-hoc "configure" command on the gateway
// domain, on `server@irc.localhost` and on `#chan%server@irc.localhost`,
// through Prosody and ejabberd with a real XMPP client, applied on a real
// ngircd: nick, user name, real name, after-connect commands, channel keys,
// encodings (latin-1 fallback in, per-channel encoding out), the persistence
// flag, secrets never shown back, bad values refused, settings surviving a
// restart of ponte, and the identd answering for ponte's connection (the user
// name set, else a stable per-user name).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { createTestNetwork } from '../networks/test-network.js';
import { connectIrc, startNgircd, type IrcConnection, type IrcServer } from '../harness/irc-server.js';
import { identUsername } from '../../src/networks/irc/auth.js';
import { startPonte } from '../harness/ponte.js';
import { freePort } from '../harness/ports.js';
import { removeOnExit, tempDir } from '../harness/process.js';
import { xml, type TestXmppClient } from '../harness/xmpp-client.js';
import { COMMANDS, configure, configureRefused, joinRoom, openSettings } from './irc-settings-adhoc.js';

const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const IRC_DOMAIN = 'irc.localhost';
const SERVER = '127.0.0.1';
const SERVER_JID = `${SERVER}@${IRC_DOMAIN}`;
const roomJid = (channel: string) => `${channel}%${SERVER}@${IRC_DOMAIN}`;
const prefixNick = (prefix: string | undefined) => (prefix ?? '').split('!')[0]!.toLowerCase();

/** A bare-bones IRC client on a raw socket, for bytes that are not UTF-8. */
async function rawIrc(irc: IrcServer, nick: string, channel: string, key: string): Promise<{ socket: Socket; received: () => Buffer; close: () => void }> {
  const socket = netConnect({ host: irc.host, port: irc.port });
  let buffer = Buffer.alloc(0);
  socket.on('data', (data: Buffer) => {
    buffer = Buffer.concat([buffer, data]);
    for (const line of data.toString('latin1').split('\r\n')) if (line.startsWith('PING ')) socket.write(`PONG ${line.slice(5)}\r\n`);
  });
  socket.write(`NICK ${nick}\r\nUSER ${nick} 0 * :${nick}\r\n`);
  const until = async (text: string) => {
    const end = Date.now() + 10_000;
    while (!buffer.toString('latin1').includes(text)) {
      if (Date.now() > end) throw new Error(`raw IRC client: no "${text}" within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await until(' 001 ');
  socket.write(`JOIN ${channel} ${key}\r\n`);
  await until(' 366 ');
  return { socket, received: () => buffer, close: () => socket.destroy() };
}

/** Local ports of established TCP connections to `port` on 127.0.0.1 (from /proc/net/tcp). */
function connectionsTo(port: number): number[] {
  const out: number[] = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (!local || !remote || state !== '01') continue;
    if (parseInt(remote.split(':')[1]!, 16) === port) out.push(parseInt(local.split(':')[1]!, 16));
  }
  return out;
}

async function identQuery(port: number, query: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => (socket.destroy(), reject(new Error('identd did not answer within 5 s'))), 5_000);
    socket.on('data', (data) => {
      text += data.toString();
      if (text.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text.trim());
      }
    });
    socket.on('error', reject);
    socket.write(`${query}\r\n`);
  });
}

let irc: IrcServer;
before(async () => {
  irc = await startNgircd();
});
after(async () => {
  await irc?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`IRC settings through ${kind} and ngircd`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    let identdPort: number;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const ircClients: IrcConnection[] = [];
    const dataDir = tempDir('ponte-settings');
    removeOnExit(dataDir);
    let env: Record<string, string>;
    const ircAs = async (nick: string, channel: string) => {
      const conn = await connectIrc(irc, `${nick}${tag}${ircClients.length}`);
      ircClients.push(conn);
      conn.send(`JOIN ${channel}`);
      await conn.waitFor((m) => m.command === '366', 10_000, `end of NAMES for ${channel}`);
      return conn;
    };

    before(async () => {
      identdPort = await freePort();
      env = {
        PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain`,
        PONTE_NETWORKS_IRC_IDENTD_PORT: String(identdPort),
        PONTE_NETWORKS_IRC_IDENTD_HOST: '127.0.0.1',
        // A real (PGlite) store on disk, so the restart test reads what was saved.
        PONTE_STORE_DATA_DIR: `${dataDir}/pglite`,
      };
      t = await startTestGateway(start, { env });
      alice = await t.client(`alice${tag}`);
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
    });

    test('server and room JIDs list their "configure" command', async () => {
      for (const jid of [SERVER_JID, roomJid(`#any${tag}`)]) {
        const reply = await alice.iq(xml('iq', { type: 'get', to: jid }, xml('query', { xmlns: DISCO_ITEMS, node: COMMANDS })));
        const items = reply.getChild('query', DISCO_ITEMS)!.getChildren('item');
        assert.deepEqual(items.map((i) => [i.attrs.jid, i.attrs.node]), [[jid, 'configure']]);
      }
    });

    test('nick, user name, real name and after-connect commands apply on the next connection; identd answers with the user name', async () => {
      const channel = `#cfg${tag}`;
      const bob = await ircAs('bob', channel);
      await configure(alice, SERVER_JID, {
        nick: `cfgnick${tag}`,
        username: `cfguser${tag}`,
        realname: 'Alice Liddell',
        after_connect: [`PRIVMSG ${bob.nick} :sent after connecting`],
      });
      const { stanzas, error } = await joinRoom(alice, roomJid(channel), 'ignoredNick');
      assert.equal(error, undefined, error?.toString());
      const self = stanzas.find((s) => s.is('presence') && (s.getChild('x', MUC_USER)?.getChildren('status') ?? []).some((c) => c.attrs.code === '110'));
      assert.equal(self?.attrs.from, `${roomJid(channel)}/cfgnick${tag}`, 'the server setting wins over the join nick');
      const join = await bob.waitFor((m) => m.command === 'JOIN' && prefixNick(m.prefix) === `cfgnick${tag}`, 10_000, 'JOIN of cfgnick');
      assert.match(join.prefix ?? '', new RegExp(`!~?cfguser${tag}@`));
      const after = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === bob.nick, 10_000, 'the after-connect PRIVMSG');
      assert.equal(after.params[1], 'sent after connecting');
      bob.send(`WHOIS cfgnick${tag}`);
      const whois = await bob.waitFor((m) => m.command === '311', 10_000, 'WHOIS 311');
      assert.equal(whois.params[5], 'Alice Liddell');

      // identd: ponte's connection to the server is known, with the user name; others are not.
      const ports = connectionsTo(irc.port);
      const answers = await Promise.all(ports.map((local) => identQuery(identdPort, `${local} , ${irc.port}`)));
      const ours = answers.filter((a) => a.includes('USERID'));
      assert.deepEqual(ours.map((a) => a.replace(/\s+/g, ' ')), ours.map((a) => `${a.split(' : ')[0]!.replace(/\s+/g, ' ')} : USERID : UNIX : cfguser${tag}`));
      assert.equal(ours.length, 1, `one ident answer for ponte's connection: ${answers.join(' | ')}`);
      assert.match(await identQuery(identdPort, `1 , ${irc.port}`), /ERROR : NO-USER/);
      assert.match(await identQuery(identdPort, 'hello'), /ERROR : INVALID-PORT/);
      await alice.send(xml('presence', { to: `${roomJid(channel)}/cfgnick${tag}`, type: 'unavailable' }));
      await bob.waitFor((m) => m.command === 'PART' && prefixNick(m.prefix) === `cfgnick${tag}`, 10_000, 'PART of cfgnick');
      // Back to the defaults for the other tests.
      await configure(alice, SERVER_JID, { nick: '', username: '', realname: '', after_connect: [] });
    });

    test('secrets are never shown back: empty keeps the stored one, "-" removes it', async () => {
      await configure(alice, SERVER_JID, { nickserv_password: 'hunter2-secret' });
      const form = await openSettings(alice, SERVER_JID);
      assert.equal(form.types.get('nickserv_password'), 'text-private');
      assert.deepEqual(form.values.get('nickserv_password'), []);
      assert.match(form.descs.get('nickserv_password')!, /One is stored/);
      await configure(alice, SERVER_JID, { nickserv_password: '' });
      assert.match((await openSettings(alice, SERVER_JID)).descs.get('nickserv_password')!, /One is stored/);
      await configure(alice, SERVER_JID, { nickserv_password: '-' });
      assert.doesNotMatch((await openSettings(alice, SERVER_JID)).descs.get('nickserv_password')!, /One is stored/);
      assert.ok(!t.gateway.logs().some((line) => line.includes('hunter2-secret')), 'the password is in no log line');
    });

    test('bad values are refused with the right condition and a readable text', async () => {
      const lineBreak = await configureRefused(alice, SERVER_JID, { after_connect: ['PRIVMSG x :a\r\nQUIT'] });
      assert.equal(lineBreak.condition, 'bad-request');
      const nick = await configureRefused(alice, SERVER_JID, { nick: 'not a nick' });
      assert.equal(nick.condition, 'not-acceptable');
      assert.match(nick.text, /not a valid IRC nickname/);
      const port = await configureRefused(alice, SERVER_JID, { port: '70000' });
      assert.equal(port.condition, 'not-acceptable');
      const throttle = await configureRefused(alice, SERVER_JID, { throttle_burst: '5' });
      assert.match(throttle.text, /both a burst and a rate/);
      const sasl = await configureRefused(alice, SERVER_JID, { sasl_mechanism: 'PLAIN' });
      assert.match(sasl.text, /needs an account and a password/);
      // A server the admin did not mark /plain may only be reached over TLS.
      const tls = await configureRefused(alice, `irc.example.org@${IRC_DOMAIN}`, { tls: 'false' });
      assert.equal(tls.condition, 'not-allowed');
      assert.match(tls.text, /only be reached over TLS/);
      // And what was valid is kept.
      await configure(alice, SERVER_JID, { throttle_burst: '5', throttle_rate: '0.5', tls: 'false' });
      const form = await openSettings(alice, SERVER_JID);
      assert.deepEqual(form.values.get('throttle_burst'), ['5']);
      assert.deepEqual(form.values.get('throttle_rate'), ['0.5']);
    });

    test('a channel key is used for joins without one; the persistence flag is kept; encodings per channel and the latin-1 fallback', async () => {
      const channel = `#key${tag}`;
      const bob = await ircAs('bob', channel);
      bob.send(`MODE ${channel} +k sesame`);
      await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+k', 10_000, 'MODE +k');
      const refused = await joinRoom(alice, roomJid(channel), `alice${tag}`);
      assert.ok(refused.error?.getChild('error')?.getChild('not-authorized', 'urn:ietf:params:xml:ns:xmpp-stanzas'), refused.error?.toString());

      await configure(alice, roomJid(channel), { key: 'sesame', persistent: 'true', encoding_out: 'iso-8859-1' });
      const form = await openSettings(alice, roomJid(channel));
      assert.deepEqual(form.values.get('key'), [], 'the key is not shown back');
      assert.deepEqual(form.values.get('persistent'), ['true']);
      assert.deepEqual(form.values.get('encoding_out'), ['iso-8859-1']);

      const raw = await rawIrc(irc, `raw${tag}`, channel, 'sesame');
      try {
        const joined = await joinRoom(alice, roomJid(channel), `alice${tag}`);
        assert.equal(joined.error, undefined, joined.error?.toString());
        // In: latin-1 bytes (not UTF-8) are read with the fallback encoding.
        raw.socket.write(Buffer.concat([Buffer.from(`PRIVMSG ${channel} :caf`), Buffer.from([0xe9]), Buffer.from(' cr\xe8me\r\n', 'latin1')]));
        const incoming = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${roomJid(channel)}/raw${tag}` && s.getChild('body') !== undefined, 10_000);
        assert.equal(incoming.getChildText('body'), 'café crème');
        // Out: this channel's output encoding is latin-1.
        await alice.send(xml('message', { to: roomJid(channel), type: 'groupchat' }, xml('body', {}, 'déjà vu')));
        const end = Date.now() + 10_000;
        const expected = Buffer.from('d\xe9j\xe0 vu\r\n', 'latin1');
        while (raw.received().indexOf(expected) < 0) {
          if (Date.now() > end) assert.fail(`no latin-1 "déjà vu" in ${raw.received().toString('latin1').slice(-300)}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } finally {
        raw.close();
      }
      await alice.send(xml('presence', { to: `${roomJid(channel)}/alice${tag}`, type: 'unavailable' }));
    });

    test('the gateway-wide defaults apply where a server sets nothing, and every setting survives a restart of ponte', async () => {
      await configure(alice, IRC_DOMAIN, { nick: `dflt${tag}`, realname: 'Default Name' });
      await configure(alice, SERVER_JID, { throttle_burst: '5', throttle_rate: '0.5' });
      await configure(alice, roomJid(`#key${tag}`), { key: 'sesame', persistent: 'true' });
      const before = await openSettings(alice, SERVER_JID);
      assert.match(before.descs.get('nick')!, new RegExp(`dflt${tag}`));
      await t.gateway.stop();
      // The same components as before (ejabberd balances each user onto one of them).
      const again = await startPonte(t.server, env, { extraNetworks: [{ network: createTestNetwork().network, domain: TEST_DOMAIN, allow: ['localhost'] }] });
      try {
        await again.ponte.waitOnline(30_000);
        const gatewayForm = await openSettings(alice, IRC_DOMAIN);
        assert.deepEqual(gatewayForm.values.get('nick'), [`dflt${tag}`]);
        const serverForm = await openSettings(alice, SERVER_JID);
        assert.deepEqual(serverForm.values.get('throttle_burst'), ['5']);
        const roomForm = await openSettings(alice, roomJid(`#key${tag}`));
        assert.deepEqual(roomForm.values.get('persistent'), ['true']);
        assert.match(roomForm.descs.get('key')!, /One is stored/);

        const channel = `#dflt${tag}`;
        const bob = await ircAs('bob', channel);
        const joined = await joinRoom(alice, roomJid(channel), 'whatever');
        assert.equal(joined.error, undefined, joined.error?.toString());
        await bob.waitFor((m) => m.command === 'JOIN' && prefixNick(m.prefix) === `dflt${tag}`, 10_000, 'JOIN with the default nick');
        // Without a user name set, identd answers a stable name of the user (not the JID).
        const answers = await Promise.all(connectionsTo(irc.port).map((local) => identQuery(identdPort, `${local} , ${irc.port}`)));
        assert.deepEqual(answers.filter((a) => a.includes('USERID')).map((a) => a.split(' : ').at(-1)), [identUsername(alice.bareJid)]);
      } finally {
        await again.stop();
      }
    });
  });
}
