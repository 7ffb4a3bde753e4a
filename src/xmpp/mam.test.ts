// MAM query parsing and the result stanzas, element by element.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../core/errors.js';
import type { GatewayDomain } from '../core/core.js';
import type { ArchiveEntry } from '../store/index.js';
import type { Target } from './addressing.js';
import { archivedMessage, archiveScope, finElement, MAM_DEFAULT_PAGE, MAM_MAX_PAGE, mamForm, NS_MAM, NS_RSM, parseMamQuery, resultMessage } from './mam.js';
import { xml, type Element } from './stanza.js';
import { assertXml } from '../../test/harness/xml-assert.js';


const field = (name: string, ...values: string[]) => xml('field', { var: name }, ...values.map((v) => xml('value', {}, v)));
const form = (...fields: Element[]) =>
  xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS_MAM)), ...fields);
const query = (...children: Element[]) => xml('query', { xmlns: NS_MAM, queryid: 'q1' }, ...children);
const rsm = (...children: Element[]) => xml('set', { xmlns: NS_RSM }, ...children);

function rejects(element: Element, condition: string, text?: RegExp): void {
  assert.throws(
    () => parseMamQuery(element),
    (err: unknown) => err instanceof GatewayError && err.condition === condition && (!text || text.test(err.message)),
  );
}

describe('parseMamQuery', () => {
  test('an empty query: everything, first page of the default size', () => {
    assert.deepEqual(parseMamQuery(xml('query', { xmlns: NS_MAM })), { max: MAM_DEFAULT_PAGE, flipPage: false });
  });

  test('every form field, RSM and flip-page', () => {
    const parsed = parseMamQuery(
      query(
        form(
          field('with', 'bob@test.localhost'),
          field('start', '2024-01-01T00:00:00Z'),
          field('end', '2024-01-02T10:00:00.500+02:00'),
          field('after-id', 'a'),
          field('before-id', 'b'),
          field('ids', 'i1', 'i2'),
        ),
        rsm(xml('max', {}, '10'), xml('after', {}, 'x')),
        xml('flip-page'),
      ),
    );
    assert.deepEqual(parsed, {
      queryId: 'q1',
      with: 'bob@test.localhost',
      start: new Date('2024-01-01T00:00:00Z'),
      end: new Date('2024-01-02T08:00:00.500Z'),
      afterId: 'a',
      beforeId: 'b',
      ids: ['i1', 'i2'],
      max: 10,
      after: 'x',
      flipPage: true,
    });
  });

  test('RSM: an empty <before/> asks for the last page; max is capped; max 0 is a count', () => {
    assert.equal(parseMamQuery(query(rsm(xml('before')))).before, true);
    assert.equal(parseMamQuery(query(rsm(xml('before', {}, 'id7')))).before, 'id7');
    assert.equal(parseMamQuery(query(rsm(xml('max', {}, '100000')))).max, MAM_MAX_PAGE);
    assert.equal(parseMamQuery(query(rsm(xml('max', {}, '0')))).max, 0);
  });

  test('empty fields are as if absent', () => {
    const parsed = parseMamQuery(query(form(xml('field', { var: 'with' }), field('start', ''))));
    assert.equal(parsed.with, undefined);
    assert.equal(parsed.start, undefined);
  });

  test('what cannot be served is refused with the right condition', () => {
    rejects(query(form(field('start', 'yesterday'))), 'bad-request', /start.*XEP-0082/);
    rejects(query(form(field('end', '2024-13-45T99:00:00Z'))), 'bad-request');
    rejects(query(form(field('with', 'bob@/desk'))), 'jid-malformed');
    rejects(query(form(field('include-groupchat', 'true'))), 'feature-not-implemented', /include-groupchat/);
    rejects(query(xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, field('FORM_TYPE', 'urn:xmpp:mam:1'))), 'bad-request', /FORM_TYPE/);
    rejects(query(rsm(xml('index', {}, '3'))), 'feature-not-implemented', /index/);
    rejects(query(rsm(xml('max', {}, '-1'))), 'bad-request');
    rejects(query(rsm(xml('max', {}, 'ten'))), 'bad-request');
    rejects(query(rsm(xml('after', {}, 'a'), xml('before', {}, 'b'))), 'bad-request', /before-id/);
    rejects(query(rsm(xml('after'))), 'bad-request');
    rejects(xml('query', { xmlns: NS_MAM, node: 'urn:xmpp:microblog:0' }), 'item-not-found');
    rejects(query(xml('x', { xmlns: 'jabber:x:data', type: 'form' })), 'bad-request');
  });
});

