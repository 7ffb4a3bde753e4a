// IRC channel operations end to end: a real XMPP client (through Prosody and
// ejabberd) and a real IRC client on a real ngircd, with ponte between them.
// Bans both ways (301, the ban list as the outcast list, lifting a ban),
// roles both ways and the 482 refusal, channel modes as room notices,
// INVITE both ways, CTCP answers, the nick-in-use alternative, NOTICEs, and
// a correction of a message that went out as several IRC lines; on InspIRCd,
// bans of members seen before the gateway came, multi-prefix and
// userhost-in-names.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { connectIrc, startInspircd, startNgircd, type IrcConnection, type IrcMessage, type IrcServer } from '../harness/irc-server.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { VERSION } from '../../src/version.js';
import { bareOf, codes, IRC_DOMAIN, joinRoom, linesSent, MUC_USER, nickOfPrefix, roomJid, SERVER } from '../harness/irc-e2e.js';

const MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const CORRECT = 'urn:xmpp:message-correct:0';
const DIRECT_INVITE = 'jabber:x:conference';
// Numbered alternatives, to see the configured scheme at work.
const NICK_SUFFIX = '|{n}';
// Every command here is a few lines plus a PING barrier: a larger burst keeps the tests quick (the pacing stays on).
const FAST_QUEUE = { PONTE_NETWORKS_IRC_THROTTLE_BURST: '50' };

const contactJid = (nick: string) => `${nick.toLowerCase()}%${SERVER}@${IRC_DOMAIN}`;
const itemOf = (el: XmlElement) => el.getChild('x', MUC_USER)?.getChild('item');

function errorOf(el: XmlElement): { condition: string | undefined; text: string } {
  const error = el.getChild('error');
  return {
    condition: error?.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')?.name,
    text: error?.getChildText('text', STANZAS) ?? '',
  };
}

const groupchat = (channel: string, body: string, id?: string, ...extra: XmlElement[]) =>
  xml('message', { to: roomJid(channel), type: 'groupchat', ...(id ? { id } : {}) }, xml('body', {}, body), ...extra);

const admin = (channel: string, type: 'get' | 'set', ...items: XmlElement[]) =>
  xml('iq', { to: roomJid(channel), type }, xml('query', { xmlns: MUC_ADMIN }, ...items));

