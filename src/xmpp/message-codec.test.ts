// The message codec, element by element: what parseMessage() reads from a
// user's stanza for each extension, and what renderMessage() builds.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  bodyIsFallbackFor,
  contentFromIncoming,
  fallbackText,
  NS_MESSAGE as NS,
  parseMessage,
  quote,
  renderMessage,
  splitAction,
  stripFallback,
} from './message-codec.js';
import { xml, type Element } from './stanza.js';
import { assertXml } from '../../test/harness/xml-assert.js';


const msg = (...children: Element[]) => xml('message', { from: 'alice@localhost/desk', to: 'bob@test.localhost', type: 'chat', id: 'm1' }, ...children);

describe('parseMessage', () => {
  test('body, ids and a receipt request', () => {
    const parsed = parseMessage(msg(xml('body', {}, 'hello *world*'), xml('origin-id', { xmlns: NS.stanzaId, id: 'o1' }), xml('request', { xmlns: NS.receipts })));
    assert.equal(parsed.id, 'm1');
    assert.equal(parsed.originId, 'o1');
    assert.equal(parsed.body, 'hello *world*', 'XEP-0393 styling passes through as text');
    assert.equal(parsed.receiptRequest, true);
    assert.equal(parsed.chatState, undefined);
    assert.deepEqual(parsed.attachments, []);
  });

  test('a body in another language does not win over the plain one', () => {
    const parsed = parseMessage(msg(xml('body', { 'xml:lang': 'de' }, 'hallo'), xml('body', {}, 'hello')));
    assert.equal(parsed.body, 'hello');
  });

  test('chat states (XEP-0085)', () => {
    for (const state of ['active', 'composing', 'paused', 'inactive', 'gone'] as const) {
      assert.equal(parseMessage(msg(xml(state, { xmlns: NS.chatStates }))).chatState, state);
    }
    assert.equal(parseMessage(msg(xml('typing', { xmlns: NS.chatStates }))).chatState, undefined, 'not a chat state');
    assert.equal(parseMessage(msg(xml('composing', { xmlns: 'urn:other' }))).chatState, undefined, 'wrong namespace');
  });

  test('a correction (XEP-0308)', () => {
    const parsed = parseMessage(msg(xml('body', {}, 'fixed'), xml('replace', { xmlns: NS.correction, id: 'm0' })));
    assert.equal(parsed.replace, 'm0');
    assert.equal(parsed.body, 'fixed');
  });

  test('a retraction (XEP-0424 v1, and the older fasten form)', () => {
    const v1 = parseMessage(
      msg(xml('retract', { xmlns: NS.retraction, id: 'm0' }), xml('fallback', { xmlns: NS.fallback, for: NS.retraction }), xml('body', {}, 'retracted…')),
    );
    assert.equal(v1.retract, 'm0');
    assert.ok(bodyIsFallbackFor(v1.fallbacks, NS.retraction));
    const v0 = parseMessage(msg(xml('apply-to', { xmlns: NS.fasten, id: 'm9' }, xml('retract', { xmlns: NS.retractionV0 }))));
    assert.equal(v0.retract, 'm9');
    const other = parseMessage(msg(xml('apply-to', { xmlns: NS.fasten, id: 'm9' }, xml('moderate', { xmlns: 'urn:xmpp:message-moderate:0' }))));
    assert.equal(other.retract, undefined);
  });

  test('reactions (XEP-0444): the full set, duplicates and blanks dropped; an empty set removes all', () => {
    const parsed = parseMessage(
      msg(xml('reactions', { xmlns: NS.reactions, id: 'm0' }, xml('reaction', {}, '👍'), xml('reaction', {}, ' '), xml('reaction', {}, '👍'), xml('reaction', {}, '🎉'))),
    );
    assert.deepEqual(parsed.reactions, { id: 'm0', emojis: ['👍', '🎉'] });
    assert.deepEqual(parseMessage(msg(xml('reactions', { xmlns: NS.reactions, id: 'm0' }))).reactions, { id: 'm0', emojis: [] });
    assert.equal(parseMessage(msg(xml('reactions', { xmlns: NS.reactions }))).reactions, undefined, 'no id: nothing to react to');
  });

  test('a reply (XEP-0461) with its fallback quote (XEP-0428), counted in code points', () => {
    const body = '> 🙂 quoted\nmy answer';
    const parsed = parseMessage(
      msg(
        xml('body', {}, body),
        xml('reply', { xmlns: NS.reply, id: 'm0', to: '#room@test.localhost/bob' }),
        xml('fallback', { xmlns: NS.fallback, for: NS.reply }, xml('body', { start: '0', end: '11' })),
      ),
    );
    assert.deepEqual(parsed.reply, { id: 'm0', to: '#room@test.localhost/bob' });
    assert.deepEqual(parsed.fallbacks, [{ for: NS.reply, start: 0, end: 11 }]);
    assert.equal(stripFallback(body, parsed.fallbacks, NS.reply), 'my answer');
    assert.equal(fallbackText(body, parsed.fallbacks, NS.reply), '> 🙂 quoted\n');
    assert.equal(stripFallback(body, parsed.fallbacks, NS.retraction), body, 'other features keep the body');
  });

  test('bad fallback ranges are not trusted', () => {
    const parsed = parseMessage(msg(xml('body', {}, 'x'), xml('fallback', { xmlns: NS.fallback, for: NS.reply }, xml('body', { start: '5', end: '2' }))));
    assert.deepEqual(parsed.fallbacks, [{ for: NS.reply }]);
    assert.equal(stripFallback('x', parsed.fallbacks, NS.reply), 'x');
  });

  test('a displayed marker (XEP-0333), attachments (XEP-0066), a direct invite (XEP-0249), a subject', () => {
    const parsed = parseMessage(
      msg(
        xml('displayed', { xmlns: NS.markers, id: 'm0' }),
        xml('x', { xmlns: NS.oob }, xml('url', {}, ' https://example.org/a.png '), xml('desc', {}, 'a cat')),
        xml('x', { xmlns: NS.oob }, xml('url', {}, '')),
        xml('x', { xmlns: NS.directInvite, jid: '#r@test.localhost' }),
        xml('subject', {}, 'topic'),
      ),
    );
    assert.equal(parsed.displayed, 'm0');
    assert.deepEqual(parsed.attachments, [{ url: 'https://example.org/a.png', description: 'a cat' }]);
    assert.equal(parsed.invite, true);
    assert.equal(parsed.subject, 'topic');
    assert.equal(parsed.body, undefined);
  });

  test('/me actions (XEP-0245)', () => {
    assert.deepEqual(splitAction('/me waves'), { text: 'waves', action: true });
    assert.deepEqual(splitAction('/meh'), { text: '/meh', action: false });
    assert.deepEqual(splitAction('say /me '), { text: 'say /me ', action: false });
  });
});

