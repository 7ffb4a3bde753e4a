// A network that lacks the optional message features: each one gets a
// readable fallback or feature-not-implemented, never a silent drop; hints
// (chat states, markers) are simply not passed on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import type { OutgoingMessage } from '../../src/core/message.js';
import type { NetworkAddress } from '../../src/networks/types.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NS = {
  receipts: 'urn:xmpp:receipts',
  chatStates: 'http://jabber.org/protocol/chatstates',
  correct: 'urn:xmpp:message-correct:0',
  retract: 'urn:xmpp:message-retract:1',
  reactions: 'urn:xmpp:reactions:0',
  reply: 'urn:xmpp:reply:0',
  fallback: 'urn:xmpp:fallback:0',
  markers: 'urn:xmpp:chat-markers:0',
  oob: 'jabber:x:oob',
  muc: 'http://jabber.org/protocol/muc',
};
const USER = 'alice@localhost';
const jidOf = (local: string) => `${local}@${TEST_DOMAIN}`;
const body = (text: string) => xml('body', {}, text);
const receiptRequest = () => xml('request', { xmlns: NS.receipts });
const chat = (to: string, id: string, ...children: XmlElement[]) => xml('message', { to, type: 'chat', id }, ...children);

function condition(el: XmlElement): { name: string | undefined; text: string | null } {
  const error = el.getChild('error');
  return {
    name: error?.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')?.name,
    text: error?.getChildText('text', STANZAS) ?? null,
  };
}

for (const [kind, start] of SERVERS) {
  describe(`messages on a network without the optional features, through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    before(async () => {
      t = await startTestGateway(start, { capabilities: ['rooms', 'contacts'] });
      alice = await t.client('alice');
    });
    after(async () => t?.stop());

    const sentTo = (id: string) =>
      t.world
        .callsOf('send')
        .filter((c) => (c.args[0] as NetworkAddress).id === id)
        .map((c) => c.args[1] as OutgoingMessage);
    const reply = (local: string, id: string) =>
      alice.waitFor((s) => s.is('message') && s.attrs.from === jidOf(local) && (s.attrs.id === id || s.getChild('received', NS.receipts)?.attrs.id === id));
    async function says(local: string, id: string, ...children: XmlElement[]) {
      await alice.send(chat(jidOf(local), id, ...children, receiptRequest()));
      const answer = await reply(local, id);
      assert.notEqual(answer.attrs.type, 'error', answer.toString());
    }

    test('a correction becomes a new message "* text"', async () => {
      await says('bob', 'f1', body('helo'));
      await says('bob', 'f2', body('hello'), xml('replace', { xmlns: NS.correct, id: 'f1' }));
      assert.deepEqual(sentTo('bob'), [
        { xmppId: 'f1', body: 'helo' },
        { xmppId: 'f2', body: '* hello' },
      ]);
      assert.equal(t.world.callsOf('correct').length, 0);
    });

    test('retractions and reactions: feature-not-implemented with a text', async () => {
      await says('bob2', 'f3', body('oops'));
      await alice.send(chat(jidOf('bob2'), 'f4', xml('retract', { xmlns: NS.retract, id: 'f3' }), body('retracted')));
      const retract = condition(await reply('bob2', 'f4'));
      assert.equal(retract.name, 'feature-not-implemented');
      assert.match(retract.text ?? '', /does not support retracting/);
      await alice.send(chat(jidOf('bob2'), 'f5', xml('reactions', { xmlns: NS.reactions, id: 'f3' }, xml('reaction', {}, '👍'))));
      const react = condition(await reply('bob2', 'f5'));
      assert.equal(react.name, 'feature-not-implemented');
      assert.match(react.text ?? '', /does not support reactions/);
      assert.deepEqual(sentTo('bob2').map((m) => m.xmppId), ['f3'], 'nothing sent in their place');
    });

    test('a reply keeps its quote in the text; a file is its URL', async () => {
      const networkId = t.world.remoteDirect('bob3', USER, 'question');
      const got = await alice.waitFor((s) => s.attrs.from === jidOf('bob3') && s.getChildText('body') === 'question');
      assert.equal(got.getChild('markable', NS.markers), undefined, 'no markers on this network');
      assert.ok(networkId);
      const quote = '> question\n';
      await says(
        'bob3',
        'f6',
        body(`${quote}answer`),
        xml('reply', { xmlns: NS.reply, id: got.attrs.id! }),
        xml('fallback', { xmlns: NS.fallback, for: NS.reply }, xml('body', { start: '0', end: String(quote.length) })),
      );
      const url = 'https://files.example.org/report.pdf';
      await says('bob3', 'f7', body(url), xml('x', { xmlns: NS.oob }, xml('url', {}, url)));
      await says('bob3', 'f8', xml('x', { xmlns: NS.oob }, xml('url', {}, url)));
      assert.deepEqual(sentTo('bob3'), [
        { xmppId: 'f6', body: `${quote}answer` },
        { xmppId: 'f7', body: url },
        { xmppId: 'f8', body: url },
      ]);
    });

    test('chat states and displayed markers are not passed on, and not bounced', async () => {
      await says('bob4', 'f9', body('hi'));
      await alice.send(xml('message', { to: jidOf('bob4'), type: 'chat', id: 'f10' }, xml('composing', { xmlns: NS.chatStates })));
      await alice.send(xml('message', { to: jidOf('bob4'), type: 'chat', id: 'f11' }, xml('displayed', { xmlns: NS.markers, id: 'x' })));
      await says('bob4', 'f12', body('after'));
      assert.equal(t.world.callsOf('setChatState').length + t.world.callsOf('markDisplayed').length, 0);
      assert.equal(alice.pending().filter((s) => s.attrs.id === 'f10' || s.attrs.id === 'f11').length, 0);
    });

    test('a private message to an occupant: feature-not-implemented', async () => {
      t.world.remoteJoin('#plain', 'bob');
      await alice.send(xml('presence', { to: `${jidOf('#plain')}/alice` }, xml('x', { xmlns: NS.muc })));
      await alice.waitFor((s) => s.is('message') && s.attrs.from === jidOf('#plain') && s.getChild('subject') !== undefined);
      await alice.send(xml('message', { to: `${jidOf('#plain')}/bob`, type: 'chat', id: 'f13' }, body('psst')));
      const bounce = await alice.waitFor((s) => s.attrs.id === 'f13');
      assert.equal(condition(bounce).name, 'feature-not-implemented');
      assert.match(condition(bounce).text ?? '', /private messages/);
      assert.equal(t.world.callsOf('sendPrivate').length, 0);
    });
  });
}
