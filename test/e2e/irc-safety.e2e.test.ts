// CR, LF and NUL from XMPP never reach an IRC line, end to end: a real XMPP
// client (through Prosody and ejabberd) sends nick changes, a subject, a kick
// reason, a channel key and stored settings with line breaks in them, written
// as character references (&#13;&#10;) so the XMPP server passes them on as
// they are; a real IRC client on a real ngircd watches what the server
// relays from the gateway's user. Each is either refused with a stanza error
// and a text, or sent as one line; no extra command ever shows on IRC.
// Also: flood control set for one server through its ad-hoc "configure"
// paces a burst on the wire, where the gateway's default would not.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { connectIrc, startNgircd, type IrcConnection, type IrcServer } from '../harness/irc-server.js';
import { xml, type TestXmppClient } from '../harness/xmpp-client.js';
import { bareOf, IRC_DOMAIN, joinRoom, MUC, nickOfPrefix, roomJid, SERVER } from '../harness/irc-e2e.js';
import { configure, configureRefused, errorOf } from './irc-settings-adhoc.js';

const SERVER_JID = `${SERVER}@${IRC_DOMAIN}`;
const MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
const CRLF = '&#13;&#10;';
const LF = '&#10;';
const CR = '&#13;';

/** Writes XML as it is: character references for CR and LF survive the XMPP server (escaped by it on the way on). */
async function sendRaw(client: TestXmppClient, text: string): Promise<void> {
  await (client.raw as unknown as { write(s: string): Promise<void> }).write(text);
}

const groupchat = (channel: string, body: string) => xml('message', { to: roomJid(channel), type: 'groupchat' }, xml('body', {}, body));

let irc: IrcServer;
before(async () => {
  irc = await startNgircd();
});
after(async () => {
  await irc?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`CR, LF and NUL never reach IRC, through ${kind} and ngircd`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const me = `alice${tag}`;
    const channel = `#safe${tag}`;
    let bob: IrcConnection;
    let carol: IrcConnection;
    let sentinels = 0;

    /** A message from alice that bob must see next: everything alice's connection wrote before it has arrived. */
    async function sentinel(): Promise<void> {
      const text = `sentinel ${(sentinels += 1)}`;
      await alice.send(groupchat(channel, text));
      await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === text, 10_000, text);
    }

    /** What bob saw of alice since the start: no QUIT, no NICK, no PRIVMSG but the sentinels, no NOTICE but CTCP replies. */
    function assertNothingInjected(): void {
      const fromAlice = bob.transcript().filter((raw) => raw.toLowerCase().startsWith(`:${me.toLowerCase()}!`));
      const commands = fromAlice.map((raw) => raw.split(' ')[1]);
      assert.deepEqual(
        fromAlice.filter((raw, i) => !['JOIN', 'MODE', 'TOPIC', 'KICK', 'PRIVMSG', 'NOTICE'].includes(commands[i]!)),
        [],
        'only the commands the tests asked for',
      );
      for (const raw of fromAlice.filter((_, i) => commands[i] === 'PRIVMSG')) assert.match(raw, / PRIVMSG #safe. :?sentinel \d+$/, raw);
      for (const raw of fromAlice.filter((_, i) => commands[i] === 'NOTICE')) assert.match(raw, / NOTICE bob. :\x01PING \d+\x01$/, raw);
    }

    before(async () => {
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain` } });
      alice = await t.client('alice');
      // alice creates the channel: ngircd makes her its operator (for the kick).
      await joinRoom(alice, channel, me);
      bob = await connectIrc(irc, `bob${tag}`);
      bob.send(`JOIN ${channel}`);
      await bob.waitFor((m) => m.command === '366', 10_000, 'bob in the channel');
      carol = await connectIrc(irc, `carol${tag}`);
      carol.send(`JOIN ${channel}`);
      await carol.waitFor((m) => m.command === '366', 10_000, 'carol in the channel');
      await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${carol.nick}`, 10_000);
    });
    after(async () => {
      await Promise.all([bob, carol].map((c) => c?.close().catch(() => undefined)));
      await t?.stop();
    });

    test('a nick change with a line break (or a space) is refused; IRC sees no NICK and no QUIT', async () => {
      for (const [nick, shown] of [[`a${CRLF}QUIT :x`, 'a\r\nQUIT :x'], [`b${LF}QUIT`, 'b\nQUIT'], ['c QUIT', 'c QUIT']] as const) {
        await sendRaw(alice, `<presence to="${roomJid(channel)}/${nick}"/>`);
        const refused = await alice.waitFor((s) => s.is('presence') && s.attrs.type === 'error' && bareOf(s.attrs.from) === roomJid(channel), 10_000);
        const error = errorOf(refused);
        if (shown.includes(' ') && !/[\r\n]/.test(shown)) {
          // A space is a valid resource: the gateway is the one that refuses it.
          assert.equal(error.condition, 'not-acceptable', refused.toString());
          assert.match(error.text, /nick/i, refused.toString());
        } else {
          // A control character is no valid resource: Prosody answers jid-malformed, ejabberd bad-request, before the gateway.
          assert.ok(['jid-malformed', 'bad-request', 'not-acceptable'].includes(error.condition), `${JSON.stringify(shown)}: ${refused.toString()}`);
        }
      }
      await sentinel();
      assertNothingInjected();
    });

    test('a subject with line breaks is one TOPIC line, the breaks as spaces', async () => {
      await sendRaw(alice, `<message to="${roomJid(channel)}" type="groupchat"><subject>first${CRLF}PRIVMSG ${channel} :injected${LF}second${CR}third</subject></message>`);
      const topic = await bob.waitFor((m) => m.command === 'TOPIC', 10_000, 'TOPIC');
      assert.equal(nickOfPrefix(topic.prefix), me);
      assert.deepEqual(topic.params, [channel, `first PRIVMSG ${channel} :injected second third`]);
      await sentinel();
      assertNothingInjected();
    });

    test('a kick reason with line breaks is one KICK line', async () => {
      await alice.iq(
        xml('iq', { to: roomJid(channel), type: 'set' }, xml('query', { xmlns: MUC_ADMIN }, xml('item', { nick: carol.nick, role: 'none' }, xml('reason', {}, 'bye\nPRIVMSG #x :injected')))),
      );
      const kick = await bob.waitFor((m) => m.command === 'KICK', 10_000, 'KICK');
      assert.deepEqual(kick.params, [channel, carol.nick, 'bye PRIVMSG #x :injected']);
      await sentinel();
      assertNothingInjected();
    });

    test('a MUC join password with a line break or a space is refused with not-acceptable; no JOIN goes out', async () => {
      for (const [password, channelName] of [[`k${CRLF}PRIVMSG ${channel} :injected`, `#key1${tag}`], [`k PRIVMSG`, `#key2${tag}`]] as const) {
        await sendRaw(alice, `<presence to="${roomJid(channelName)}/${me}"><x xmlns="${MUC}"><password>${password}</password></x></presence>`);
        const refused = await alice.waitFor((s) => s.is('presence') && s.attrs.type === 'error' && bareOf(s.attrs.from) === roomJid(channelName), 10_000);
        const error = errorOf(refused);
        assert.equal(error.condition, 'not-acceptable', refused.toString());
        assert.match(error.text, /channel password must not contain (a line break|spaces)/, refused.toString());
        // Nobody is in that channel on IRC: the gateway never joined it.
        bob.send(`NAMES ${channelName}`);
        const names = await bob.waitFor((m) => m.command === '366' && m.params[1] === channelName, 10_000, `NAMES ${channelName}`);
        assert.ok(names);
        assert.deepEqual(bob.pending().filter((m) => m.command === '353' && m.params.includes(channelName)), []);
      }
      await sentinel();
      assertNothingInjected();
    });

    test('stored settings with line breaks are refused when saved: server password, NickServ password, channel key', async () => {
      const password = await configureRefused(alice, SERVER_JID, { password: 'pw\nQUIT :x' });
      assert.equal(password.condition, 'bad-request');
      assert.match(password.text, /single line/);
      const nickserv = await configureRefused(alice, SERVER_JID, { nickserv_password: 'pw\r\nPRIVMSG #x :injected' });
      assert.equal(nickserv.condition, 'bad-request');
      const key = await configureRefused(alice, `${roomJid(channel)}`, { key: 'k\nJOIN #x' });
      assert.equal(key.condition, 'bad-request');
      const spaced = await configureRefused(alice, `${roomJid(channel)}`, { key: 'k JOIN' });
      assert.equal(spaced.condition, 'not-acceptable');
      assert.match(spaced.text, /channel key cannot contain spaces/);
      await sentinel();
      assertNothingInjected();
    });

    test('a CTCP request with a stray \\x01 gets one NOTICE answer, the \\x01 dropped', async () => {
      bob.clear();
      bob.send(`PRIVMSG ${me} :\x01PING 12\x0134\x01`);
      const reply = await bob.waitFor((m) => m.command === 'NOTICE' && nickOfPrefix(m.prefix) === me, 10_000, 'CTCP reply');
      assert.equal(reply.params[1], '\x01PING 1234\x01');
      await sentinel();
      assert.deepEqual(bob.pending().filter((m) => nickOfPrefix(m.prefix) === me).map((m) => m.raw), []);
      assertNothingInjected();
    });
  });
}