describe('renderMessage', () => {
  test('a room message with stanza-id, origin-id, delay, markable', () => {
    const at = new Date('2024-05-06T07:08:09.123Z');
    const rendered = renderMessage(
      {
        from: '#room@test.localhost/bob',
        to: 'alice@localhost/desk',
        type: 'groupchat',
        id: 'x1',
        stanzaId: { id: 'sid-1', by: '#room@test.localhost' },
        delay: { stamp: at, from: '#room@test.localhost' },
      },
      { body: 'hi', originId: 'o1', markable: true },
    );
    assertXml(
      rendered,
      xml(
        'message',
        { from: '#room@test.localhost/bob', to: 'alice@localhost/desk', type: 'groupchat', id: 'x1' },
        xml('body', {}, 'hi'),
        xml('markable', { xmlns: NS.markers }),
        xml('stanza-id', { xmlns: NS.stanzaId, id: 'sid-1', by: '#room@test.localhost' }),
        xml('origin-id', { xmlns: NS.stanzaId, id: 'o1' }),
        xml('delay', { xmlns: NS.delay, from: '#room@test.localhost', stamp: '2024-05-06T07:08:09Z' }),
      ),
    );
  });

  test('correction, retraction, reactions, reply with fallback, OOB, chat state, marker, receipt, private-message x, hints', () => {
    const env = { from: 'bob@test.localhost', to: 'alice@localhost', type: 'chat' as const, id: 'x' };
    assertXml(
      renderMessage(env, { body: 'fixed', replace: 'm0' }),
      xml('message', env, xml('body', {}, 'fixed'), xml('replace', { xmlns: NS.correction, id: 'm0' })),
    );
    assertXml(
      renderMessage(env, { body: 'fb', retract: 'm0', fallbacks: [{ for: NS.retraction }], store: true }),
      xml(
        'message',
        env,
        xml('body', {}, 'fb'),
        xml('retract', { xmlns: NS.retraction, id: 'm0' }),
        xml('fallback', { xmlns: NS.fallback, for: NS.retraction }),
        xml('store', { xmlns: NS.hints }),
      ),
    );
    assertXml(
      renderMessage(env, { reactions: { id: 'm0', emojis: ['👍', '🎉'] } }),
      xml('message', env, xml('reactions', { xmlns: NS.reactions, id: 'm0' }, xml('reaction', {}, '👍'), xml('reaction', {}, '🎉'))),
    );
    assertXml(
      renderMessage(env, { body: '> q\nanswer', reply: { id: 'm0', to: 'bob@test.localhost' }, fallbacks: [{ for: NS.reply, start: 0, end: 4 }] }),
      xml(
        'message',
        env,
        xml('body', {}, '> q\nanswer'),
        xml('reply', { xmlns: NS.reply, id: 'm0', to: 'bob@test.localhost' }),
        xml('fallback', { xmlns: NS.fallback, for: NS.reply }, xml('body', { start: '0', end: '4' })),
      ),
    );
    assertXml(
      renderMessage(env, { body: 'https://e.org/f', attachments: [{ url: 'https://e.org/f', description: 'file' }] }),
      xml('message', env, xml('body', {}, 'https://e.org/f'), xml('x', { xmlns: NS.oob }, xml('url', {}, 'https://e.org/f'), xml('desc', {}, 'file'))),
    );
    assertXml(renderMessage(env, { chatState: 'composing', noStore: true }), xml('message', env, xml('composing', { xmlns: NS.chatStates }), xml('no-store', { xmlns: NS.hints })));
    assertXml(renderMessage(env, { displayed: 'm0' }), xml('message', env, xml('displayed', { xmlns: NS.markers, id: 'm0' })));
    assertXml(renderMessage(env, { receipt: 'm0' }), xml('message', env, xml('received', { xmlns: NS.receipts, id: 'm0' })));
    assertXml(renderMessage(env, { body: 'pm', privateViaRoom: true }), xml('message', env, xml('body', {}, 'pm'), xml('x', { xmlns: NS.mucUser })));
    assertXml(
      renderMessage(env, { retracted: { stamp: '2024-01-01T00:00:00Z' }, originId: 'o' }),
      xml('message', env, xml('retracted', { xmlns: NS.retraction, stamp: '2024-01-01T00:00:00Z' }), xml('origin-id', { xmlns: NS.stanzaId, id: 'o' })),
    );
  });

  test('a forwarded (MAM) message carries jabber:client', () => {
    const rendered = renderMessage({ xmlns: 'jabber:client', from: '#r@test.localhost/bob', type: 'groupchat', id: 'a' }, { body: 'x' });
    assert.equal(rendered.attrs.xmlns, 'jabber:client');
    assert.equal(rendered.attrs.to, undefined);
  });

  test('what renders parses back', () => {
    const content = {
      body: '> q\nanswer',
      reply: { id: 'm0', to: 'bob@test.localhost' },
      fallbacks: [{ for: NS.reply, start: 0, end: 4 }],
      attachments: [{ url: 'https://e.org/f' }],
      originId: 'o',
    };
    const parsed = parseMessage(renderMessage({ from: 'a@b', type: 'chat', id: 'i' }, content));
    assert.equal(parsed.body, content.body);
    assert.deepEqual(parsed.reply, content.reply);
    assert.deepEqual(parsed.fallbacks, content.fallbacks);
    assert.deepEqual(parsed.attachments, content.attachments);
    assert.equal(parsed.originId, 'o');
  });
});

