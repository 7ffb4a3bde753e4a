// The IRC network end to end: a real XMPP client (through Prosody and
// ejabberd) and a real IRC client on a real ngircd, with ponte between them.
// Joining with the occupant list, messages and /me both ways, topics both
// ways, IRC joins/parts as presences, long bodies split to the 512-byte line,
// no line-break injection, and PART + QUIT on the user's last leave. Each
// test uses its own channel.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { startNgircd, type IrcConnection, type IrcServer } from '../harness/irc-server.js';
import { xml, type TestXmppClient } from '../harness/xmpp-client.js';
import { bareOf, codes, eventually, ircUser, joinRoom, MUC, MUC_USER, nickOfPrefix, roomJid, SERVER } from '../harness/irc-e2e.js';

const groupchat = (channel: string, body: string) => xml('message', { to: roomJid(channel), type: 'groupchat' }, xml('body', {}, body));

const messageFrom = (client: TestXmppClient, channel: string, nick: string, match: (body: string) => boolean = () => true) =>
  client.waitFor((s) => s.is('message') && s.attrs.from === `${roomJid(channel)}/${nick}` && s.getChild('body') !== undefined && match(s.getChildText('body') ?? ''), 10_000);

let irc: IrcServer;
before(async () => {
  irc = await startNgircd();
});
after(async () => {
  await irc?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`IRC through ${kind} and ngircd`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const ircClients: IrcConnection[] = [];
    // IRC nicks are unique per test: a closed client's nick may linger on the server.
    const ircAs = async (nick: string, channel: string) => {
      const conn = await ircUser(irc, `${nick}${tag}${ircClients.length}`, channel);
      ircClients.push(conn);
      return conn;
    };

    before(async () => {
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain` } });
      alice = await t.client('alice');
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
    });

    test('joining lists the IRC users, gives own presence 110, and the IRC side sees the JOIN', async () => {
      const channel = `#join${tag}`;
      const bob = await ircAs('bob', channel);
      const sequence = await joinRoom(alice, channel, `alice${tag}`);
      const bobPresence = sequence.find((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${bob.nick}`);
      assert.ok(bobPresence, `no presence of ${bob.nick} in ${sequence.map(String).join('\n')}`);
      // ngircd makes the channel's creator an operator.
      assert.equal(bobPresence.getChild('x', MUC_USER)?.getChild('item')?.attrs.role, 'moderator');
      const self = sequence.find((s) => s.is('presence') && codes(s).includes(110));
      assert.equal(self?.attrs.from, `${roomJid(channel)}/alice${tag}`);
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === `alice${tag}` && m.params[0] === channel, 10_000, 'JOIN of alice');
    });

    test('messages and /me both ways; the own message is reflected', async () => {
      const channel = `#msg${tag}`;
      const bob = await ircAs('bob', channel);
      await joinRoom(alice, channel, `alice${tag}`);
      await alice.send(groupchat(channel, 'hello from xmpp'));
      const line = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 10_000, 'PRIVMSG from alice');
      assert.equal(nickOfPrefix(line.prefix), `alice${tag}`);
      assert.equal(line.params[1], 'hello from xmpp');
      await messageFrom(alice, channel, `alice${tag}`, (body) => body === 'hello from xmpp');

      bob.send(`PRIVMSG ${channel} :hello from irc`);
      const incoming = await messageFrom(alice, channel, bob.nick);
      assert.equal(incoming.attrs.type, 'groupchat');
      assert.equal(incoming.getChildText('body'), 'hello from irc');

      await alice.send(groupchat(channel, '/me waves'));
      const action = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 10_000, 'ACTION from alice');
      assert.equal(action.params[1], '\x01ACTION waves\x01');
      bob.send(`PRIVMSG ${channel} :\x01ACTION dances\x01`);
      const incomingAction = await messageFrom(alice, channel, bob.nick);
      assert.equal(incomingAction.getChildText('body'), '/me dances');
    });

    test('topic both ways', async () => {
      const channel = `#topic${tag}`;
      const bob = await ircAs('bob', channel);
      bob.send(`TOPIC ${channel} :the first topic`);
      await bob.waitFor((m) => m.command === 'TOPIC', 10_000, 'TOPIC echo');
      const sequence = await joinRoom(alice, channel, `alice${tag}`);
      assert.equal(sequence.at(-1)?.getChildText('subject'), 'the first topic');

      bob.send(`TOPIC ${channel} :changed on irc`);
      const changed = await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === roomJid(channel) && s.getChild('subject') !== undefined, 10_000);
      assert.equal(changed.getChildText('subject'), 'changed on irc');
      assert.equal(changed.attrs.from, `${roomJid(channel)}/${bob.nick}`);

      // Make alice an operator (the channel may be +t), then set the topic from XMPP.
      bob.send(`MODE ${channel} +o alice${tag}`);
      await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+o', 10_000, 'MODE +o');
      await alice.send(xml('message', { to: roomJid(channel), type: 'groupchat' }, xml('subject', {}, 'set from xmpp')));
      const topic = await bob.waitFor((m) => m.command === 'TOPIC' && m.params[1] === 'set from xmpp', 10_000, 'TOPIC from alice');
      assert.equal(topic.params[0], channel);
      assert.equal(nickOfPrefix(topic.prefix), `alice${tag}`);
      const reflected = await alice.waitFor((s) => s.is('message') && s.getChild('subject') !== undefined && s.getChildText('subject') === 'set from xmpp', 10_000);
      assert.equal(reflected.attrs.from, `${roomJid(channel)}/alice${tag}`);
    });

    test('IRC joins, parts, quits and operator modes become presences', async () => {
      const channel = `#people${tag}`;
      const bob = await ircAs('bob', channel);
      await joinRoom(alice, channel, `alice${tag}`);
      const carol = await ircAs('carol', channel);
      const joined = await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${carol.nick}`, 10_000);
      assert.equal(joined.attrs.type, undefined);

      bob.send(`MODE ${channel} +o ${carol.nick}`);
      const opped = await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${carol.nick}`, 10_000);
      assert.equal(opped.getChild('x', MUC_USER)?.getChild('item')?.attrs.role, 'moderator');

      carol.send(`PART ${channel} :see you`);
      const left = await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${carol.nick}`, 10_000);
      assert.equal(left.attrs.type, 'unavailable');
      assert.match(left.getChildText('status') ?? '', /see you/);

      await bob.close();
      const quit = await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${bob.nick}`, 10_000);
      assert.equal(quit.attrs.type, 'unavailable');
    });

    test('a long multibyte body arrives as several lines, none over 512 bytes', async () => {
      const channel = `#long${tag}`;
      const bob = await ircAs('bob', channel);
      await joinRoom(alice, channel, `alice${tag}`);
      const words: string[] = [];
      while (Buffer.byteLength(words.join(' ')) < 1500) words.push(`wörd${words.length}-ünïcødé-€`);
      const body = words.join(' ');
      await alice.send(groupchat(channel, body));
      const lines: string[] = [];
      const raws: string[] = [];
      while (lines.join(' ') !== body) {
        const line = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 10_000, `line ${lines.length + 1} of the long body`);
        lines.push(line.params[1] ?? '');
        raws.push(line.raw);
        assert.ok(lines.join(' ').length <= body.length, 'more text arrived than was sent');
      }
      assert.ok(lines.length >= 3, `only ${lines.length} lines`);
      for (const raw of raws) assert.ok(Buffer.byteLength(raw) + 2 <= 512, `a line of ${Buffer.byteLength(raw) + 2} bytes`);
    });

    test('line breaks in a body never become IRC commands', async () => {
      const channel = `#inject${tag}`;
      const bob = await ircAs('bob', channel);
      await joinRoom(alice, channel, `alice${tag}`);
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === `alice${tag}`, 10_000, 'JOIN of alice');
      bob.clear();
      await alice.send(groupchat(channel, 'hello\r\nQUIT :x\nJOIN #evil'));
      const first = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 10_000, 'first line');
      const second = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 10_000, 'second line');
      const third = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 10_000, 'third line');
      assert.deepEqual([first.params[1], second.params[1], third.params[1]], ['hello', 'QUIT :x', 'JOIN #evil']);
      // Still there: a later message arrives, and nothing but PRIVMSGs came from alice.
      await alice.send(groupchat(channel, 'still here'));
      await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === 'still here', 10_000, 'a later message');
      const fromAlice = bob.pending().filter((m) => nickOfPrefix(m.prefix) === `alice${tag}`);
      assert.deepEqual(fromAlice.filter((m) => m.command !== 'PRIVMSG').map((m) => m.raw), []);
    });

    test('a channel key: a wrong one is not-authorized, the right one joins', async () => {
      const channel = `#key${tag}`;
      const bob = await ircAs('bob', channel);
      bob.send(`MODE ${channel} +k sesame`);
      await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+k', 10_000, 'MODE +k');
      await alice.send(xml('presence', { to: `${roomJid(channel)}/alice${tag}` }, xml('x', { xmlns: MUC }, xml('password', {}, 'wrong'))));
      const refused = await alice.waitFor((s) => s.is('presence') && s.attrs.type === 'error' && bareOf(s.attrs.from) === roomJid(channel), 10_000);
      assert.ok(refused.getChild('error')?.getChild('not-authorized', 'urn:ietf:params:xml:ns:xmpp-stanzas'), refused.toString());
      await alice.send(xml('presence', { to: `${roomJid(channel)}/alice${tag}` }, xml('x', { xmlns: MUC }, xml('password', {}, 'sesame'))));
      for (;;) {
        const el = await alice.waitFor((s) => bareOf(s.attrs.from) === roomJid(channel), 10_000);
        assert.notEqual(el.attrs.type, 'error', el.toString());
        if (el.is('presence') && codes(el).includes(110)) break;
      }
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === `alice${tag}`, 10_000, 'JOIN of alice');
    });

    test('leaving sends PART, and the last leave closes the connection with QUIT', async () => {
      const channel = `#leave${tag}`;
      const bob = await ircAs('bob', channel);
      // Leave every earlier channel first, so that this one is the last.
      for (const other of ['#join', '#msg', '#topic', '#people', '#long', '#inject', '#key']) {
        await alice.send(xml('presence', { to: `${roomJid(`${other}${tag}`)}/alice${tag}`, type: 'unavailable' }));
        await alice.waitFor((s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${roomJid(`${other}${tag}`)}/alice${tag}`, 10_000);
      }
      await joinRoom(alice, channel, `alice${tag}`);
      assert.equal(t.gateway.ponte.core.connections('irc'), 1);
      await alice.send(xml('presence', { to: `${roomJid(channel)}/alice${tag}`, type: 'unavailable' }));
      const part = await bob.waitFor((m) => m.command === 'PART' && m.params[0] === channel, 10_000, 'PART of alice');
      assert.equal(nickOfPrefix(part.prefix), `alice${tag}`);
      // alice shares no channel with bob any more, so bob sees no QUIT: ask the server whether alice is still on.
      await eventually(async () => {
        bob.send(`ISON alice${tag}`);
        const ison = await bob.waitFor((m) => m.command === '303', 5_000, 'ISON reply');
        return (ison.params[1] ?? '').trim() === '';
      }, `alice${tag} to be gone from the IRC server`);
      const self = await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/alice${tag}`, 10_000);
      assert.equal(self.attrs.type, 'unavailable');
      assert.equal(t.gateway.ponte.core.connections('irc'), 0);
    });
  });
}
