// Messages through the gateway, both ways, with every extension, through real
// Prosody and ejabberd and a real XMPP client: one-to-one chats with
// contacts, group chats (the MUC module's join), private messages through a
// room, network servers, the gateway itself, notices.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import type { OutgoingMessage } from '../../src/core/message.js';
import type { NetworkAddress } from '../../src/networks/types.js';
import { privilegesOf } from '../../src/xmpp/privilege.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NS = {
  sid: 'urn:xmpp:sid:0',
  receipts: 'urn:xmpp:receipts',
  chatStates: 'http://jabber.org/protocol/chatstates',
  correct: 'urn:xmpp:message-correct:0',
  retract: 'urn:xmpp:message-retract:1',
  reactions: 'urn:xmpp:reactions:0',
  reply: 'urn:xmpp:reply:0',
  fallback: 'urn:xmpp:fallback:0',
  markers: 'urn:xmpp:chat-markers:0',
  oob: 'jabber:x:oob',
  delay: 'urn:xmpp:delay',
  muc: 'http://jabber.org/protocol/muc',
  mucUser: 'http://jabber.org/protocol/muc#user',
};
const USER = 'alice@localhost';

const jidOf = (local: string) => `${local}@${TEST_DOMAIN}`;
const body = (text: string) => xml('body', {}, text);
const chat = (to: string, id: string, ...children: XmlElement[]) => xml('message', { to, type: 'chat', id }, ...children);
const groupchat = (room: string, id: string, ...children: XmlElement[]) => xml('message', { to: jidOf(room), type: 'groupchat', id }, ...children);
const contact = (id: string): NetworkAddress => ({ kind: 'contact', id });
const roomAddress = (id: string): NetworkAddress => ({ kind: 'room', id });