describe('archiveScope', () => {
  const gateway = { name: 'test', domain: 'test.localhost' } as unknown as GatewayDomain;
  const room: Target = { kind: 'room', gateway, address: { kind: 'room', id: '#r' }, bare: '#r@test.localhost' };
  const gatewayTarget: Target = { kind: 'gateway', gateway, bare: 'test.localhost', resource: '' };
  const user = 'alice@localhost';

  test('a room: its groupchat archive; with room/nick selects a sender; another JID matches nothing', () => {
    assert.deepEqual(archiveScope(room, user, undefined), {
      scope: { userJid: user, network: 'test', kind: 'groupchat', conversation: '#r@test.localhost' },
      archiveJid: '#r@test.localhost',
    });
    assert.deepEqual(archiveScope(room, user, '#R@test.localhost/Bob'), {
      scope: { userJid: user, network: 'test', kind: 'groupchat', conversation: '#r@test.localhost', nick: 'Bob' },
      archiveJid: '#r@test.localhost',
    });
    assert.deepEqual(archiveScope(room, user, 'bob@test.localhost'), { empty: true, archiveJid: '#r@test.localhost' });
  });

  test('the gateway: one-to-one chats, with a bare or full JID', () => {
    assert.deepEqual(archiveScope(gatewayTarget, user, undefined), { scope: { userJid: user, network: 'test', kind: 'chat' }, archiveJid: 'test.localhost' });
    assert.deepEqual(archiveScope(gatewayTarget, user, 'Bob@test.localhost'), {
      scope: { userJid: user, network: 'test', kind: 'chat', conversation: 'bob@test.localhost' },
      archiveJid: 'test.localhost',
    });
    assert.deepEqual(archiveScope(gatewayTarget, user, '#r@test.localhost/Bob'), {
      scope: { userJid: user, network: 'test', kind: 'chat', conversation: '#r@test.localhost', resource: 'Bob' },
      archiveJid: 'test.localhost',
    });
  });

  test('contacts, occupants and servers hold no archive', () => {
    const contact: Target = { kind: 'contact', gateway, address: { kind: 'contact', id: 'bob' }, bare: 'bob@test.localhost', resource: '' };
    assert.equal(archiveScope(contact, user, undefined), null);
    assert.equal(archiveScope({ ...gatewayTarget, resource: 'x' } as Target, user, undefined), null);
  });
});

describe('result stanzas', () => {
  const entry = (over: Partial<ArchiveEntry>): ArchiveEntry => ({
    seq: '1',
    id: '0b4c1c3e-52a8-4c0e-9d65-51d2cbb1e3a1',
    network: 'test',
    kind: 'groupchat',
    conversation: '#r@test.localhost',
    resource: '',
    outgoing: false,
    nick: 'bob',
    xmppId: 'x1',
    originId: null,
    networkIds: ['n1'],
    content: { body: 'hello' },
    at: new Date('2024-03-01T10:00:00.250Z'),
    sentAt: null,
    ...over,
  });

  test('a room message: from the occupant, no to, delay = archived time', () => {
    assertXml(
      resultMessage({ archiveJid: '#r@test.localhost', to: 'alice@localhost/desk', queryId: 'q1', entry: entry({}), userJid: 'alice@localhost' }).getChild('result')!,
      xml(
        'result',
        { xmlns: NS_MAM, queryid: 'q1', id: '0b4c1c3e-52a8-4c0e-9d65-51d2cbb1e3a1' },
        xml(
          'forwarded',
          { xmlns: 'urn:xmpp:forward:0' },
          xml('delay', { xmlns: 'urn:xmpp:delay', stamp: '2024-03-01T10:00:00Z' }),
          xml('message', { xmlns: 'jabber:client', from: '#r@test.localhost/bob', type: 'groupchat', id: 'x1' }, xml('body', {}, 'hello')),
        ),
      ),
    );
  });

  test('chats: outgoing from the user to the peer, incoming the other way; an older network time wins', () => {
    const sent = archivedMessage(entry({ kind: 'chat', conversation: 'bob@test.localhost', outgoing: true, nick: '' }), 'alice@localhost')!;
    assert.equal(sent.attrs.from, 'alice@localhost');
    assert.equal(sent.attrs.to, 'bob@test.localhost');
    assert.equal(sent.attrs.type, 'chat');
    const pm = archivedMessage(entry({ kind: 'chat', resource: 'bob', nick: '' }), 'alice@localhost')!;
    assert.equal(pm.attrs.from, '#r@test.localhost/bob');
    assert.equal(pm.attrs.to, 'alice@localhost');
    const old = resultMessage({ archiveJid: 'x', to: 'y', entry: entry({ sentAt: new Date('2020-01-01T00:00:00Z') }), userJid: 'alice@localhost' });
    assert.equal(old.getChild('result')!.getChild('forwarded')!.getChild('delay')!.attrs.stamp, '2020-01-01T00:00:00Z');
    assert.equal(archivedMessage(entry({ content: null }), 'alice@localhost'), null);
  });

  test('fin: first, last, count, complete only when true', () => {
    const a = entry({ id: 'a' });
    const b = entry({ id: 'b' });
    assertXml(
      finElement([a, b], true, 7),
      xml(
        'fin',
        { xmlns: NS_MAM, complete: 'true' },
        xml('set', { xmlns: NS_RSM }, xml('first', {}, 'a'), xml('last', {}, 'b'), xml('count', {}, '7')),
      ),
    );
    assertXml(finElement([], false, 3), xml('fin', { xmlns: NS_MAM }, xml('set', { xmlns: NS_RSM }, xml('count', {}, '3'))));
  });

  test('the query form lists the supported fields', () => {
    const vars = mamForm()
      .getChildren('field')
      .map((f) => f.attrs.var);
    assert.deepEqual(vars, ['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids']);
  });
});
