// The IRC conversation surface end to end: a real XMPP client (through
// Prosody and ejabberd) and a real IRC client on a real ngircd, with ponte
// between them. Nick changes both ways (303 and NICK), a plain KICK both ways
// (307 and muc#admin role=none), private messages through an occupant JID
// and through `nick%server` with the answer on the same JID, raw IRC lines
// sent to the server JID with the server's reply coming from there, a kick
// from the last channel closing the connection (a join after opens a new one), and
// mentions reaching IRC as they were typed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { connectIrc, startNgircd, type IrcConnection, type IrcServer } from '../harness/irc-server.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { configure } from './irc-settings-adhoc.js';
import { bareOf, codes, eventually, IRC_DOMAIN, joinRoom, MUC_USER, nickOfPrefix, roomJid, SERVER } from '../harness/irc-e2e.js';

const MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
const SERVER_JID = `${SERVER}@${IRC_DOMAIN}`;

const contactJid = (nick: string) => `${nick.toLowerCase()}%${SERVER}@${IRC_DOMAIN}`;
const itemOf = (el: XmlElement) => el.getChild('x', MUC_USER)?.getChild('item');
const chat = (to: string, body: string) => xml('message', { to, type: 'chat' }, xml('body', {}, body));
const groupchat = (channel: string, body: string) => xml('message', { to: roomJid(channel), type: 'groupchat' }, xml('body', {}, body));