describe('contentFromIncoming', () => {
  test('an action gets "/me ", attachments their URL in the body and OOB', () => {
    assert.deepEqual(contentFromIncoming({ id: 'n1', body: 'waves', action: true }), { body: '/me waves' });
    assert.deepEqual(contentFromIncoming({ id: 'n1', body: '', attachments: [{ url: 'https://e.org/cat.png' }] }), {
      body: 'https://e.org/cat.png',
      attachments: [{ url: 'https://e.org/cat.png' }],
    });
    assert.deepEqual(contentFromIncoming({ id: 'n1', body: 'look', attachments: [{ url: 'https://e.org/cat.png' }] }), {
      body: 'look\nhttps://e.org/cat.png',
      attachments: [{ url: 'https://e.org/cat.png' }],
    });
    assert.deepEqual(contentFromIncoming({ id: 'n1', body: 'see https://e.org/cat.png', attachments: [{ url: 'https://e.org/cat.png' }] }).body, 'see https://e.org/cat.png');
  });

  test('a reply quotes the original and marks the quote as fallback', () => {
    const content = contentFromIncoming({ id: 'n2', body: 'yes' }, { reply: { id: 'sid', to: '#r@t/bob', quoted: 'are you 🙂\nthere?' }, markable: true });
    assert.equal(content.body, '> are you 🙂\n> there?\nyes');
    assert.deepEqual(content.reply, { id: 'sid', to: '#r@t/bob' });
    const end = Array.from('> are you 🙂\n> there?\n').length;
    assert.deepEqual(content.fallbacks, [{ for: NS.reply, start: 0, end }]);
    assert.equal(stripFallback(content.body!, content.fallbacks!, NS.reply), 'yes');
    assert.equal(content.markable, true);
  });

  test('long quotes are cut', () => {
    const q = quote('x'.repeat(500));
    assert.ok(q.length < 210 && q.endsWith('…\n'));
  });
});
