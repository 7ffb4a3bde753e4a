// IRCv3 end to end, through Prosody and ejabberd, on a real InspIRCd 3 with
// its ircv3 modules (echo-message, labeled-response, msgid, server-time,
// message-tags with client tags, away-notify): the user's message is
// reflected only after the server's echo and keeps the server's msgid, so a
// reply from IRC (+draft/reply) points at it; a line the server refuses
// bounces with the server's words; typing (+typing) and reactions
// (+draft/react) go both ways; an IRC user going away shows in presence;
// mIRC formatting and XEP-0393 styling both ways; server-time gives a delay
// only to what is old (the server's chanhistory replay on join), not to
// live messages; with labeled-response, the echo of a raw line does not
// complete the XMPP message written after it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { connectIrc, startInspircd, type IrcConnection, type IrcServer } from '../harness/irc-server.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { joinRoom, nickOfPrefix, roomJid, SERVER } from '../harness/irc-e2e.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const CHAT_STATES = 'http://jabber.org/protocol/chatstates';
const REPLY = 'urn:xmpp:reply:0';
const REACTIONS = 'urn:xmpp:reactions:0';
const SID = 'urn:xmpp:sid:0';
const DELAY = 'urn:xmpp:delay';
const CAPS = ['message-tags', 'server-time', 'echo-message'];

const stanzaIdOf = (el: XmlElement) => el.getChild('stanza-id', SID)?.attrs.id;