async function eventually<T>(check: () => T | undefined | false, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function stanzaError(el: XmlElement): { condition: string | undefined; text: string | null } {
  const error = el.getChild('error');
  const condition = error?.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')?.name;
  return { condition, text: error?.getChildText('text', STANZAS) ?? null };
}

const stanzaIdOf = (el: XmlElement) => el.getChild('stanza-id', NS.sid);

for (const [kind, start] of SERVERS) {
  describe(`messages through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    let phone: TestXmppClient;

    before(async () => {
      t = await startTestGateway(start);
      alice = await t.client('alice', 'desk');
      phone = await t.client('alice', 'phone');
    });
    after(async () => t?.stop());

    /** The calls of `method` whose first argument is the address `id`. */
    const callsTo = (method: string, id: string) => t.world.callsOf(method).filter((c) => (c.args[0] as NetworkAddress).id === id);
    const sentTo = (id: string) => callsTo('send', id).map((c) => c.args[1] as OutgoingMessage);
    const fromContact = (client: TestXmppClient, local: string, match: (el: XmlElement) => boolean = () => true) =>
      client.waitFor((s) => s.is('message') && s.attrs.from === jidOf(local) && match(s));

    /** A message from a network user to alice; resolves with what her client got. */
    async function remoteChat(local: string, text: string, extra: Parameters<TestGateway['world']['remoteDirect']>[3] = {}) {
      const networkId = t.world.remoteDirect(local, USER, text, extra);
      const got = await fromContact(alice, local, (s) => s.getChildText('body')?.endsWith(text) === true);
      return { networkId, got };
    }

    /** Alice's first message to a contact opens her session; later ones reuse it. */
    async function aliceSays(local: string, id: string, text: string, ...extra: XmlElement[]): Promise<string[]> {
      await alice.send(chat(jidOf(local), id, body(text), xml('request', { xmlns: NS.receipts }), ...extra));
      await fromContact(alice, local, (s) => s.getChild('received', NS.receipts)?.attrs.id === id);
      // The client id is the origin-id when there is one.
      const originId = extra.find((el) => el.is('origin-id', NS.sid))?.attrs.id;
      return t.world.sentIds.get(originId ?? id)!;
    }

    describe('one-to-one', () => {
      test('a chat message goes to the network; the XEP-0184 receipt comes once it was accepted', async () => {
        await alice.send(
          chat(jidOf('bob'), 'c1', body('hello *bob*'), xml('request', { xmlns: NS.receipts }), xml('origin-id', { xmlns: NS.sid, id: 'o-c1' })),
        );
        const receipt = await fromContact(alice, 'bob', (s) => s.getChild('received', NS.receipts) !== undefined);
        assert.equal(receipt.getChild('received', NS.receipts)!.attrs.id, 'c1');
        assert.equal(receipt.getChild('stanza-id', NS.sid), undefined, 'a receipt is not archived: no stanza-id');
        const [sent] = sentTo('bob');
        assert.deepEqual(sent, { xmppId: 'o-c1', body: 'hello *bob*' }, 'XEP-0393 styling passes as text; the origin-id is the client id');
      });

      test('a message the network refuses bounces to the sender with its condition and text, and no receipt', async () => {
        await alice.send(chat(jidOf('bob2'), 'c2', body('please REJECT this'), xml('request', { xmlns: NS.receipts })));
        const bounce = await fromContact(alice, 'bob2', (s) => s.attrs.id === 'c2');
        assert.equal(bounce.attrs.type, 'error');
        const error = stanzaError(bounce);
        assert.equal(error.condition, 'not-acceptable');
        assert.match(error.text ?? '', /refuses messages saying REJECT/);
        await aliceSays('bob2', 'c2b', 'fine now');
        assert.equal(alice.pending().filter((s) => s.getChild('received', NS.receipts)?.attrs.id === 'c2').length, 0);
      });

      test('an oversized body is a policy-violation and never reaches the network', async () => {
        await alice.send(chat(jidOf('bob3'), 'c3', body('x'.repeat(70 * 1024))));
        const bounce = await fromContact(alice, 'bob3', (s) => s.attrs.id === 'c3');
        const error = stanzaError(bounce);
        assert.equal(error.condition, 'policy-violation');
        assert.match(error.text ?? '', /64 KiB/);
        assert.equal(sentTo('bob3').length, 0);
      });

      test('network to user: from the contact, id = stanza-id by the gateway domain, markable; delay when old', async () => {
        const { got } = await remoteChat('bob4', 'hi alice');
        assert.equal(got.attrs.type, 'chat');
        const stanzaId = stanzaIdOf(got)!;
        assert.equal(stanzaId.attrs.by, TEST_DOMAIN);
        assert.equal(got.attrs.id, stanzaId.attrs.id);
        assert.ok(got.getChild('markable', NS.markers));
        assert.equal(got.getChild('delay', NS.delay), undefined, 'live: no delay');
        const old = await remoteChat('bob4', 'said an hour ago', { timestamp: new Date(Date.now() - 3600_000) });
        const delay = old.got.getChild('delay', NS.delay)!;
        assert.ok(Math.abs(new Date(delay.attrs.stamp!).getTime() - (Date.now() - 3600_000)) < 60_000, delay.toString());
        assert.notEqual(stanzaIdOf(old.got)!.attrs.id, stanzaId.attrs.id);
      });

      test('/me actions both ways (XEP-0245)', async () => {
        await aliceSays('bob5', 'c5', '/me waves');
        assert.deepEqual(sentTo('bob5')[0], { xmppId: 'c5', body: 'waves', action: true });
        const { got } = await remoteChat('bob5', 'waves back', { action: true });
        assert.equal(got.getChildText('body'), '/me waves back');
      });

      test('files both ways (XEP-0066): the URL as attachment, and as body plus <x/> to the user', async () => {
        const url = 'https://files.example.org/cat.png';
        await aliceSays('bob6', 'c6', url, xml('x', { xmlns: NS.oob }, xml('url', {}, url)));
        assert.deepEqual(sentTo('bob6')[0], { xmppId: 'c6', body: '', attachments: [{ url }] });
        t.world.remoteDirect('bob6', USER, '', { attachments: [{ url: 'https://m.example.org/dog.jpg', description: 'a dog' }] });
        const got = await fromContact(alice, 'bob6', (s) => s.getChild('x', NS.oob) !== undefined);
        assert.equal(got.getChildText('body'), 'https://m.example.org/dog.jpg');
        assert.equal(got.getChild('x', NS.oob)!.getChildText('url'), 'https://m.example.org/dog.jpg');
        assert.equal(got.getChild('x', NS.oob)!.getChildText('desc'), 'a dog');
      });

      test('chat states both ways (XEP-0085)', async () => {
        await aliceSays('bob7', 'c7', 'opening the session');
        await alice.send(xml('message', { to: jidOf('bob7'), type: 'chat' }, xml('composing', { xmlns: NS.chatStates })));
        const call = await eventually(() => callsTo('setChatState', 'bob7')[0], 'setChatState');
        assert.equal(call.args[1], 'composing');
        t.world.remoteChatState(contact('bob7'), 'bob7', USER, 'paused');
        const got = await fromContact(alice, 'bob7', (s) => s.getChild('paused', NS.chatStates) !== undefined);
        assert.equal(got.getChild('body'), undefined);
        assert.equal(stanzaIdOf(got), undefined, 'not archived, no stanza-id');
      });

      test('corrections both ways (XEP-0308)', async () => {
        const [networkId] = await aliceSays('bob8', 'c8', 'helo');
        await alice.send(chat(jidOf('bob8'), 'c8b', body('hello'), xml('replace', { xmlns: NS.correct, id: 'c8' }), xml('request', { xmlns: NS.receipts })));
        await fromContact(alice, 'bob8', (s) => s.getChild('received', NS.receipts)?.attrs.id === 'c8b');
        const [call] = callsTo('correct', 'bob8');
        assert.deepEqual(call!.args[1], [networkId]);
        assert.equal((call!.args[2] as OutgoingMessage).body, 'hello');
        // The second correction still names the original (XEP-0308 §4).
        await alice.send(chat(jidOf('bob8'), 'c8c', body('hello!'), xml('replace', { xmlns: NS.correct, id: 'c8' })));
        await eventually(() => callsTo('correct', 'bob8').length === 2, 'second correction');
        assert.deepEqual(callsTo('correct', 'bob8')[1]!.args[1], [networkId]);

        const { networkId: theirs, got } = await remoteChat('bob8', 'teh typo');
        t.world.remoteCorrect(contact('bob8'), 'bob8', USER, theirs, 'the typo');
        const corrected = await fromContact(alice, 'bob8', (s) => s.getChildText('body') === 'the typo');
        assert.equal(corrected.getChild('replace', NS.correct)!.attrs.id, got.attrs.id);
        assert.ok(stanzaIdOf(corrected), 'a correction is archived');
      });

      test('retractions both ways (XEP-0424); only your own', async () => {
        const [networkId] = await aliceSays('bob9', 'c9', 'oops', xml('origin-id', { xmlns: NS.sid, id: 'o-c9' }));
        await alice.send(
          chat(jidOf('bob9'), 'c9r', xml('retract', { xmlns: NS.retract, id: 'o-c9' }), xml('fallback', { xmlns: NS.fallback, for: NS.retract }), body('retracted')),
        );
        const call = await eventually(() => callsTo('retract', 'bob9')[0], 'retract');
        assert.deepEqual(call.args[1], [networkId]);

        const { networkId: theirs, got } = await remoteChat('bob9', 'delete me');
        await alice.send(chat(jidOf('bob9'), 'c9x', xml('retract', { xmlns: NS.retract, id: got.attrs.id! })));
        const refused = await fromContact(alice, 'bob9', (s) => s.attrs.id === 'c9x');
        assert.equal(stanzaError(refused).condition, 'not-allowed');

        t.world.remoteRetract(contact('bob9'), 'bob9', USER, theirs);
        const retraction = await fromContact(alice, 'bob9', (s) => s.getChild('retract', NS.retract) !== undefined);
        assert.equal(retraction.getChild('retract', NS.retract)!.attrs.id, got.attrs.id);
        assert.equal(retraction.getChild('fallback', NS.fallback)!.attrs.for, NS.retract);
        assert.ok(retraction.getChildText('body'), 'a fallback body for clients without XEP-0424');
      });

      test('reactions both ways (XEP-0444)', async () => {
        const { networkId: theirs, got } = await remoteChat('bob10', 'react to me');
        await alice.send(chat(jidOf('bob10'), 'c10', xml('reactions', { xmlns: NS.reactions, id: got.attrs.id! }, xml('reaction', {}, '👍'))));
        const call = await eventually(() => callsTo('react', 'bob10')[0], 'react');
        assert.deepEqual(call.args.slice(1), [theirs, ['👍']]);

        const [mine] = await aliceSays('bob10', 'c10b', 'mine', xml('origin-id', { xmlns: NS.sid, id: 'o-c10b' }));
        t.world.remoteReact(contact('bob10'), 'bob10', USER, mine!, ['🎉', '❤']);
        const reaction = await fromContact(alice, 'bob10', (s) => s.getChild('reactions', NS.reactions) !== undefined);
        const reactions = reaction.getChild('reactions', NS.reactions)!;
        assert.equal(reactions.attrs.id, 'o-c10b', 'in a chat, the origin-id of the message');
        assert.deepEqual(reactions.getChildren('reaction').map((r) => r.text()), ['🎉', '❤']);
      });

      test('replies both ways (XEP-0461): the fallback quote is stripped for the network and made for the user', async () => {
        const { networkId: theirs, got } = await remoteChat('bob11', 'lunch at noon?');
        const quote = '> lunch at noon?\n';
        await alice.send(
          chat(
            jidOf('bob11'),
            'c11',
            body(`${quote}yes!`),
            xml('reply', { xmlns: NS.reply, id: got.attrs.id!, to: jidOf('bob11') }),
            xml('fallback', { xmlns: NS.fallback, for: NS.reply }, xml('body', { start: '0', end: String(Array.from(quote).length) })),
          ),
        );
        const sent = await eventually(() => sentTo('bob11')[0], 'send');
        assert.deepEqual(sent, { xmppId: 'c11', body: 'yes!', replyTo: { id: theirs, quote } });

        t.world.remoteDirect('bob11', USER, 'great', { replyTo: { id: t.world.sentIds.get('c11')![0]! } });
        const reply = await fromContact(alice, 'bob11', (s) => s.getChild('reply', NS.reply) !== undefined);
        assert.deepEqual({ ...reply.getChild('reply', NS.reply)!.attrs }, { xmlns: NS.reply, id: 'c11', to: USER });
        const text = reply.getChildText('body')!;
        const range = reply.getChild('fallback', NS.fallback)!.getChild('body')!;
        assert.equal(Array.from(text).slice(Number(range.attrs.end)).join(''), 'great');
        assert.match(text, /^> .*yes!/);
      });

      test('displayed markers both ways (XEP-0333)', async () => {
        const { networkId: theirs, got } = await remoteChat('bob12', 'did you read this?');
        await alice.send(xml('message', { to: jidOf('bob12'), type: 'chat', id: 'c12' }, xml('displayed', { xmlns: NS.markers, id: got.attrs.id! })));
        const call = await eventually(() => callsTo('markDisplayed', 'bob12')[0], 'markDisplayed');
        assert.equal(call.args[1], theirs);

        const [mine] = await aliceSays('bob12', 'c12b', 'and you mine?');
        t.world.sessionOf(USER)!.sink.displayed(contact('bob12'), 'bob12', mine!);
        const marker = await fromContact(alice, 'bob12', (s) => s.getChild('displayed', NS.markers) !== undefined);
        assert.equal(marker.getChild('displayed', NS.markers)!.attrs.id, 'c12b');
      });

      test('a correction or reaction pointing at an unknown message is item-not-found', async () => {
        await aliceSays('bob13', 'c13', 'open');
        await alice.send(chat(jidOf('bob13'), 'c13a', body('x'), xml('replace', { xmlns: NS.correct, id: 'never-sent' })));
        assert.equal(stanzaError(await fromContact(alice, 'bob13', (s) => s.attrs.id === 'c13a')).condition, 'item-not-found');
        await alice.send(chat(jidOf('bob13'), 'c13b', xml('reactions', { xmlns: NS.reactions, id: 'never-seen' }, xml('reaction', {}, '👍'))));
        assert.equal(stanzaError(await fromContact(alice, 'bob13', (s) => s.attrs.id === 'c13b')).condition, 'item-not-found');
      });

      test('a client resending the same id is not sent twice', async () => {
        await aliceSays('bob14', 'c14', 'only once');
        await aliceSays('bob14', 'c14', 'only once');
        assert.equal(sentTo('bob14').length, 1);
      });

      test('a message with nothing to pass on is ignored, not bounced', async () => {
        await aliceSays('bob15', 'c15', 'open');
        await alice.send(xml('message', { to: jidOf('bob15'), type: 'chat', id: 'c15-empty' }, body('')));
        await alice.send(xml('message', { to: jidOf('bob15'), type: 'chat', id: 'c15-recv' }, xml('received', { xmlns: NS.receipts, id: 'x' })));
        await aliceSays('bob15', 'c15b', 'after');
        assert.deepEqual(sentTo('bob15').map((m) => m.xmppId), ['c15', 'c15b']);
        assert.equal(alice.pending().filter((s) => s.attrs.type === 'error' && s.attrs.id?.startsWith('c15')).length, 0);
      });

      test('my own message from another client on the network shows as mine, or marked "[you]"', async () => {
        await aliceSays('bob16', 'c16', 'from xmpp');
        const privileged = privilegesOf(t.gateway.ponte.router).get(TEST_DOMAIN, 'localhost')?.message === 'outgoing';
        t.world.remoteDirect('bob16', USER, 'from my other client', { own: true });
        if (privileged) {
          // Sent on alice's behalf: her server routes it to bob16 as hers and back to us, where it must not be re-sent.
          await eventually(() => t.gateway.logs().some((line) => line.includes('message already passed on')), 'the privileged copy came back');
          assert.deepEqual(sentTo('bob16').map((m) => m.body), ['from xmpp']);
        } else {
          const got = await fromContact(alice, 'bob16', (s) => s.getChildText('body')?.includes('from my other client') === true);
          assert.equal(got.getChildText('body'), '[you] from my other client');
        }
      });
    });

    describe('servers, the gateway, notices', () => {
      test('a message to a network server goes to it (IRC: a raw line)', async () => {
        await alice.send(chat(jidOf('irc.example.net'), 's1', body('VERSION'), xml('request', { xmlns: NS.receipts })));
        await fromContact(alice, 'irc.example.net', (s) => s.getChild('received', NS.receipts)?.attrs.id === 's1');
        assert.deepEqual(sentTo('irc.example.net'), [{ xmppId: 's1', body: 'VERSION' }]);
      });

      test('a message to the gateway gets a help text about addresses', async () => {
        await alice.send(xml('message', { to: TEST_DOMAIN, type: 'chat', id: 'g1' }, body('help?')));
        const help = await alice.waitFor((s) => s.is('message') && s.attrs.from === TEST_DOMAIN && s.getChildText('body') !== null);
        assert.equal(help.attrs.type, 'chat');
        assert.match(help.getChildText('body')!, new RegExp(`%.*@${TEST_DOMAIN.replace('.', '\\.')}`));
      });

      test('notices: from the gateway, the server or a contact, as chat messages with stanza-ids', async () => {
        await aliceSays('bob17', 'n0', 'open');
        t.world.remoteNotice(USER, 'The network restarts in 5 minutes');
        const fromGateway = await alice.waitFor((s) => s.is('message') && s.attrs.from === TEST_DOMAIN && /restarts/.test(s.getChildText('body') ?? ''));
        assert.equal(fromGateway.attrs.type, 'chat');
        assert.equal(stanzaIdOf(fromGateway)!.attrs.by, TEST_DOMAIN);
        t.world.remoteNotice(USER, '*** Looking up your hostname', { kind: 'server', id: 'irc.example.net' });
        const fromServer = await fromContact(alice, 'irc.example.net', (s) => /hostname/.test(s.getChildText('body') ?? ''));
        assert.equal(fromServer.attrs.type, 'chat');
      });
    });

    describe('group chat', () => {
      const ROOM = '#msgs';
      async function join(client: TestXmppClient, room: string, nick: string): Promise<void> {
        await client.send(xml('presence', { to: `${jidOf(room)}/${nick}` }, xml('x', { xmlns: NS.muc })));
        await client.waitFor((s) => s.is('message') && s.attrs.from?.split('/')[0] === jidOf(room) && s.getChild('subject') !== undefined && !s.getChild('body'));
      }
      const fromRoom = (client: TestXmppClient, room: string, match: (el: XmlElement) => boolean) =>
        client.waitFor((s) => s.is('message') && s.attrs.from?.split('/')[0] === jidOf(room) && match(s));

      before(async () => {
        t.world.remoteJoin(ROOM, 'bob');
        await join(alice, ROOM, 'alice');
        await join(phone, ROOM, 'alice');
      });

      test('the user\'s message is reflected to every joined resource, after the network accepted it, with her id, origin-id and a stanza-id by the room', async () => {
        await alice.send(groupchat(ROOM, 'g1', body('hello room'), xml('origin-id', { xmlns: NS.sid, id: 'o-g1' })));
        const mine = await fromRoom(alice, ROOM, (s) => s.attrs.id === 'g1');
        const other = await fromRoom(phone, ROOM, (s) => s.attrs.id === 'g1');
        assert.deepEqual(sentTo(ROOM).find((m) => m.xmppId === 'o-g1'), { xmppId: 'o-g1', body: 'hello room' }, 'sent before the reflection');
        for (const reflection of [mine, other]) {
          assert.equal(reflection.attrs.from, `${jidOf(ROOM)}/alice`);
          assert.equal(reflection.attrs.type, 'groupchat');
          assert.equal(reflection.getChildText('body'), 'hello room');
          assert.equal(reflection.getChild('origin-id', NS.sid)!.attrs.id, 'o-g1');
          assert.equal(stanzaIdOf(reflection)!.attrs.by, jidOf(ROOM));
        }
        assert.equal(stanzaIdOf(mine)!.attrs.id, stanzaIdOf(other)!.attrs.id, 'one archive entry, one stanza-id');
      });

      test('a refused message: an error to the sending resource with the network\'s reason, no reflection anywhere', async () => {
        await alice.send(groupchat(ROOM, 'g2', body('REJECT me')));
        const bounce = await fromRoom(alice, ROOM, (s) => s.attrs.id === 'g2');
        assert.equal(bounce.attrs.type, 'error');
        assert.equal(bounce.attrs.from, jidOf(ROOM));
        assert.equal(stanzaError(bounce).condition, 'not-acceptable');
        assert.match(stanzaError(bounce).text ?? '', /REJECT/);
        // What was sent after it is reflected; the refused one never was.
        await alice.send(groupchat(ROOM, 'g2b', body('accepted')));
        await fromRoom(phone, ROOM, (s) => s.attrs.id === 'g2b');
        await fromRoom(alice, ROOM, (s) => s.attrs.id === 'g2b');
        assert.equal([...phone.pending(), ...alice.pending()].filter((s) => s.attrs.id === 'g2' && s.attrs.type !== 'error').length, 0);
      });

      test('network to room: every joined resource, from room/nick, id = stanza-id by the room', async () => {
        t.world.remoteSay(ROOM, 'bob', 'hi all');
        const a = await fromRoom(alice, ROOM, (s) => s.getChildText('body') === 'hi all');
        const p = await fromRoom(phone, ROOM, (s) => s.getChildText('body') === 'hi all');
        for (const got of [a, p]) {
          assert.equal(got.attrs.from, `${jidOf(ROOM)}/bob`);
          assert.equal(stanzaIdOf(got)!.attrs.by, jidOf(ROOM));
          assert.equal(got.attrs.id, stanzaIdOf(got)!.attrs.id);
        }
        assert.equal(stanzaIdOf(a)!.attrs.id, stanzaIdOf(p)!.attrs.id);
      });

      test('corrections, retractions, reactions and replies in a room use the room\'s stanza-ids', async () => {
        const bobsId = t.world.remoteSay(ROOM, 'bob', 'react here');
        const bobs = await fromRoom(alice, ROOM, (s) => s.getChildText('body') === 'react here');
        const sid = stanzaIdOf(bobs)!.attrs.id!;

        await alice.send(groupchat(ROOM, 'g3', xml('reactions', { xmlns: NS.reactions, id: sid }, xml('reaction', {}, '👀'))));
        await fromRoom(phone, ROOM, (s) => s.attrs.id === 'g3' && s.getChild('reactions', NS.reactions)?.attrs.id === sid);
        assert.deepEqual(callsTo('react', ROOM).at(-1)!.args.slice(1), [bobsId, ['👀']]);

        await alice.send(groupchat(ROOM, 'g4', body('typo'), xml('origin-id', { xmlns: NS.sid, id: 'o-g4' })));
        const reflected = await fromRoom(alice, ROOM, (s) => s.attrs.id === 'g4');
        const mySid = stanzaIdOf(reflected)!.attrs.id!;
        const myNetworkId = t.world.sentIds.get('o-g4')![0]!;
        await alice.send(groupchat(ROOM, 'g5', body('no typo'), xml('replace', { xmlns: NS.correct, id: 'g4' })));
        await fromRoom(phone, ROOM, (s) => s.attrs.id === 'g5' && s.getChild('replace', NS.correct)?.attrs.id === 'g4');
        assert.deepEqual(callsTo('correct', ROOM).at(-1)!.args[1], [myNetworkId]);

        await alice.send(groupchat(ROOM, 'g6', xml('retract', { xmlns: NS.retract, id: mySid }), body('retracted')));
        await fromRoom(phone, ROOM, (s) => s.attrs.id === 'g6' && s.getChild('retract', NS.retract)?.attrs.id === mySid);
        assert.deepEqual(callsTo('retract', ROOM).at(-1)!.args[1], [myNetworkId]);

        // From the network: reactions and retractions name the stanza-id; a correction the id attribute.
        t.world.remoteReact(roomAddress(ROOM), 'bob', USER, bobsId, ['✅']);
        const reaction = await fromRoom(alice, ROOM, (s) => s.getChild('reactions', NS.reactions) !== undefined && s.attrs.from === `${jidOf(ROOM)}/bob`);
        assert.equal(reaction.getChild('reactions', NS.reactions)!.attrs.id, sid);
        t.world.remoteCorrect(roomAddress(ROOM), 'bob', USER, bobsId, 'react HERE');
        const correction = await fromRoom(alice, ROOM, (s) => s.getChildText('body') === 'react HERE');
        assert.equal(correction.getChild('replace', NS.correct)!.attrs.id, bobs.attrs.id);
        t.world.remoteSay(ROOM, 'bob', 'replying', { replyTo: { id: myNetworkId, nick: 'alice' } });
        const reply = await fromRoom(alice, ROOM, (s) => s.getChild('reply', NS.reply) !== undefined);
        assert.deepEqual({ ...reply.getChild('reply', NS.reply)!.attrs }, { xmlns: NS.reply, id: mySid, to: `${jidOf(ROOM)}/alice` });
        t.world.remoteRetract(roomAddress(ROOM), 'bob', USER, bobsId);
        const retraction = await fromRoom(alice, ROOM, (s) => s.getChild('retract', NS.retract) !== undefined && s.attrs.from === `${jidOf(ROOM)}/bob`);
        assert.equal(retraction.getChild('retract', NS.retract)!.attrs.id, sid);
      });

      test('the user\'s own message from elsewhere on the network shows from her nick; the echo of what she sent here does not', async () => {
        t.world.remoteSay(ROOM, 'alice', 'the network echoes this', { own: true, xmppId: 'o-g1' });
        t.world.remoteSay(ROOM, 'alice', 'from my other client', { own: true });
        const other = await fromRoom(phone, ROOM, (s) => s.getChildText('body') === 'from my other client');
        assert.equal(other.attrs.from, `${jidOf(ROOM)}/alice`);
        assert.ok(stanzaIdOf(other));
        await fromRoom(alice, ROOM, (s) => s.getChildText('body') === 'from my other client');
        assert.equal([...alice.pending(), ...phone.pending()].filter((s) => s.getChildText('body') === 'the network echoes this').length, 0);
      });

      test('chat states and markers in a room', async () => {
        await alice.send(xml('message', { to: jidOf(ROOM), type: 'groupchat' }, xml('composing', { xmlns: NS.chatStates })));
        const call = await eventually(() => callsTo('setChatState', ROOM)[0], 'setChatState');
        assert.equal(call.args[1], 'composing');
        t.world.remoteChatState(roomAddress(ROOM), 'bob', USER, 'composing');
        await fromRoom(phone, ROOM, (s) => s.attrs.from === `${jidOf(ROOM)}/bob` && s.getChild('composing', NS.chatStates) !== undefined);
        const bobsId = t.world.remoteSay(ROOM, 'bob', 'mark me');
        const got = await fromRoom(alice, ROOM, (s) => s.getChildText('body') === 'mark me');
        await alice.send(xml('message', { to: jidOf(ROOM), type: 'groupchat' }, xml('displayed', { xmlns: NS.markers, id: stanzaIdOf(got)!.attrs.id! })));
        const marked = await eventually(() => callsTo('markDisplayed', ROOM)[0], 'markDisplayed');
        assert.equal(marked.args[1], bobsId);
      });

      test('private messages through the room, both ways', async () => {
        t.world.remotePrivate(ROOM, 'bob', USER, 'psst');
        const pm = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${jidOf(ROOM)}/bob` && s.getChildText('body') === 'psst');
        assert.equal(pm.attrs.type, 'chat');
        assert.ok(pm.getChild('x', NS.mucUser), 'XEP-0045 §7.5: marked as a private message');
        assert.equal(stanzaIdOf(pm)!.attrs.by, TEST_DOMAIN);
        await alice.send(xml('message', { to: `${jidOf(ROOM)}/bob`, type: 'chat', id: 'pm1' }, body('psst back'), xml('request', { xmlns: NS.receipts })));
        await alice.waitFor((s) => s.attrs.from === `${jidOf(ROOM)}/bob` && s.getChild('received', NS.receipts)?.attrs.id === 'pm1');
        const call = t.world.callsOf('sendPrivate').at(-1)!;
        assert.deepEqual(call.args.slice(0, 2), [roomAddress(ROOM), 'bob']);
        assert.equal((call.args[2] as OutgoingMessage).body, 'psst back');
      });

      test('a XEP-0249 invitation in a chat message to a contact becomes the network\'s invite', async () => {
        await alice.send(chat(jidOf('henry'), 'inv1', xml('x', { xmlns: 'jabber:x:conference', jid: jidOf(ROOM), reason: 'join us' })));
        const call = await eventually(() => t.world.callsOf('invite').find((c) => (c.args[1] as NetworkAddress).id === 'henry'), 'invite');
        assert.deepEqual(call.args, [roomAddress(ROOM), contact('henry'), 'join us']);
        assert.equal(sentTo('henry').length, 0, 'not also sent as a message');
      });

      test('a private message to a room the user is not in is not-acceptable', async () => {
        await alice.send(xml('message', { to: `${jidOf('#elsewhere')}/bob`, type: 'chat', id: 'pm2' }, body('hi')));
        const bounce = await alice.waitFor((s) => s.attrs.id === 'pm2');
        assert.equal(stanzaError(bounce).condition, 'not-acceptable');
      });
    });
  });
}