const presenceOf = (client: TestXmppClient, channel: string, nick: string, match: (el: XmlElement) => boolean = () => true) =>
  client.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${nick}` && match(s), 10_000);

/** A message from the room itself (no nick): the room notices. */
const roomNotice = (client: TestXmppClient, channel: string, match: (body: string) => boolean) =>
  client.waitFor((s) => s.is('message') && s.attrs.from === roomJid(channel) && s.getChild('body') !== undefined && match(s.getChildText('body') ?? ''), 10_000);

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
  describe(`IRC channel operations through ${kind} and ngircd`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const me = `alice${tag}`;
    const ircClients: IrcConnection[] = [];
    // IRC nicks are unique per test: a closed client's nick may linger on the server.
    const ircAs = async (nick: string, channel?: string) => {
      const conn = await connectIrc(irc, `${nick}${tag}${ircClients.length}`);
      ircClients.push(conn);
      if (channel) {
        conn.send(`JOIN ${channel}`);
        await conn.waitFor((m) => m.command === '366', 10_000, `end of NAMES for ${channel}`);
      }
      return conn;
    };
    const sawJoin = (conn: IrcConnection, nick: string) =>
      conn.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick.toLowerCase(), 10_000, `JOIN of ${nick}`);

    before(async () => {
      t = await startTestGateway(start, {
        env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain`, PONTE_NETWORKS_IRC_NICK_SUFFIX: NICK_SUFFIX, ...FAST_QUEUE },
      });
      alice = await t.client('alice');
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
    });

    test('a ban from XMPP: MODE +b and KICK on IRC, 301 in the room, the ban list as outcasts, and lifting it', async () => {
      const channel = `#ban${tag}`;
      // alice creates the channel: ngircd makes her its operator.
      const sequence = await joinRoom(alice, channel, me);
      assert.equal(itemOf(sequence.find((s) => codes(s).includes(110))!)?.attrs.role, 'moderator');
      const bob = await ircAs('bob', channel);
      await presenceOf(alice, channel, bob.nick);

      await alice.iq(admin(channel, 'set', xml('item', { affiliation: 'outcast', nick: bob.nick }, xml('reason', {}, 'spam'))));
      const mode = await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+b', 10_000, 'MODE +b');
      const mask = mode.params[2]!;
      assert.match(mask, /^\*!~?[^@*]+@[^@*]+$/, 'a user@host mask');
      const kick = await bob.waitFor((m) => m.command === 'KICK', 10_000, 'KICK');
      assert.deepEqual(kick.params, [channel, bob.nick, 'spam']);
      const gone = await presenceOf(alice, channel, bob.nick, (s) => s.attrs.type === 'unavailable');
      assert.ok(codes(gone).includes(301), gone.toString());
      assert.equal(itemOf(gone)?.attrs.affiliation, 'outcast');
      assert.equal(gone.getChild('x', MUC_USER)?.getChild('item')?.getChildText('reason'), 'spam');

      const list = await alice.iq(admin(channel, 'get', xml('item', { affiliation: 'outcast' })));
      const outcasts = list.getChild('query', MUC_ADMIN)?.getChildren('item') ?? [];
      assert.deepEqual(outcasts.map((i) => [i.attrs.affiliation, i.attrs.nick]), [['outcast', mask]]);

      bob.send(`JOIN ${channel}`);
      await bob.waitFor((m) => m.command === '474', 10_000, 'banned from the channel');
      // Lift the ban by naming bob (the gateway finds his mask in the list).
      await alice.iq(admin(channel, 'set', xml('item', { affiliation: 'none', nick: bob.nick })));
      // bob is not in the channel, so the server does not tell him: he can join again.
      bob.send(`JOIN ${channel}`);
      await bob.waitFor((m) => m.command === '366', 10_000, 'rejoined after the ban was lifted');
      const empty = await alice.iq(admin(channel, 'get', xml('item', { affiliation: 'outcast' })));
      assert.equal(empty.getChild('query', MUC_ADMIN)?.getChildren('item').length, 0);
    });

    test('a ban on IRC: channel modes are room notices, and the KICK that follows a matching +b is a ban (301)', async () => {
      const channel = `#banned${tag}`;
      const bob = await ircAs('bob', channel);
      await joinRoom(alice, channel, me);
      await sawJoin(bob, me);
      bob.send(`MODE ${channel} +m`);
      const moderated = await roomNotice(alice, channel, (body) => body.includes('+m'));
      assert.equal(moderated.getChildText('body'), `${bob.nick} sets mode +m`);
      assert.equal(moderated.attrs.type, 'groupchat');

      bob.send(`MODE ${channel} +b ${me}!*@*`);
      await roomNotice(alice, channel, (body) => body === `${bob.nick} sets mode +b ${me}!*@*`);
      bob.send(`KICK ${channel} ${me} :go away`);
      const out = await presenceOf(alice, channel, me, (s) => s.attrs.type === 'unavailable');
      assert.deepEqual(codes(out).sort(), [110, 301]);
      assert.equal(itemOf(out)?.attrs.affiliation, 'outcast');
      assert.equal(itemOf(out)?.getChild('actor')?.attrs.nick, bob.nick);
    });

    test('in a moderated channel, members without voice (the user too) are visitors; voice makes them participants', async () => {
      const channel = `#mod${tag}`;
      const bob = await ircAs('bob', channel);
      const carol = await ircAs('carol', channel);
      await joinRoom(alice, channel, me);
      await sawJoin(bob, me);
      bob.send(`MODE ${channel} +m`);
      assert.equal(itemOf(await presenceOf(alice, channel, me, (s) => codes(s).includes(110)))?.attrs.role, 'visitor');
      assert.equal(itemOf(await presenceOf(alice, channel, carol.nick))?.attrs.role, 'visitor');
      bob.send(`MODE ${channel} +v ${me}`);
      assert.equal(itemOf(await presenceOf(alice, channel, me, (s) => codes(s).includes(110)))?.attrs.role, 'participant');
      bob.send(`MODE ${channel} -m`);
      assert.equal(itemOf(await presenceOf(alice, channel, carol.nick))?.attrs.role, 'participant');

      // Joining a channel that is already moderated: the user learns it right after the join.
      const moderated = `#mod2${tag}`;
      bob.send(`JOIN ${moderated}`);
      bob.send(`MODE ${moderated} +m`);
      await bob.waitFor((m) => m.command === 'MODE' && m.params[0] === moderated, 10_000, 'MODE +m');
      await joinRoom(alice, moderated, me);
      assert.equal(itemOf(await presenceOf(alice, moderated, me, (s) => codes(s).includes(110)))?.attrs.role, 'visitor');
    });

    test('roles from XMPP become +o/-o/+v/-v; without operator status the server refusal is forbidden', async () => {
      const channel = `#roles${tag}`;
      await joinRoom(alice, channel, me);
      const bob = await ircAs('bob', channel);
      await presenceOf(alice, channel, bob.nick);
      const setRole = (nick: string, role: string) => alice.iq(admin(channel, 'set', xml('item', { nick, role })));
      const modeLine = (what: string) => bob.waitFor((m) => m.command === 'MODE' && m.params[0] === channel, 10_000, what);

      await setRole(bob.nick, 'moderator');
      assert.deepEqual((await modeLine('+o')).params.slice(1), ['+o', bob.nick]);
      assert.equal(itemOf(await presenceOf(alice, channel, bob.nick))?.attrs.role, 'moderator');
      await setRole(bob.nick, 'participant');
      assert.deepEqual((await modeLine('-o')).params.slice(1), ['-o', bob.nick]);
      assert.equal(itemOf(await presenceOf(alice, channel, bob.nick))?.attrs.role, 'participant');
      await setRole(bob.nick, 'participant');
      assert.deepEqual((await modeLine('+v')).params.slice(1), ['+v', bob.nick]);
      await setRole(bob.nick, 'visitor');
      assert.deepEqual((await modeLine('-v')).params.slice(1), ['-v', bob.nick]);
      // The moderator list is what the room shows.
      const moderators = await alice.iq(admin(channel, 'get', xml('item', { role: 'moderator' })));
      assert.deepEqual(moderators.getChild('query', MUC_ADMIN)?.getChildren('item').map((i) => i.attrs.nick), [me]);

      // Elsewhere alice is no operator: the server's 482 comes back as forbidden with its reason.
      const other = `#noop${tag}`;
      const carol = await ircAs('carol', other);
      carol.send(`MODE ${other} +t`);
      carol.send('PING :modes-set');
      await carol.waitFor((m) => m.command === 'PONG', 10_000, 'PONG after MODE +t');
      await joinRoom(alice, other, me);
      const refused = await alice.iqRaw(admin(other, 'set', xml('item', { nick: carol.nick, role: 'participant' })));
      assert.equal(refused.attrs.type, 'error');
      assert.equal(errorOf(refused).condition, 'forbidden');
      assert.match(errorOf(refused).text, /not a channel operator/);
      const banRefused = await alice.iqRaw(admin(other, 'set', xml('item', { nick: carol.nick, affiliation: 'outcast' })));
      assert.equal(errorOf(banRefused).condition, 'forbidden');
      // A subject change on a +t channel: the same refusal, as an error to the message.
      await alice.send(xml('message', { to: roomJid(other), type: 'groupchat', id: 'subj1' }, xml('subject', {}, 'mine now')));
      const subjectError = await alice.waitFor((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.id === 'subj1', 10_000);
      assert.equal(errorOf(subjectError).condition, 'forbidden');

      // Made an operator on IRC, alice sees it in her own presence, and may act.
      carol.send(`MODE ${other} +o ${me}`);
      const promoted = await presenceOf(alice, other, me, (s) => codes(s).includes(110));
      assert.equal(itemOf(promoted)?.attrs.role, 'moderator');
      await alice.iq(admin(other, 'set', xml('item', { nick: carol.nick, role: 'participant' })));
      await carol.waitFor((m) => m.command === 'MODE' && m.params[1] === '-o' && m.params[2] === carol.nick, 10_000, 'MODE -o carol');
    });

    test('INVITE both ways: IRC to a mediated invitation; mediated and direct invitations to INVITE', async () => {
      const channel = `#inv${tag}`;
      const bob = await ircAs('bob', channel);
      // alice is on the server (in another channel) to be invited.
      await joinRoom(alice, `#invhome${tag}`, me);
      bob.send(`INVITE ${me} ${channel}`);
      await bob.waitFor((m) => m.command === '341', 10_000, 'RPL_INVITING');
      const invitation = await alice.waitFor((s) => s.is('message') && s.attrs.from === roomJid(channel) && s.getChild('x', MUC_USER)?.getChild('invite') !== undefined, 10_000);
      assert.equal(invitation.getChild('x', MUC_USER)?.getChild('invite')?.attrs.from, contactJid(bob.nick));

      // alice joins and invites carol (not in the channel) both ways XMPP offers.
      await joinRoom(alice, channel, me);
      const carol = await ircAs('carol');
      await alice.send(xml('message', { to: roomJid(channel) }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: contactJid(carol.nick) }, xml('reason', {}, 'come')))));
      const mediated = await carol.waitFor((m) => m.command === 'INVITE', 10_000, 'INVITE from the mediated invitation');
      assert.deepEqual([nickOfPrefix(mediated.prefix), mediated.params[0]?.toLowerCase(), mediated.params[1]], [me, carol.nick.toLowerCase(), channel]);
      await alice.send(xml('message', { to: contactJid(carol.nick), id: 'dinv' }, xml('x', { xmlns: DIRECT_INVITE, jid: roomJid(channel) })));
      const direct = await carol.waitFor((m) => m.command === 'INVITE', 10_000, 'INVITE from the direct invitation');
      assert.equal(direct.params[1], channel);

      // Nobody by that nick: an error to the invitation, saying so.
      await alice.send(xml('message', { to: roomJid(channel), id: 'inv-nobody' }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: contactJid('nobody') }))));
      const error = await alice.waitFor((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.id === 'inv-nobody', 10_000);
      assert.equal(errorOf(error).condition, 'item-not-found');
    });

    test('CTCP VERSION, PING, TIME and CLIENTINFO are answered once and never shown to the XMPP user', async () => {
      const channel = `#ctcp${tag}`;
      const bob = await ircAs('bob', channel);
      await joinRoom(alice, channel, me);
      await sawJoin(bob, me);
      const reply = (type: string) =>
        bob.waitFor((m) => m.command === 'NOTICE' && nickOfPrefix(m.prefix) === me && (m.params[1] ?? '').startsWith(`\x01${type}`), 10_000, `CTCP ${type} reply`);
      bob.send(`PRIVMSG ${me} :\x01VERSION\x01`);
      assert.equal((await reply('VERSION')).params[1], `\x01VERSION ponte ${VERSION} (XMPP gateway)\x01`);
      bob.send(`PRIVMSG ${me} :\x01PING 1234567\x01`);
      assert.equal((await reply('PING')).params[1], '\x01PING 1234567\x01');
      bob.send(`PRIVMSG ${me} :\x01TIME\x01`);
      assert.match((await reply('TIME')).params[1]!, /^\x01TIME \w{3}, \d{2} \w{3} \d{4} [\d:]{8} GMT\x01$/);
      bob.send(`PRIVMSG ${me} :\x01CLIENTINFO\x01`);
      assert.equal((await reply('CLIENTINFO')).params[1], '\x01CLIENTINFO ACTION CLIENTINFO PING TIME VERSION\x01');
      bob.send(`PRIVMSG ${me} :\x01DCC SEND x 1 2 3\x01`);
      bob.send(`PRIVMSG ${channel} :\x01VERSION\x01`);
      bob.send(`PRIVMSG ${me} :after the ctcp`);
      // The first thing alice gets from bob is the plain message: no CTCP went to her as text.
      const first = await alice.waitFor((s) => s.is('message') && (bareOf(s.attrs.from) === contactJid(bob.nick) || s.attrs.from === `${roomJid(channel)}/${bob.nick}`), 10_000);
      assert.equal(first.getChildText('body'), 'after the ctcp');
      // One reply per request: no second VERSION (irc-framework's own) and none to the channel request.
      bob.send(`PING :barrier`);
      await bob.waitFor((m) => m.command === 'PONG', 10_000, 'PONG');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(bob.pending().filter((m: IrcMessage) => m.command === 'NOTICE' && nickOfPrefix(m.prefix) === me).map((m) => m.raw), []);
    });

    test('a nick in use on connecting: the configured alternative, told with status 210', async () => {
      const channel = `#nick${tag}`;
      const taken = `dave${tag}`;
      const holder = await connectIrc(irc, taken);
      ircClients.push(holder);
      holder.send(`JOIN ${channel}`);
      await holder.waitFor((m) => m.command === '366', 10_000, 'NAMES');
      const dave = await t.client('dave');
      const sequence = await joinRoom(dave, channel, taken);
      const self = sequence.find((s) => s.is('presence') && codes(s).includes(110));
      assert.ok(self, sequence.map(String).join('\n'));
      assert.equal(self.attrs.from, `${roomJid(channel)}/${taken}|1`);
      assert.ok(codes(self).includes(210), self.toString());
      await sawJoin(holder, `${taken}|1`);
    });

    test('NOTICEs from IRC users are marked: in the channel and in a private chat', async () => {
      const channel = `#notice${tag}`;
      const bob = await ircAs('bob', channel);
      await joinRoom(alice, channel, me);
      await sawJoin(bob, me);
      bob.send(`NOTICE ${channel} :the channel hears this`);
      const inRoom = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${roomJid(channel)}/${bob.nick}`, 10_000);
      assert.equal(inRoom.attrs.type, 'groupchat');
      assert.equal(inRoom.getChildText('body'), '[notice] the channel hears this');
      bob.send(`NOTICE ${me} :just for you`);
      const direct = await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === contactJid(bob.nick), 10_000);
      assert.equal(direct.attrs.type, 'chat');
      assert.equal(direct.getChildText('body'), '[notice] just for you');
    });

    test('a message split into several IRC lines keeps every line id; its correction goes out once, as fallback text', async () => {
      const channel = `#split${tag}`;
      const bob = await ircAs('bob', channel);
      await joinRoom(alice, channel, me);
      await sawJoin(bob, me);
      const words: string[] = [];
      while (Buffer.byteLength(words.join(' ')) < 1200) words.push(`word${words.length}`);
      const body = words.join(' ');
      await alice.send(groupchat(channel, body, 'long-1'));
      const lines: string[] = [];
      while (lines.join(' ') !== body) {
        lines.push((await privmsgTo(bob, channel, `line ${lines.length + 1}`)).params[1]!);
        assert.ok(lines.join(' ').length <= body.length, 'more text arrived than was sent');
      }
      assert.ok(lines.length >= 3, `only ${lines.length} lines`);
      await alice.waitFor((s) => s.is('message') && s.attrs.id === 'long-1' && s.attrs.from === `${roomJid(channel)}/${me}`, 10_000);

      const entry = await t.gateway.ponte.store.archive.byReference('alice@localhost', roomJid(channel), 'long-1');
      assert.ok(entry, 'the message is in the store');
      assert.equal(entry.networkIds.length, lines.length, 'one network id per IRC line');
      assert.equal(new Set(entry.networkIds).size, lines.length);
      for (const id of entry.networkIds) {
        assert.equal((await t.gateway.ponte.store.archive.byNetworkId('alice@localhost', roomJid(channel), id))?.xmppId, 'long-1');
      }

      await alice.send(groupchat(channel, 'the short version', 'fix-1', xml('replace', { xmlns: CORRECT, id: 'long-1' })));
      assert.equal((await privmsgTo(bob, channel, 'the fallback')).params[1], '* the short version');
      const reflected = await alice.waitFor((s) => s.is('message') && s.attrs.id === 'fix-1', 10_000);
      assert.equal(reflected.getChild('replace', CORRECT)?.attrs.id, 'long-1');
      await alice.send(groupchat(channel, 'after the fix'));
      assert.equal((await privmsgTo(bob, channel, 'the next message')).params[1], 'after the fix', 'the fallback went out once');
    });
  });
}

