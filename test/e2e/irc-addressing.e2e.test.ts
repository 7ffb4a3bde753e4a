// IRC addressing end to end: a real XMPP client (through Prosody and
// ejabberd) and real IRC clients on a real ngircd, with ponte between them.
// Channel or nick told by the server's CHANTYPES (an `&chan` room through its
// XEP-0106 escaped JID; `+chan` only once the server said it has such
// channels), nicks a JID localpart cannot hold as they are (`[x]`, `a\b`,
// `^y|`) reached through occupant JIDs and escaped `nick%server` JIDs, the
// fixedServer mode (`#chan@irc-domain`), InspIRCd's `CHANTYPES=#`, and the presence of each server JID
// showing that server's connection (two ngircds, one stopped).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { connectIrc, startInspircd, startNgircd, type IrcConnection, type IrcServer } from '../harness/irc-server.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { bareOf, codes, IRC_DOMAIN, MUC, nickOfPrefix, SERVER } from '../harness/irc-e2e.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** A localpart escaped as XEP-0106 says (what a client does with what the user typed). */
const escapeLocal = (local: string) =>
  local.replace(/[\\ "&'/:<>@]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
const jidOf = (local: string) => `${escapeLocal(local)}@${IRC_DOMAIN}`;
const chat = (to: string, body: string) => xml('message', { to, type: 'chat' }, xml('body', {}, body));
const conditionOf = (el: XmlElement) => el.getChild('error')?.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')?.name;

const privmsgTo = (conn: IrcConnection, target: string, what: string) =>
  conn.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === target, 10_000, what);

/** Joins the room at `room` (a bare JID) as `nick`; every stanza from it up to the subject, or the error. */
async function join(client: TestXmppClient, room: string, nick: string): Promise<XmlElement[]> {
  await client.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: MUC })));
  const out: XmlElement[] = [];
  for (;;) {
    const el = await client.waitFor((s) => bareOf(s.attrs.from) === room, 20_000);
    out.push(el);
    if (el.attrs.type === 'error') return out;
    if (el.is('message') && el.getChild('subject') && !el.getChild('body')) return out;
  }
}

async function leave(client: TestXmppClient, room: string, nick: string): Promise<void> {
  await client.send(xml('presence', { to: `${room}/${nick}`, type: 'unavailable' }));
  await client.waitFor((s) => s.is('presence') && s.attrs.from === `${room}/${nick}` && s.attrs.type === 'unavailable', 10_000);
}