for (const [kind, start] of SERVERS) {
  describe(`Flood control set per server through ad-hoc, through ${kind} and ngircd`, () => {
    let t: TestGateway;
    const tag = kind === 'Prosody' ? 'p' : 'e';

    before(async () => {
      // The gateway's default lets 50 lines out at once: only the user's setting can pace these.
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain`, PONTE_NETWORKS_IRC_THROTTLE_BURST: '50' } });
    });
    after(async () => {
      await t?.stop();
    });

    test('a burst of 2 and one line per 4 s set on the server JID: two lines at once, the rest later, all in order', async () => {
      const channel = `#paced${tag}`;
      const nick = `fran${tag}`;
      const fran = await t.client('fran');
      await configure(fran, SERVER_JID, { throttle_burst: '2', throttle_rate: '0.25' });
      const bob = await connectIrc(irc, `pbob${tag}`);
      try {
        bob.send(`JOIN ${channel}`);
        await bob.waitFor((m) => m.command === '366', 10_000, 'bob in the channel');
        await joinRoom(fran, channel, nick);
        await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick, 10_000, 'JOIN of fran');
        // The join took the bucket's two lines (JOIN, and the MODE query): let it fill again.
        await new Promise((resolve) => setTimeout(resolve, 8_500));
        const bodies = ['one', 'two', 'three', 'four'];
        for (const body of bodies) await fran.send(groupchat(channel, body));
        const lines = [];
        for (const body of bodies.slice(0, 2)) lines.push(await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 10_000, body));
        // The third is due 4 s after the burst: it cannot be here yet (a slow machine only delays it more).
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.deepEqual(bob.pending().filter((m) => m.command === 'PRIVMSG').map((m) => m.params[1]), [], 'only the burst went out at once');
        for (const body of bodies.slice(2)) lines.push(await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 15_000, body));
        assert.deepEqual(lines.map((m) => m.params[1]), bodies);
        assert.ok(lines.every((m) => nickOfPrefix(m.prefix) === nick));
      } finally {
        await bob.close();
      }
    });
  });
}