const presenceOf = (client: TestXmppClient, channel: string, nick: string, match: (el: XmlElement) => boolean = () => true) =>
  client.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${nick}` && match(s), 10_000);

const messageFrom = (client: TestXmppClient, from: (jid: string) => boolean, match: (body: string) => boolean = () => true) =>
  client.waitFor((s) => s.is('message') && from(s.attrs.from ?? '') && s.getChild('body') !== undefined && match(s.getChildText('body') ?? ''), 10_000);

const privmsgTo = (conn: IrcConnection, target: string, what: string) =>
  conn.waitFor((m) => m.command === 'PRIVMSG' && m.params[0]?.toLowerCase() === target.toLowerCase(), 10_000, what);

let irc: IrcServer;
before(async () => {
  irc = await startNgircd();
});
after(async () => {
  await irc?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`IRC conversations through ${kind} and ngircd`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const ircClients: IrcConnection[] = [];
    // IRC nicks are unique per test: a closed client's nick may linger on the server.
    // `exact`: the nick as given (it must be unique already); the USER name has its own rules (no `).
    const ircAs = async (nick: string, channel?: string, exact = false) => {
      const conn = await connectIrc(irc, exact ? nick : `${nick}${tag}${ircClients.length}`, { user: `u${tag}${ircClients.length}` });
      ircClients.push(conn);
      if (channel) {
        conn.send(`JOIN ${channel}`);
        await conn.waitFor((m) => m.command === '366', 10_000, `end of NAMES for ${channel}`);
      }
      return conn;
    };
    // The nick is per connection (server-wide, as on IRC): a later join gets the one the connection has (210).
    const enter = async (channel: string, nick = `alice${tag}`) => {
      const sequence = await joinRoom(alice, channel, nick);
      const self = sequence.find((s) => s.is('presence') && codes(s).includes(110));
      assert.ok(self, `no self-presence in ${sequence.map(String).join('\n')}`);
      return { nick: self.attrs.from!.slice(roomJid(channel).length + 1), sequence };
    };
    const sawJoin = (conn: IrcConnection, nick: string) =>
      conn.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick.toLowerCase(), 10_000, `JOIN of ${nick}`);

    before(async () => {
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain`, PONTE_NETWORKS_IRC_THROTTLE_BURST: '50' } });
      alice = await t.client('alice');
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
    });

    test('nick changes both ways: the user renamed from XMPP sends NICK, an IRC NICK is status 303', async () => {
      const channel = `#nick${tag}`;
      const bob = await ircAs('bob', channel);
      const { nick: me } = await enter(channel);
      await sawJoin(bob, me);

      // The user's own change: a presence to the new occupant JID.
      const renamed = `${me}x`;
      await alice.send(xml('presence', { to: `${roomJid(channel)}/${renamed}` }));
      const nickLine = await bob.waitFor((m) => m.command === 'NICK', 10_000, 'NICK of the user');
      assert.equal(nickOfPrefix(nickLine.prefix), me);
      assert.equal(nickLine.params[0], renamed);
      const oldSelf = await presenceOf(alice, channel, me, (s) => s.attrs.type === 'unavailable');
      assert.deepEqual(codes(oldSelf).sort(), [110, 303]);
      assert.equal(itemOf(oldSelf)?.attrs.nick, renamed);
      const newSelf = await presenceOf(alice, channel, renamed, (s) => s.attrs.type !== 'unavailable');
      assert.ok(codes(newSelf).includes(110), newSelf.toString());

      // An IRC user's change.
      const bobRenamed = `${bob.nick}r`;
      bob.send(`NICK ${bobRenamed}`);
      const oldBob = await presenceOf(alice, channel, bob.nick, (s) => s.attrs.type === 'unavailable');
      assert.deepEqual(codes(oldBob), [303]);
      assert.equal(itemOf(oldBob)?.attrs.nick, bobRenamed);
      await presenceOf(alice, channel, bobRenamed, (s) => s.attrs.type !== 'unavailable');
      // Messages now come from the new occupant JID.
      bob.send(`PRIVMSG ${channel} :still here`);
      await messageFrom(alice, (from) => from === `${roomJid(channel)}/${bobRenamed}`, (body) => body === 'still here');
      await alice.send(xml('presence', { to: `${roomJid(channel)}/${renamed}`, type: 'unavailable' }));
      await presenceOf(alice, channel, renamed, (s) => s.attrs.type === 'unavailable');
    });

    test('a plain KICK both ways: an IRC KICK is 307 with the reason, role=none from an XMPP moderator is a KICK', async () => {
      const channel = `#kick${tag}`;
      // alice creates the channel: ngircd makes her its operator.
      const { nick: me, sequence } = await enter(channel);
      assert.equal(itemOf(sequence.find((s) => codes(s).includes(110))!)?.attrs.role, 'moderator');
      const bob = await ircAs('bob', channel);
      const carol = await ircAs('carol', channel);
      await presenceOf(alice, channel, bob.nick);
      await presenceOf(alice, channel, carol.nick);

      // XMPP -> IRC.
      await alice.iq(xml('iq', { to: roomJid(channel), type: 'set' }, xml('query', { xmlns: MUC_ADMIN }, xml('item', { nick: bob.nick, role: 'none' }, xml('reason', {}, 'take a break')))));
      const kick = await carol.waitFor((m) => m.command === 'KICK', 10_000, 'KICK');
      assert.equal(nickOfPrefix(kick.prefix), me);
      assert.deepEqual(kick.params, [channel, bob.nick, 'take a break']);
      const bobGone = await presenceOf(alice, channel, bob.nick, (s) => s.attrs.type === 'unavailable');
      assert.deepEqual(codes(bobGone), [307]);
      assert.equal(itemOf(bobGone)?.getChildText('reason'), 'take a break');

      // IRC -> XMPP: carol (not an operator) is made one, then kicks alice.
      await alice.iq(xml('iq', { to: roomJid(channel), type: 'set' }, xml('query', { xmlns: MUC_ADMIN }, xml('item', { nick: carol.nick, role: 'moderator' }))));
      await carol.waitFor((m) => m.command === 'MODE' && m.params[1] === '+o', 10_000, 'MODE +o');
      carol.send(`KICK ${channel} ${me} :your turn`);
      const out = await presenceOf(alice, channel, me, (s) => s.attrs.type === 'unavailable');
      assert.deepEqual(codes(out).sort(), [110, 307]);
      assert.equal(itemOf(out)?.attrs.role, 'none');
      assert.equal(itemOf(out)?.getChildText('reason'), 'your turn');
      assert.equal(itemOf(out)?.getChild('actor')?.attrs.nick, carol.nick);
    });

    test('kicked from the last channel: the connection closes with QUIT and the server JID is offline; a join right after opens a new one', async () => {
      // A user of their own: no other channel of theirs keeps the connection.
      const kate = await t.client('kate');
      const nick = `kate${tag}`;
      await kate.send(xml('presence', { to: SERVER_JID, type: 'subscribe' }));
      await kate.waitFor((s) => s.is('presence') && s.attrs.from === SERVER_JID && s.attrs.type === 'subscribe', 10_000);
      const channel = `#kicklast${tag}`;
      // bob creates the channel: he is its operator.
      const bob = await ircAs('bob', channel);
      await joinRoom(kate, channel, nick);
      await sawJoin(bob, nick);
      // The server JID shows the connection (so the unavailable one below is news).
      await kate.waitFor((s) => s.is('presence') && s.attrs.from === SERVER_JID && s.attrs.type === undefined && (s.getChildText('status') ?? '').startsWith(`connected to ${SERVER}`), 10_000);
      assert.deepEqual(kate.pending().filter((s) => s.is('presence') && s.attrs.from === SERVER_JID && s.attrs.type === 'unavailable').map(String), []);

      bob.send(`KICK ${channel} ${nick} :out`);
      const out = await presenceOf(kate, channel, nick, (s) => s.attrs.type === 'unavailable');
      assert.deepEqual(codes(out).sort(), [110, 307]);
      // kate shares no channel with bob any more, so bob sees no QUIT: ask the server whether kate is still on.
      await eventually(async () => {
        bob.send(`ISON ${nick}`);
        const ison = await bob.waitFor((m) => m.command === '303', 5_000, 'ISON reply');
        return (ison.params[1] ?? '').trim() === '';
      }, `${nick} to be gone from the IRC server`);
      const offline = await kate.waitFor((s) => s.is('presence') && s.attrs.from === SERVER_JID && s.attrs.type === 'unavailable', 10_000);
      assert.equal(offline.getChildText('status'), `Not connected to ${SERVER}.`);

      // A join right after: a new connection, and it works both ways.
      await joinRoom(kate, channel, nick);
      await sawJoin(bob, nick);
      await kate.send(groupchat(channel, 'back again'));
      const line = await privmsgTo(bob, channel, 'PRIVMSG of kate');
      assert.equal(nickOfPrefix(line.prefix), nick);
      assert.equal(line.params[1], 'back again');
      bob.send(`PRIVMSG ${channel} :welcome back`);
      await messageFrom(kate, (from) => from === `${roomJid(channel)}/${bob.nick}`, (body) => body === 'welcome back');
    });

    test('kicked from the last channel when it is persistent: the connection stays (bouncer mode)', async () => {
      const paula = await t.client('paula');
      const nick = `paula${tag}`;
      const channel = `#kickkeep${tag}`;
      const bob = await ircAs('bob', channel);
      await configure(paula, roomJid(channel), { persistent: 'true' });
      await joinRoom(paula, channel, nick);
      await sawJoin(bob, nick);

      bob.send(`KICK ${channel} ${nick} :out`);
      const out = await presenceOf(paula, channel, nick, (s) => s.attrs.type === 'unavailable');
      assert.deepEqual(codes(out).sort(), [110, 307]);
      // The kick was handled before its presence went out: a closed connection would refuse this message.
      await paula.send(chat(contactJid(bob.nick), 'still connected'));
      const line = await privmsgTo(bob, bob.nick, 'PRIVMSG of paula');
      assert.equal(nickOfPrefix(line.prefix), nick);
      assert.equal(line.params[1], 'still connected');
    });

    test('a private message through an occupant JID reaches the nick; the answer comes back on that occupant JID', async () => {
      const channel = `#pm${tag}`;
      const bob = await ircAs('bob', channel);
      const { nick: me } = await enter(channel);
      await sawJoin(bob, me);
      const occupant = `${roomJid(channel)}/${bob.nick}`;

      await alice.send(chat(occupant, 'psst, bob'));
      const line = await privmsgTo(bob, bob.nick, 'the private message');
      assert.equal(nickOfPrefix(line.prefix), me);
      assert.equal(line.params[1], 'psst, bob');

      bob.send(`PRIVMSG ${me} :yes?`);
      const answer = await messageFrom(alice, (from) => bareOf(from) === roomJid(channel) || bareOf(from) === contactJid(bob.nick), (body) => body === 'yes?');
      assert.equal(answer.attrs.from, occupant);
      assert.equal(answer.attrs.type, 'chat');

      // Renamed, bob is still answered on (and answers from) his occupant JID.
      const renamed = `${bob.nick}n`;
      bob.send(`NICK ${renamed}`);
      await presenceOf(alice, channel, renamed, (s) => s.attrs.type !== 'unavailable');
      bob.nick = renamed;
      bob.send(`PRIVMSG ${me} :new name, same chat`);
      const later = await messageFrom(alice, (from) => bareOf(from) === roomJid(channel) || bareOf(from) === contactJid(renamed), (body) => body === 'new name, same chat');
      assert.equal(later.attrs.from, `${roomJid(channel)}/${renamed}`);
      await alice.send(xml('presence', { to: `${roomJid(channel)}/${me}`, type: 'unavailable' }));
      await presenceOf(alice, channel, me, (s) => s.attrs.type === 'unavailable');
    });

    test('a private message through nick%server reaches the nick; the answer comes back from nick%server', async () => {
      const channel = `#dm${tag}`;
      const bob = await ircAs('bob', channel);
      const { nick: me } = await enter(channel);
      await sawJoin(bob, me);

      await alice.send(chat(contactJid(bob.nick), 'hello contact'));
      const line = await privmsgTo(bob, bob.nick, 'the direct message');
      assert.equal(nickOfPrefix(line.prefix), me);
      assert.equal(line.params[1], 'hello contact');

      bob.send(`PRIVMSG ${me} :hello back`);
      const answer = await messageFrom(alice, (from) => bareOf(from) === roomJid(channel) || bareOf(from) === contactJid(bob.nick), (body) => body === 'hello back');
      assert.equal(bareOf(answer.attrs.from), contactJid(bob.nick));
      assert.equal(answer.attrs.type, 'chat');
      await alice.send(xml('presence', { to: `${roomJid(channel)}/${me}`, type: 'unavailable' }));
      await presenceOf(alice, channel, me, (s) => s.attrs.type === 'unavailable');
    });

    test('a message to the server JID is a raw IRC line: PRIVMSG reaches the channel, the reply to MODE comes from the server JID', async () => {
      const channel = `#raw${tag}`;
      const bob = await ircAs('bob', channel);
      const { nick: me } = await enter(channel);
      await sawJoin(bob, me);

      await alice.send(chat(SERVER_JID, `PRIVMSG ${channel} :typed by hand`));
      const line = await privmsgTo(bob, channel, 'the raw PRIVMSG');
      assert.equal(nickOfPrefix(line.prefix), me);
      assert.equal(line.params[1], 'typed by hand');

      // A query the server answers with numerics (324 the modes, 329 the creation time): they come from the server JID.
      bob.send(`MODE ${channel} +t`);
      await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+t', 10_000, 'MODE +t');
      await alice.send(chat(SERVER_JID, `MODE ${channel}`));
      const modes = await messageFrom(alice, (from) => bareOf(from) === SERVER_JID, (body) => body.startsWith(`${channel} +`));
      assert.equal(modes.getChildText('body'), `${channel} +t`);
      assert.equal(modes.attrs.type, 'chat');
      const created = await messageFrom(alice, (from) => bareOf(from) === SERVER_JID, (body) => body.startsWith(channel));
      assert.match(created.getChildText('body') ?? '', new RegExp(`^${channel} \\d+$`));
      // An unknown command: the server's 421 says so.
      await alice.send(chat(SERVER_JID, 'FROBNICATE now'));
      const unknown = await messageFrom(alice, (from) => bareOf(from) === SERVER_JID, (body) => body.startsWith('FROBNICATE'));
      assert.match(unknown.getChildText('body') ?? '', /^FROBNICATE .*unknown command/i);
      await alice.send(xml('presence', { to: `${roomJid(channel)}/${me}`, type: 'unavailable' }));
      await presenceOf(alice, channel, me, (s) => s.attrs.type === 'unavailable');
    });

    test('mentions reach IRC as typed: nicks with styling characters are not read as XEP-0393 styling', async () => {
      const channel = `#mention${tag}`;
      const under = await ircAs(`_u${tag}_`, channel, true);
      const tick = await ircAs(`\`t${tag}\``, channel, true);
      const { nick: me, sequence } = await enter(channel);
      await sawJoin(under, me);
      for (const nick of [under.nick, tick.nick]) assert.ok(sequence.some((s) => s.attrs.from === `${roomJid(channel)}/${nick}`), `${nick} is an occupant`);

      const sent = [
        `${under.nick}: hello`,
        `${tick.nick}, ${under.nick}: both of you`,
        `*ping ${under.nick}*`,
      ];
      for (const body of sent) await alice.send(groupchat(channel, body));
      const lines = [];
      for (const _ of sent) lines.push((await privmsgTo(tick, channel, 'a mention')).params[1]);
      // The nicks are untouched; real styling around them still becomes IRC bold.
      assert.deepEqual(lines, [sent[0], sent[1], `\x02ping ${under.nick}\x02`]);
      await alice.send(xml('presence', { to: `${roomJid(channel)}/${me}`, type: 'unavailable' }));
      await presenceOf(alice, channel, me, (s) => s.attrs.type === 'unavailable');
    });
  });
}