let irc: IrcServer;
before(async () => {
  irc = await startNgircd();
});
after(async () => {
  await irc?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`IRC addressing through ${kind} and ngircd`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const me = `alice${tag}`;
    const ircClients: IrcConnection[] = [];
    const ircAs = async (nick: string, channel: string) => {
      // The USER name has its own rules (ngircd refuses ^ and | there).
      const conn = await connectIrc(irc, nick, { user: `u${tag}${ircClients.length}` });
      ircClients.push(conn);
      conn.send(`JOIN ${channel}`);
      await conn.waitFor((m) => m.command === '366', 10_000, `end of NAMES for ${channel}`);
      return conn;
    };
    const sawJoin = (conn: IrcConnection, nick: string) =>
      conn.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick.toLowerCase(), 10_000, `JOIN of ${nick}`);

    before(async () => {
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain` } });
      alice = await t.client('alice');
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
    });

    // First: the CHANTYPES learnt by a connection are kept for the server (the whole gateway's).
    test("+chan names a channel only once the server's CHANTYPES said so", async () => {
      // ponte has no connection to the server yet: the RFC 1459 default (#&) holds, and +chan is no address.
      const modeless = jidOf(`+plus${tag}%${SERVER}`);
      const refused = await join(alice, modeless, me);
      assert.equal(refused.at(-1)?.attrs.type, 'error');
      assert.equal(conditionOf(refused.at(-1)!), 'item-not-found');

      // A connection to ngircd learns CHANTYPES=#&+ (ISUPPORT): now +chan is a channel.
      const first = jidOf(`#first${tag}%${SERVER}`);
      await join(alice, first, me);
      const bob = await ircAs(`bob${tag}b`, `+plus${tag}`);
      const sequence = await join(alice, modeless, me);
      assert.notEqual(sequence.at(-1)?.attrs.type, 'error', sequence.map(String).join('\n'));
      assert.ok(sequence.some((s) => s.is('presence') && s.attrs.from === `${modeless}/${bob.nick}`), 'bob is an occupant of the +channel');
      await sawJoin(bob, me);
      await leave(alice, modeless, me);
      await leave(alice, first, me);
    });

    test('an &chan room through its XEP-0106 escaped JID: occupants and messages both ways', async () => {
      const channel = `&local${tag}`;
      const room = jidOf(`${channel}%${SERVER}`);
      assert.equal(room, `\\26local${tag}%${SERVER}@${IRC_DOMAIN}`);
      const bob = await ircAs(`bob${tag}a`, channel);
      const sequence = await join(alice, room, me);
      assert.notEqual(sequence.at(-1)?.attrs.type, 'error', sequence.map(String).join('\n'));
      assert.ok(sequence.some((s) => s.is('presence') && s.attrs.from === `${room}/${bob.nick}`), 'bob is an occupant');
      assert.ok(sequence.some((s) => s.is('presence') && s.attrs.from === `${room}/${me}` && codes(s).includes(110)), 'own presence');
      const joinLine = await sawJoin(bob, me);
      assert.equal(joinLine.params[0], channel);

      await alice.send(xml('message', { to: room, type: 'groupchat' }, xml('body', {}, 'hello &local')));
      const line = await privmsgTo(bob, channel, 'the message in &local');
      assert.equal(line.params[1], 'hello &local');
      bob.send(`PRIVMSG ${channel} :hello from IRC`);
      const got = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${room}/${bob.nick}` && s.getChildText('body') === 'hello from IRC', 10_000);
      assert.equal(got.attrs.type, 'groupchat');
      await leave(alice, room, me);
    });

    test('nicks a localpart cannot hold as they are: occupant JIDs carry them, nick%server JIDs escape them', async () => {
      const channel = `#odd${tag}`;
      const room = jidOf(`${channel}%${SERVER}`);
      const nicks = [`[x]${tag}`, `a\\b${tag}`, `^y|${tag}`];
      const odd = await Promise.all(nicks.map((nick) => ircAs(nick, channel)));
      assert.deepEqual(odd.map((c) => c.nick), nicks);
      const sequence = await join(alice, room, me);
      for (const nick of nicks) assert.ok(sequence.some((s) => s.is('presence') && s.attrs.from === `${room}/${nick}`), `${nick} is an occupant`);
      for (const conn of odd) await sawJoin(conn, me);

      for (const conn of odd) {
        // Through the occupant JID: the resource holds the nick as it is.
        await alice.send(chat(`${room}/${conn.nick}`, `to ${conn.nick} in the room`));
        const viaRoom = await privmsgTo(conn, conn.nick, `private message to ${conn.nick}`);
        assert.equal(viaRoom.params[1], `to ${conn.nick} in the room`);
        // Through nick%server, XEP-0106 escaped (a\b is a\5cb): the same nick, not its RFC 1459 lowercase.
        const contact = jidOf(`${conn.nick}%${SERVER}`);
        await alice.send(chat(contact, `to ${conn.nick} directly`));
        const direct = await privmsgTo(conn, conn.nick, `direct message to ${conn.nick}`);
        assert.equal(direct.params[1], `to ${conn.nick} directly`);
        // The answer comes from that contact JID, and answering it reaches the nick again.
        conn.send(`PRIVMSG ${me} :answer from ${conn.nick}`);
        const answer = await alice.waitFor((s) => s.is('message') && s.getChildText('body') === `answer from ${conn.nick}`, 10_000);
        assert.equal(bareOf(answer.attrs.from), contact);
        await alice.send(chat(bareOf(answer.attrs.from), 'and back'));
        const back = await privmsgTo(conn, conn.nick, `the answer to ${conn.nick}`);
        assert.equal(back.params[1], 'and back');
      }
      await leave(alice, room, me);
    });
  });

  describe(`IRC with a fixed server through ${kind} and ngircd`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const me = `alicef${tag}`;
    let bob: IrcConnection | undefined;

    before(async () => {
      t = await startTestGateway(start, {
        env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain`, PONTE_NETWORKS_IRC_FIXED_SERVER: SERVER },
      });
      alice = await t.client('alice');
    });
    after(async () => {
      await bob?.close().catch(() => undefined);
      await t?.stop();
    });

    test('#chan@irc-domain joins the fixed server; nick@irc-domain is a user there, its answer comes from that JID', async () => {
      const channel = `#fixed${tag}`;
      const room = jidOf(channel);
      assert.equal(room, `#fixed${tag}@${IRC_DOMAIN}`);
      bob = await connectIrc(irc, `bobf${tag}`);
      bob.send(`JOIN ${channel}`);
      await bob.waitFor((m) => m.command === '366', 10_000, 'end of NAMES');
      const sequence = await join(alice, room, me);
      assert.notEqual(sequence.at(-1)?.attrs.type, 'error', sequence.map(String).join('\n'));
      assert.ok(sequence.some((s) => s.is('presence') && s.attrs.from === `${room}/${bob!.nick}`), 'bob is an occupant');
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === me, 10_000, 'JOIN of alice');

      await alice.send(xml('message', { to: room, type: 'groupchat' }, xml('body', {}, 'on the fixed server')));
      const line = await privmsgTo(bob, channel, 'the message');
      assert.equal(line.params[1], 'on the fixed server');

      await alice.send(chat(jidOf(bob.nick), 'just you'));
      const direct = await privmsgTo(bob, bob.nick, 'the direct message');
      assert.equal(direct.params[1], 'just you');
      bob.send(`PRIVMSG ${me} :got it`);
      const answer = await alice.waitFor((s) => s.is('message') && s.getChildText('body') === 'got it', 10_000);
      assert.equal(bareOf(answer.attrs.from), jidOf(bob.nick));
      await leave(alice, room, me);
    });
  });

  describe(`IRC server JIDs through ${kind}, on two ngircds`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    let second: IrcServer;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const me = `alices${tag}`;
    // Two names for loopback, so the servers have two ids: 127.1 is 127.0.0.1 written short (no name lookup).
    const FIRST = SERVER;
    const SECOND = '127.1';
    const firstJid = `${FIRST}@${IRC_DOMAIN}`;
    const secondJid = `${SECOND}@${IRC_DOMAIN}`;
    const ircClients: IrcConnection[] = [];
    const presenceFrom = (jid: string, match: (el: XmlElement) => boolean) =>
      alice.waitFor((s) => s.is('presence') && s.attrs.from === jid && match(s), 15_000);
    const online = (s: XmlElement) => s.attrs.type === undefined && s.getChild('show') === undefined;

    before(async () => {
      second = await startNgircd();
      t = await startTestGateway(start, {
        env: { PONTE_NETWORKS_IRC_SERVERS: `${FIRST}:${irc.port}/plain,${SECOND}:${second.port}/plain` },
      });
      alice = await t.client('alice');
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
      await second?.stop();
    });

    test('each server JID shows its own connection: one server gone is reconnecting there only; leaving the last channel is unavailable', async () => {
      for (const jid of [firstJid, secondJid]) {
        await alice.send(xml('presence', { to: jid, type: 'subscribe' }));
        // (Prosody takes the `subscribed` into the roster without passing it on; the subscription back comes either way.)
        await alice.waitFor((s) => s.is('presence') && s.attrs.from === jid && s.attrs.type === 'subscribe', 10_000);
      }
      const bob = await connectIrc(irc, `bobs${tag}`);
      ircClients.push(bob);
      await join(alice, `#one${tag}%${FIRST}@${IRC_DOMAIN}`, me);
      await join(alice, `#two${tag}%${SECOND}@${IRC_DOMAIN}`, me);
      // (Before the first join the user had no session: the server JIDs were plainly available.)
      const connected = (server: string) => (s: XmlElement) => online(s) && (s.getChildText('status') ?? '').startsWith(`connected to ${server}`);
      await presenceFrom(firstJid, connected(FIRST));
      await presenceFrom(secondJid, connected(SECOND));

      const fromFirst = () => alice.pending().filter((s) => s.is('presence') && s.attrs.from === firstJid).map(String);
      const firstBefore = fromFirst();
      await second.stop();
      const reconnecting = await presenceFrom(secondJid, (s) => s.getChildText('show') === 'away' && /^Reconnecting: /.test(s.getChildText('status') ?? ''));
      assert.equal(reconnecting.attrs.type, undefined);
      // A round trip on the first server: whatever the gateway sent with the change has arrived by then.
      await alice.send(xml('message', { to: `#one${tag}%${FIRST}@${IRC_DOMAIN}`, type: 'groupchat' }, xml('body', {}, 'still here')));
      await alice.waitFor((s) => s.is('message') && s.attrs.from === `#one${tag}%${FIRST}@${IRC_DOMAIN}/${me}` && s.getChildText('body') === 'still here', 10_000);
      assert.deepEqual(fromFirst(), firstBefore, 'the first server JID shows no change');

      const fromSecond = () => alice.pending().filter((s) => s.is('presence') && s.attrs.from === secondJid).map(String);
      const secondBefore = fromSecond();
      await leave(alice, `#one${tag}%${FIRST}@${IRC_DOMAIN}`, me);
      const gone = await presenceFrom(firstJid, (s) => s.attrs.type === 'unavailable');
      assert.match(gone.getChildText('status') ?? '', new RegExp(`^Not connected to ${FIRST.replace(/\./g, '\\.')}`));
      // The second server is still being tried: its JID shows no change.
      assert.deepEqual(fromSecond(), secondBefore);
    });
  });

  describe(`IRC channel types of InspIRCd through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    let inspircd: IrcServer;
    const me = `alicei${kind === 'Prosody' ? 'p' : 'e'}`;

    before(async () => {
      inspircd = await startInspircd();
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${inspircd.port}/plain` } });
      alice = await t.client('alice');
    });
    after(async () => {
      await t?.stop();
      await inspircd?.stop();
    });

    test('CHANTYPES=# : once connected, &chan names nothing there (item-not-found before any IRC line)', async () => {
      const first = jidOf(`#first%${SERVER}`);
      const joined = await join(alice, first, me);
      assert.notEqual(joined.at(-1)?.attrs.type, 'error', joined.map(String).join('\n'));
      const refused = await join(alice, jidOf(`&local%${SERVER}`), me);
      const error = refused.at(-1)!;
      assert.equal(error.attrs.type, 'error');
      assert.equal(conditionOf(error), 'item-not-found');
      assert.match(error.getChild('error')?.getChildText('text', STANZAS) ?? '', /does not name anything/);
      await leave(alice, first, me);
    });
  });
}