let irc: IrcServer;
before(async () => {
  irc = await startInspircd();
});
after(async () => {
  await irc?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`IRCv3 through ${kind} and InspIRCd`, () => {
    const tag = kind === 'Prosody' ? 'p' : 'e';
    let t: TestGateway;
    let alice: TestXmppClient;
    const ircClients: IrcConnection[] = [];

    /** An IRC user with message tags in `channel`, where alice is too. */
    async function setup(name: string): Promise<{ channel: string; nick: string; bob: IrcConnection }> {
      const channel = `#${name}${tag}`;
      const nick = `alice${tag}`;
      const bob = await connectIrc(irc, `bob${name}${tag}`.slice(0, 20), { caps: CAPS });
      ircClients.push(bob);
      bob.send(`JOIN ${channel}`);
      await bob.waitFor((m) => m.command === '366', 10_000, 'end of NAMES');
      await joinRoom(alice, channel, nick);
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick, 10_000, 'JOIN of alice');
      return { channel, nick, bob };
    }

    before(async () => {
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain` } });
      alice = await t.client('alice');
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
    });

    test('the reflection waits for the echo and the message keeps the server msgid, so an IRC reply points at it', async () => {
      const { channel, nick, bob } = await setup('echo');
      await alice.send(xml('message', { to: roomJid(channel), type: 'groupchat', id: `e1${tag}` }, xml('body', {}, 'hello with tags')));
      const line = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === 'hello with tags', 10_000, 'the message');
      const msgid = line.tags.msgid;
      assert.ok(msgid, `no msgid on ${line.raw}`);
      const reflection = await alice.waitFor((s) => s.is('message') && s.attrs.id === `e1${tag}`, 10_000);
      assert.equal(reflection.attrs.from, `${roomJid(channel)}/${nick}`);
      const stanzaId = stanzaIdOf(reflection);
      assert.ok(stanzaId, reflection.toString());
      // The echo itself never comes back as a second message.
      bob.send(`@+draft/reply=${msgid} PRIVMSG ${channel} :${nick}: right back at you`);
      const reply = await alice.waitFor((s) => s.is('message') && s.getChildText('body')?.includes('right back at you') === true, 10_000);
      assert.equal(reply.getChild('reply', REPLY)?.attrs.id, stanzaId, reply.toString());
      const doubles = alice.pending().filter((s) => s.is('message') && s.getChildText('body') === 'hello with tags');
      assert.deepEqual(doubles.map(String), []);
    });

    test('labeled-response: an echo of a line nobody waits for (a raw line) does not complete the next message', async () => {
      const { channel, nick, bob } = await setup('label');
      // A raw line on the server JID, then a message from the room, written one right after the other.
      await alice.send(xml('message', { to: `${SERVER}@irc.localhost`, type: 'chat' }, xml('body', {}, `PRIVMSG ${channel} :typed as raw IRC`)));
      await alice.send(xml('message', { to: roomJid(channel), type: 'groupchat', id: `l1${tag}` }, xml('body', {}, 'sent from the room')));
      const raw = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === 'typed as raw IRC', 10_000, 'the raw line');
      const line = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === 'sent from the room', 10_000, 'the message');
      assert.notEqual(raw.tags.msgid, line.tags.msgid);
      const reflection = await alice.waitFor((s) => s.is('message') && s.attrs.id === `l1${tag}`, 10_000);
      // The message keeps its own line's msgid (matched by label), so a reply to that line points at it.
      bob.send(`@+draft/reply=${line.tags.msgid} PRIVMSG ${channel} :${nick}: answering the room message`);
      const reply = await alice.waitFor((s) => s.is('message') && s.getChildText('body')?.includes('answering the room message') === true, 10_000);
      assert.equal(reply.getChild('reply', REPLY)?.attrs.id, stanzaIdOf(reflection), reply.toString());
    });

    test('a line the server refuses bounces with its reason, and is not reflected', async () => {
      const { channel, nick, bob } = await setup('refuse');
      bob.send(`MODE ${channel} +b ${nick}!*@*`);
      await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+b', 10_000, 'the ban');
      await alice.send(xml('message', { to: roomJid(channel), type: 'groupchat', id: `r1${tag}` }, xml('body', {}, 'am I banned?')));
      const bounce = await alice.waitFor((s) => s.is('message') && s.attrs.id === `r1${tag}`, 10_000);
      assert.equal(bounce.attrs.type, 'error', bounce.toString());
      const error = bounce.getChild('error')!;
      assert.ok(error.getChild('forbidden', STANZAS), error.toString());
      assert.match(error.getChildText('text', STANZAS) ?? '', /refused the message/);
      assert.equal(bob.pending().filter((m) => m.command === 'PRIVMSG').length, 0);
    });

    test('typing goes both ways as +typing', async () => {
      const { channel, nick, bob } = await setup('typing');
      await alice.send(xml('message', { to: roomJid(channel), type: 'groupchat' }, xml('composing', { xmlns: CHAT_STATES })));
      const typing = await bob.waitFor((m) => m.command === 'TAGMSG' && m.params[0] === channel, 10_000, 'TAGMSG +typing');
      assert.equal(typing.tags['+typing'], 'active');
      assert.equal(nickOfPrefix(typing.prefix), nick);
      bob.send(`@+typing=active TAGMSG ${channel}`);
      const composing = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${roomJid(channel)}/${bob.nick}` && s.getChild('composing', CHAT_STATES) !== undefined, 10_000);
      assert.equal(composing.attrs.type, 'groupchat');
    });

    test('reactions go both ways as +draft/react on the message ids', async () => {
      const { channel, bob } = await setup('react');
      bob.send(`PRIVMSG ${channel} :react to this`);
      const own = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === 'react to this', 10_000, 'the echo of bob');
      const bobMsgid = own.tags.msgid!;
      const fromBob = await alice.waitFor((s) => s.is('message') && s.getChildText('body') === 'react to this', 10_000);
      const bobStanzaId = stanzaIdOf(fromBob)!;
      await alice.send(
        xml('message', { to: roomJid(channel), type: 'groupchat', id: `x1${tag}` }, xml('reactions', { xmlns: REACTIONS, id: bobStanzaId }, xml('reaction', {}, '👍'))),
      );
      const react = await bob.waitFor((m) => m.command === 'TAGMSG' && m.tags['+draft/react'] !== undefined, 10_000, 'TAGMSG +draft/react');
      assert.equal(react.tags['+draft/react'], '👍');
      assert.equal(react.tags['+draft/reply'], bobMsgid);

      await alice.send(xml('message', { to: roomJid(channel), type: 'groupchat', id: `x2${tag}` }, xml('body', {}, 'react to me')));
      const mine = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === 'react to me', 10_000, 'alice message');
      const reflected = await alice.waitFor((s) => s.is('message') && s.attrs.id === `x2${tag}`, 10_000);
      bob.send(`@+draft/react=🎉;+draft/reply=${mine.tags.msgid} TAGMSG ${channel}`);
      const reaction = await alice.waitFor(
        (s) => s.is('message') && s.attrs.from === `${roomJid(channel)}/${bob.nick}` && s.getChild('reactions', REACTIONS) !== undefined,
        10_000,
      );
      const reactions = reaction.getChild('reactions', REACTIONS)!;
      assert.equal(reactions.attrs.id, stanzaIdOf(reflected), reaction.toString());
      assert.deepEqual(reactions.getChildren('reaction').map((r) => r.getText()), ['🎉']);
      assert.equal(reaction.attrs.from, `${roomJid(channel)}/${bob.nick}`);
    });

    test('formatting both ways: mIRC codes become XEP-0393 styling, styling becomes mIRC codes', async () => {
      const { channel, nick, bob } = await setup('style');
      bob.send(`PRIVMSG ${channel} :\x02bold\x02 \x1Ditalic\x1D \x0304,12red on blue\x03 \x1Estruck\x1E \x11mono\x11 \x1Funder\x1F`);
      const styled = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${roomJid(channel)}/${bob.nick}`, 10_000);
      assert.equal(styled.getChildText('body'), '*bold* _italic_ red on blue ~struck~ `mono` under');

      await alice.send(xml('message', { to: roomJid(channel), type: 'groupchat' }, xml('body', {}, '*bold* _italic_ ~struck~ `mono` 2*3*4')));
      const line = await bob.waitFor((m) => m.command === 'PRIVMSG' && nickOfPrefix(m.prefix) === nick, 10_000, 'the styled line');
      assert.equal(line.params[1], '\x02bold\x02 \x1Ditalic\x1D \x1Estruck\x1E \x11mono\x11 2*3*4');
    });

    test('server-time: a live message has no delay; history the server replays on join keeps its time as a XEP-0203 delay', async () => {
      const { channel, bob } = await setup('stime');
      bob.send(`PRIVMSG ${channel} :live one`);
      const echo = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === 'live one', 10_000, 'the echo');
      assert.ok(echo.tags.time, `the server gives server-time: ${echo.raw}`);
      const live = await alice.waitFor((s) => s.is('message') && s.getChildText('body') === 'live one', 10_000);
      assert.equal(live.getChild('delay', DELAY), undefined, live.toString());

      // InspIRCd's chanhistory replays the channel's last lines to a joiner, with their server-time.
      const replayed = `#stimeh${tag}`;
      bob.send(`JOIN ${replayed}`);
      await bob.waitFor((m) => m.command === '366' && m.params[1] === replayed, 10_000, 'NAMES');
      bob.send(`MODE ${replayed} +H 10:1h`);
      await bob.waitFor((m) => m.command === 'MODE' && m.params[1] === '+H', 10_000, 'MODE +H');
      bob.send(`PRIVMSG ${replayed} :said before you came`);
      const said = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === 'said before you came', 10_000, 'the echo');
      // Older than the gateway's threshold for a delay (5 s).
      await new Promise((resolve) => setTimeout(resolve, 5_500));
      const stanzas = await joinRoom(alice, replayed, `alice${tag}`);
      const history = stanzas.find((s) => s.is('message') && s.getChildText('body') === 'said before you came')
        ?? (await alice.waitFor((s) => s.is('message') && s.getChildText('body') === 'said before you came', 10_000));
      assert.equal(history.attrs.from, `${roomJid(replayed)}/${bob.nick}`);
      // The stamp is in whole seconds (XEP-0082 without the fraction).
      const second = (iso: string) => Math.floor(Date.parse(iso) / 1000);
      assert.equal(second(history.getChild('delay', DELAY)?.attrs.stamp ?? ''), second(said.tags.time!), history.toString());
    });

    test('an IRC user going away and coming back shows in their presence', async () => {
      const { channel, bob } = await setup('away');
      bob.send('AWAY :at lunch');
      const away = await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${bob.nick}` && s.getChildText('show') === 'away', 10_000);
      assert.equal(away.getChildText('status'), 'at lunch');
      bob.send('AWAY');
      const back = await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${bob.nick}` && s.attrs.type !== 'unavailable' && !s.getChild('show'), 10_000);
      assert.ok(back);
    });
  });
}
