// IRC authentication end to end, through Prosody and ejabberd with a real
// XMPP client, on a real InspIRCd 3 with Atheme services: TLS with the
// certificate verified against networks.irc.caFile (and an untrusted
// certificate refused, never a plain-text fallback), SASL PLAIN (and a wrong
// password as a not-authorized join), NickServ IDENTIFY without SASL, the
// server password (PASS), SASL EXTERNAL with a client certificate the user
// stored, WEBIRC with a stable host per user, and occupants' vCards from
// extended-join and account-notify (real name, services account). All
// settings are made with the ad-hoc "configure" command on the server JID.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { webircIdentity } from '../../src/networks/irc/auth.js';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { connectIrc, makeSelfSignedCert, registerAccount, startInspircd, startNgircd, type IrcConnection, type IrcServer } from '../harness/irc-server.js';
import { removeOnExit, tempDir } from '../harness/process.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { configure, joinRoom, openSettings, STANZAS } from './irc-settings-adhoc.js';

const IRC_DOMAIN = 'irc.localhost';
const SERVER = '127.0.0.1';
const SERVER_JID = `${SERVER}@${IRC_DOMAIN}`;
const roomJid = (channel: string) => `${channel}%${SERVER}@${IRC_DOMAIN}`;

const nickOfPrefixLower = (prefix: string | undefined) => (prefix ?? '').split('!')[0]!.toLowerCase();

function joinError(error: XmlElement | undefined): { condition: string; text: string } {
  assert.ok(error, 'the join was refused');
  const element = error.getChild('error')!;
  const condition = element.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')!.name;
  return { condition, text: element.getChildText('text', STANZAS) ?? '' };
}

let inspircd: IrcServer;
let ngircd: IrcServer;
let caFile: string;
const SERVER_PASSWORD = 'open-sesame-pass';

before(async () => {
  [inspircd, ngircd] = await Promise.all([startInspircd({ services: true, serverPassword: SERVER_PASSWORD, clientCertificates: true }), startNgircd()]);
  // Trust InspIRCd's self-signed certificate only; ngircd's stays untrusted.
  const dir = tempDir('ponte-ca');
  removeOnExit(dir);
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, readFileSync(inspircd.certPath));
});
after(async () => {
  await Promise.all([inspircd?.stop(), ngircd?.stop()]);
});