// InspIRCd (IRCv3, other numerics' details): a ban of someone the gateway saw
// no JOIN of, the ban list as InspIRCd sends it (with setter and time),
// multi-prefix (a member's @ and + both kept) and userhost-in-names (a
// member's mask from NAMES, no USERHOST asked).
let inspircd: IrcServer;
before(async () => {
  inspircd = await startInspircd();
});
after(async () => {
  await inspircd?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`IRC channel operations through ${kind} and InspIRCd`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const me = `alice${tag}`;
    const ircClients: IrcConnection[] = [];

    before(async () => {
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${inspircd.port}/plain`, ...FAST_QUEUE } });
      alice = await t.client('alice');
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
    });

    test('made an operator on IRC, the user bans a member who was there first: the mask has their user and host', async () => {
      const channel = `#insp${tag}`;
      const bob = await connectIrc(inspircd, `ibob${tag}`);
      ircClients.push(bob);
      bob.send(`JOIN ${channel}`);
      await bob.waitFor((m) => m.command === '366', 10_000, 'NAMES');
      await joinRoom(alice, channel, me);
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === me, 10_000, 'JOIN of alice');
      bob.send(`MODE ${channel} +o ${me}`);
      assert.equal(itemOf(await presenceOf(alice, channel, me, (s) => codes(s).includes(110)))?.attrs.role, 'moderator');

      await alice.iq(admin(channel, 'set', xml('item', { affiliation: 'outcast', nick: bob.nick })));
      const mode = await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+b', 10_000, 'MODE +b');
      assert.match(mode.params[2]!, new RegExp(`^\\*!~?ibob${tag}@127\\.0\\.0\\.1$`), 'the mask with user and host');
      await bob.waitFor((m) => m.command === 'KICK' && m.params[1] === bob.nick, 10_000, 'KICK');
      const gone = await presenceOf(alice, channel, bob.nick, (s) => s.attrs.type === 'unavailable');
      assert.ok(codes(gone).includes(301), gone.toString());

      const list = await alice.iq(admin(channel, 'get', xml('item', { affiliation: 'outcast' })));
      assert.deepEqual(list.getChild('query', MUC_ADMIN)?.getChildren('item').map((i) => i.attrs.nick), [mode.params[2]]);
      await alice.iq(admin(channel, 'set', xml('item', { affiliation: 'none', nick: mode.params[2]! })));
      bob.send(`JOIN ${channel}`);
      await bob.waitFor((m) => m.command === '366', 10_000, 'rejoined after the ban was lifted');
    });

    test('multi-prefix: a member with @ and + is a moderator, and after -o a participant (the voice kept), not a visitor', async () => {
      const channel = `#multi${tag}`;
      const bob = await connectIrc(inspircd, `mbob${tag}`);
      const carol = await connectIrc(inspircd, `mcarol${tag}`);
      ircClients.push(bob, carol);
      bob.send(`JOIN ${channel}`);
      await bob.waitFor((m) => m.command === '366', 10_000, 'NAMES');
      carol.send(`JOIN ${channel}`);
      await carol.waitFor((m) => m.command === '366', 10_000, 'NAMES');
      // Moderated: without voice carol would be a visitor.
      bob.send(`MODE ${channel} +mov ${carol.nick} ${carol.nick}`);
      const modes = await carol.waitFor((m) => m.command === 'MODE' && m.params[0] === channel && m.params[1] === '+mov', 10_000, 'MODE +mov');
      assert.deepEqual(modes.params.slice(2), [carol.nick, carol.nick]);

      // The gateway learns carol's two prefixes from NAMES (multi-prefix: "@+carol").
      const sequence = await joinRoom(alice, channel, me);
      const carolIn = sequence.find((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${carol.nick}`);
      assert.equal(itemOf(carolIn!)?.attrs.role, 'moderator', sequence.map(String).join('\n'));

      bob.send(`MODE ${channel} -o ${carol.nick}`);
      const after = await presenceOf(alice, channel, carol.nick, (s) => itemOf(s)?.attrs.role !== 'moderator');
      assert.equal(itemOf(after)?.attrs.role, 'participant');
      // Taking the voice too makes her a visitor: the role followed both prefixes.
      bob.send(`MODE ${channel} -v ${carol.nick}`);
      const voiceless = await presenceOf(alice, channel, carol.nick, (s) => itemOf(s)?.attrs.role !== 'participant');
      assert.equal(itemOf(voiceless)?.attrs.role, 'visitor');
    });

    test('userhost-in-names: a member seen only in NAMES is banned by the host NAMES gave, with no USERHOST asked', async () => {
      const channel = `#uhnames${tag}`;
      const bob = await connectIrc(inspircd, `ubob${tag}`);
      const carol = await connectIrc(inspircd, `ucarol${tag}`);
      ircClients.push(bob, carol);
      bob.send(`JOIN ${channel}`);
      await bob.waitFor((m) => m.command === '366', 10_000, 'NAMES');
      // carol is there before the gateway and says nothing: NAMES is all the gateway sees of her.
      carol.send(`JOIN ${channel}`);
      const carolJoin = await carol.waitFor((m) => m.command === 'JOIN', 10_000, 'JOIN of carol');
      await carol.waitFor((m) => m.command === '366', 10_000, 'NAMES');
      const carolHost = carolJoin.prefix!.split('@')[1];
      await joinRoom(alice, channel, me);
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === me, 10_000, 'JOIN of alice');
      const sent = linesSent(t, `alice@localhost`);
      bob.send(`MODE ${channel} +o ${me}`);
      await presenceOf(alice, channel, me, (s) => codes(s).includes(110) && itemOf(s)?.attrs.role === 'moderator');

      await alice.iq(admin(channel, 'set', xml('item', { affiliation: 'outcast', nick: carol.nick })));
      const mode = await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+b', 10_000, 'MODE +b');
      assert.equal(mode.params[2], `*!${carolJoin.prefix!.split('!')[1]!.split('@')[0]}@${carolHost}`, 'the mask from NAMES');
      await bob.waitFor((m) => m.command === 'KICK' && m.params[1] === carol.nick, 10_000, 'KICK');
      assert.ok(sent.some((line) => line.startsWith(`MODE ${channel} +b `)), `the ban went out on the watched connection: ${sent.join(' | ')}`);
      assert.deepEqual(sent.filter((line) => /^USERHOST\b/i.test(line)), [], 'no USERHOST asked');

      // Someone in no shared channel: USERHOST is asked, and its answer gives the mask (no KICK: not here).
      const dave = await connectIrc(inspircd, `udave${tag}`);
      ircClients.push(dave);
      await alice.iq(admin(channel, 'set', xml('item', { affiliation: 'outcast', nick: dave.nick })));
      const daveBan = await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+b', 10_000, 'MODE +b of dave');
      assert.match(daveBan.params[2]!, new RegExp(`^\\*!~?udave${tag}@127\\.0\\.0\\.1$`), 'the mask from USERHOST');
      assert.deepEqual(sent.filter((line) => /^USERHOST\b/i.test(line)), [`USERHOST ${dave.nick}`]);
    });

    test('a member whose host changes (IRCv3 chghost) is banned by the new host', async () => {
      const channel = `#cloak${tag}`;
      const bob = await connectIrc(inspircd, `cbob${tag}`);
      const carol = await connectIrc(inspircd, `ccarol${tag}`);
      ircClients.push(bob, carol);
      bob.send(`JOIN ${channel}`);
      await bob.waitFor((m) => m.command === '366', 10_000, 'NAMES');
      // carol is there first: the gateway learns her host from NAMES (userhost-in-names).
      carol.send(`JOIN ${channel}`);
      await carol.waitFor((m) => m.command === '366', 10_000, 'NAMES');
      await joinRoom(alice, channel, me);
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === me, 10_000, 'JOIN of alice');
      bob.send(`MODE ${channel} +o ${me}`);
      await presenceOf(alice, channel, me, (s) => codes(s).includes(110) && itemOf(s)?.attrs.role === 'moderator');

      // An oper gives carol a cloak; the server tells the channel with CHGHOST.
      bob.send('OPER admin adminpw');
      await bob.waitFor((m) => m.command === '381', 10_000, 'an IRC operator');
      bob.send(`CHGHOST ${carol.nick} cloak-${tag}.example.org`);
      // bob's next line comes to the gateway after the CHGHOST (the server relays in order); carol
      // says nothing, so her new host can only come from the CHGHOST.
      bob.send(`PRIVMSG ${channel} :cloaked`);
      await alice.waitFor((s) => s.is('message') && s.getChildText('body') === 'cloaked', 10_000);

      await alice.iq(admin(channel, 'set', xml('item', { affiliation: 'outcast', nick: carol.nick })));
      const mode = await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+b', 10_000, 'MODE +b');
      assert.match(mode.params[2]!, new RegExp(`^\\*!~?ccarol${tag}@cloak-${tag}\\.example\\.org$`), 'the mask on the new host');
      await bob.waitFor((m) => m.command === 'KICK' && m.params[1] === carol.nick, 10_000, 'KICK');
    });
  });
}