for (const [kind, start] of SERVERS) {
  describe(`IRC authentication through ${kind} and InspIRCd + Atheme`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const ircClients: IrcConnection[] = [];
    const watcher = async () => {
      const conn = await connectIrc(inspircd, `watch${tag}${ircClients.length}`);
      ircClients.push(conn);
      return conn;
    };
    const whois = async (irc: IrcConnection, nick: string) => {
      irc.clear();
      irc.send(`WHOIS ${nick}`);
      const lines: Array<{ command: string; params: string[] }> = [];
      for (;;) {
        const m = await irc.waitFor((l) => /^(3\d\d|4\d\d|671)$/.test(l.command), 10_000, `WHOIS ${nick}`);
        lines.push(m);
        if (m.command === '318' || m.command === '401') return lines;
      }
    };
    const leave = async (client: TestXmppClient, channel: string, nick: string) => {
      await client.send(xml('presence', { to: `${roomJid(channel)}/${nick}`, type: 'unavailable' }));
      await client.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${nick}` && s.attrs.type === 'unavailable', 10_000);
    };

    before(async () => {
      t = await startTestGateway(start, {
        env: {
          PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${inspircd.tlsPort}`,
          PONTE_NETWORKS_IRC_CA_FILE: caFile,
          PONTE_NETWORKS_IRC_WEBIRC: `${SERVER}=${inspircd.webircPassword}`,
        },
      });
      alice = await t.client(`alice${tag}`);
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
    });

    test('TLS is verified against caFile; an untrusted certificate fails the join and nothing falls back to plain text', async () => {
      // The same server name, pointed at ngircd's TLS port: a certificate ponte does not trust.
      await configure(alice, SERVER_JID, { port: String(ngircd.tlsPort) });
      const refused = await joinRoom(alice, roomJid(`#tls${tag}`), `alice${tag}`);
      const { text } = joinError(refused.error);
      assert.match(text, /certificate/i);
      await configure(alice, SERVER_JID, { port: '' });
      // The configured port speaks TLS only: joining proves the handshake and the verification passed.
      const joined = await joinRoom(alice, roomJid(`#tls${tag}`), `alice${tag}`);
      assert.equal(joined.error, undefined, joined.error?.toString());
      await leave(alice, `#tls${tag}`, `alice${tag}`);
    });

    test('SASL PLAIN logs in to the services account; a wrong SASL password is a not-authorized join error', async () => {
      const account = `sasl${tag}`;
      await registerAccount(inspircd, account, 'sasl-right-pw');
      await configure(alice, SERVER_JID, { sasl_mechanism: 'PLAIN', sasl_account: account, sasl_password: 'sasl-wrong-pw' });
      const refused = joinError((await joinRoom(alice, roomJid(`#sasl${tag}`), `alice${tag}`)).error);
      assert.equal(refused.condition, 'not-authorized');
      assert.match(refused.text, /SASL/);

      await configure(alice, SERVER_JID, { sasl_password: 'sasl-right-pw' });
      const joined = await joinRoom(alice, roomJid(`#sasl${tag}`), `alice${tag}`);
      assert.equal(joined.error, undefined, joined.error?.toString());
      const info = await whois(await watcher(), `alice${tag}`);
      const loggedIn = info.find((m) => m.command === '330');
      assert.equal(loggedIn?.params[2], account, 'WHOIS shows the account');
      await leave(alice, `#sasl${tag}`, `alice${tag}`);
      await configure(alice, SERVER_JID, { sasl_mechanism: 'none', sasl_account: '', sasl_password: '-' });
      assert.ok(!t.gateway.logs().some((line) => line.includes('sasl-right-pw') || line.includes('sasl-wrong-pw')), 'no password in the logs');
    });

    test('NickServ IDENTIFY after connecting when there is no SASL', async () => {
      const nick = `ns${tag}`;
      await registerAccount(inspircd, nick, 'nickserv-pw');
      await configure(alice, SERVER_JID, { nick, nickserv_password: 'nickserv-pw' });
      const joined = await joinRoom(alice, roomJid(`#ns${tag}`), 'whatever');
      assert.equal(joined.error, undefined, joined.error?.toString());
      // The join waited for the services' answer, so the account is there at once.
      const info = await whois(await watcher(), nick);
      assert.equal(info.find((m) => m.command === '330')?.params[2], nick);
      await leave(alice, `#ns${tag}`, nick);
      await configure(alice, SERVER_JID, { nick: '', nickserv_password: '-' });
    });

    test('the server password (PASS): refused is a not-authorized join error, accepted connects', async () => {
      await configure(alice, SERVER_JID, { port: String(inspircd.passwordPort), password: 'not-the-password' });
      const refused = joinError((await joinRoom(alice, roomJid(`#pass${tag}`), `alice${tag}`)).error);
      assert.equal(refused.condition, 'not-authorized');
      assert.match(refused.text, /password/);
      await configure(alice, SERVER_JID, { password: SERVER_PASSWORD });
      const joined = await joinRoom(alice, roomJid(`#pass${tag}`), `alice${tag}`);
      assert.equal(joined.error, undefined, joined.error?.toString());
      await leave(alice, `#pass${tag}`, `alice${tag}`);
      await configure(alice, SERVER_JID, { port: '', password: '-' });
    });

    test('SASL EXTERNAL with a stored client certificate: its fingerprint is shown, NickServ CERT ADD takes it, the next connection logs in with it', async () => {
      const nick = `ext${tag}`;
      await registerAccount(inspircd, nick, 'ext-pw');
      const dir = tempDir('ponte-client-cert');
      removeOnExit(dir);
      const { certPath, keyPath } = await makeSelfSignedCert(dir);
      const pem = `${readFileSync(certPath, 'utf8')}${readFileSync(keyPath, 'utf8')}`.split('\n').filter((line) => line !== '');
      await configure(alice, SERVER_JID, { nick, client_certificate: pem, nickserv_password: 'ext-pw', after_connect: ['PRIVMSG NickServ :CERT ADD'] });
      const fingerprint = execFileSync('openssl', ['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' })
        .split('=')[1]!.trim().replace(/:/g, '').toLowerCase();
      const form = await openSettings(alice, SERVER_JID);
      assert.deepEqual(form.values.get('client_certificate'), [], 'the certificate and key are not shown back');
      assert.match(form.descs.get('client_certificate')!, new RegExp(fingerprint));

      // First connection: NickServ IDENTIFY, then CERT ADD of the certificate this connection presented.
      assert.equal((await joinRoom(alice, roomJid(`#ext${tag}`), 'whatever')).error, undefined);
      const added = await alice.waitFor((s) => s.is('message') && (s.attrs.from ?? '').startsWith(`nickserv%${SERVER}@`) && /added/i.test(s.getChildText('body') ?? ''), 10_000);
      assert.match(added.getChildText('body')!, new RegExp(fingerprint, 'i'));
      await leave(alice, `#ext${tag}`, nick);

      // Then SASL EXTERNAL alone: no password at all.
      await configure(alice, SERVER_JID, { sasl_mechanism: 'EXTERNAL', nickserv_password: '-', after_connect: [] });
      assert.equal((await joinRoom(alice, roomJid(`#ext${tag}`), 'whatever')).error, undefined);
      const info = await whois(await watcher(), nick);
      assert.equal(info.find((m) => m.command === '330')?.params[2], nick);
      await leave(alice, `#ext${tag}`, nick);
      await configure(alice, SERVER_JID, { sasl_mechanism: 'none', nick: '', client_certificate: '-' });
    });

    test('WEBIRC: the IRC server sees a stable host of each user, not the gateway\'s address', async () => {
      const bob = await t.client(`bob${tag}`);
      const channel = `#webirc${tag}`;
      assert.equal((await joinRoom(alice, roomJid(channel), `alice${tag}`)).error, undefined);
      assert.equal((await joinRoom(bob, roomJid(channel), `bob${tag}`)).error, undefined);
      const irc = await watcher();
      const hostOf = async (nick: string) => (await whois(irc, nick)).find((m) => m.command === '311')?.params[3];
      const aliceHost = await hostOf(`alice${tag}`);
      const bobHost = await hostOf(`bob${tag}`);
      const expected = (jid: string) => Object.values(webircIdentity(jid, IRC_DOMAIN));
      assert.ok(expected(alice.bareJid).includes(aliceHost!), `alice's host ${aliceHost} is her WEBIRC host`);
      assert.ok(expected(bob.bareJid).includes(bobHost!), `bob's host ${bobHost} is his WEBIRC host`);
      assert.notEqual(aliceHost, bobHost);
      assert.notEqual(aliceHost, '127.0.0.1');
      await leave(alice, channel, `alice${tag}`);
      await leave(bob, channel, `bob${tag}`);
    });

    test('an occupant\'s vCard: FN the real name and the account from extended-join, the account from account-notify after IDENTIFY', async () => {
      const vera = await t.client(`vera${tag}`);
      const channel = `#vcard${tag}`;
      assert.equal((await joinRoom(vera, roomJid(channel), `vera${tag}`)).error, undefined);
      const occupant = (nick: string) => `${roomJid(channel)}/${nick}`;
      const vcardOf = async (nick: string) => {
        const card = (await vera.iq(xml('iq', { to: occupant(nick), type: 'get' }, xml('vCard', { xmlns: 'vcard-temp' })))).getChild('vCard', 'vcard-temp');
        assert.ok(card, `no vCard of ${nick}`);
        return { fn: card.getChildText('FN'), nickname: card.getChildText('NICKNAME'), desc: card.getChildText('DESC') };
      };
      const joinedRoom = (nick: string) => vera.waitFor((s) => s.is('presence') && s.attrs.from === occupant(nick) && s.attrs.type === undefined, 10_000);

      // bob is logged in (SASL) before he joins: his JOIN carries the account and the real name.
      const bobNick = `vbob${tag}`;
      await registerAccount(inspircd, bobNick, 'vbob-pw');
      const bob = await connectIrc(inspircd, bobNick, { sasl: { account: bobNick, password: 'vbob-pw' }, realname: 'Bob the Builder' });
      ircClients.push(bob);
      bob.send(`JOIN ${channel}`);
      await joinedRoom(bobNick);
      assert.deepEqual(await vcardOf(bobNick), { fn: 'Bob the Builder', nickname: bobNick, desc: `IRC account: ${bobNick}` });

      // carol joins without an account, then identifies: ACCOUNT tells the channel.
      const carolNick = `vcarol${tag}`;
      await registerAccount(inspircd, carolNick, 'vcarol-pw');
      const carol = await connectIrc(inspircd, carolNick, { realname: 'Carol Cole' });
      ircClients.push(carol);
      carol.send(`JOIN ${channel}`);
      await joinedRoom(carolNick);
      assert.deepEqual(await vcardOf(carolNick), { fn: 'Carol Cole', nickname: carolNick, desc: null });
      carol.send('PRIVMSG NickServ :IDENTIFY vcarol-pw');
      await carol.waitFor((m) => m.command === 'NOTICE' && nickOfPrefixLower(m.prefix) === 'nickserv' && /identified/i.test(m.params[1] ?? ''), 10_000, 'identified');
      // The server relays in order: once carol's next line has reached the room, so has her ACCOUNT.
      carol.send(`PRIVMSG ${channel} :logged in`);
      await vera.waitFor((s) => s.is('message') && s.attrs.from === occupant(carolNick) && s.getChildText('body') === 'logged in', 10_000);
      assert.deepEqual(await vcardOf(carolNick), { fn: 'Carol Cole', nickname: carolNick, desc: `IRC account: ${carolNick}` });
    });
  });
}
