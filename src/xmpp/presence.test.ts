// The presence module's pure parts: what the gateway shows for each session
// state, contact presences, roster sets and suggestions, and reading the
// XEP-0356 advertisement. Elements are compared as elements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrivilegeAdvertisement, PrivilegeRegistry, IqRequests, IqTimeoutError } from './privilege.js';
import {
  contactShown,
  gatewayShown,
  presenceStanza,
  rosterItems,
  rosterSetIq,
  rosterSuggestion,
  shownPresenceStanza,
  type SessionView,
} from './presence/stanzas.js';
import { xml, type Element } from './stanza.js';

const CAPS = () => xml('c', { xmlns: 'http://jabber.org/protocol/caps', hash: 'sha-1', node: 'n', ver: 'v' });
const NET = 'Test network';
const session = (state: Extract<SessionView, { kind: 'session' }>['state'], detail = ''): SessionView => ({ kind: 'session', state, detail });

test('the gateway presence shows the session state, with the reason', () => {
  assert.deepEqual(gatewayShown(session('online'), NET, 'gw'), { available: true });
  assert.deepEqual(gatewayShown(session('connecting'), NET, 'gw'), { available: true, show: 'away', status: 'Connecting to Test network…' });
  assert.deepEqual(gatewayShown(session('connecting', 'connecting to irc.libera.chat'), NET, 'gw'), {
    available: true,
    show: 'away',
    status: 'connecting to irc.libera.chat',
  });
  assert.deepEqual(gatewayShown(session('reconnecting', 'ping timeout'), NET, 'gw'), {
    available: true,
    show: 'away',
    status: 'Reconnecting: ping timeout',
  });
  assert.deepEqual(gatewayShown(session('failed', 'wrong password'), NET, 'gw'), {
    available: true,
    show: 'dnd',
    status: 'Login failed: wrong password',
  });
  assert.deepEqual(gatewayShown(session('failed', 'Login failed: wrong password.'), NET, 'gw'), {
    available: true,
    show: 'dnd',
    status: 'Login failed: wrong password.',
  });
  assert.deepEqual(gatewayShown(session('offline', 'ponte is shutting down'), NET, 'gw'), { available: false, status: 'ponte is shutting down' });
});

test('without a session: not registered, not connected, last failure, or nothing to log in to', () => {
  const none = (registered: boolean, registrationRequired: boolean, lastFailure?: string): SessionView => ({
    kind: 'none',
    registered,
    registrationRequired,
    lastFailure,
  });
  assert.deepEqual(gatewayShown(none(false, true), NET, 'gw.example'), {
    available: false,
    status: 'Not registered: register with gw.example to use Test network.',
  });
  assert.deepEqual(gatewayShown(none(true, true), NET, 'gw'), { available: false, status: 'Not connected to Test network.' });
  assert.deepEqual(gatewayShown(none(false, false), NET, 'gw'), { available: true });
  assert.deepEqual(gatewayShown(none(true, true, 'bad token'), NET, 'gw'), { available: true, show: 'dnd', status: 'Login failed: bad token' });
});

test('presence stanzas: show, status, caps only when available', () => {
  assert.deepEqual(
    shownPresenceStanza('gw', 'u@s', { available: true, show: 'away', status: 'Reconnecting: x' }, CAPS()),
    xml('presence', { from: 'gw', to: 'u@s' }, xml('show', {}, 'away'), xml('status', {}, 'Reconnecting: x'), CAPS()),
  );
  assert.deepEqual(
    shownPresenceStanza('gw', 'u@s', { available: false, status: 'bye' }, CAPS()),
    xml('presence', { from: 'gw', to: 'u@s', type: 'unavailable' }, xml('status', {}, 'bye')),
  );
  assert.deepEqual(
    presenceStanza({ from: 'bob@gw', to: 'u@s', type: 'subscribe', nick: 'Bob' }),
    xml('presence', { from: 'bob@gw', to: 'u@s', type: 'subscribe' }, xml('nick', { xmlns: 'http://jabber.org/protocol/nick' }, 'Bob')),
  );
});

test('contact presence from the network: show and status mapped, offline is unavailable', () => {
  assert.deepEqual(contactShown('available'), { available: true, show: undefined, status: undefined });
  assert.deepEqual(contactShown('dnd', ' in a meeting '), { available: true, show: 'dnd', status: 'in a meeting' });
  assert.deepEqual(contactShown('offline', 'quit: bye'), { available: false, status: 'quit: bye' });
});

test('privileged roster set and XEP-0144 suggestion', () => {
  assert.deepEqual(
    rosterSetIq('gw', 'u@s', { jid: 'bob@gw', name: 'Bob', group: 'Net' }),
    xml(
      'iq',
      { type: 'set', from: 'gw', to: 'u@s' },
      xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'bob@gw', name: 'Bob', subscription: 'both' }, xml('group', {}, 'Net'))),
    ),
  );
  const suggestion = rosterSuggestion('gw', 'u@s', [{ jid: 'bob@gw', name: 'Bob', group: 'Net' }, { jid: 'eve@gw', group: 'Net' }], 'Net');
  assert.deepEqual(
    suggestion,
    xml(
      'message',
      { from: 'gw', to: 'u@s' },
      xml('body', {}, 'Your Net contacts, to add to your contact list: Bob (bob@gw), eve@gw'),
      xml(
        'x',
        { xmlns: 'http://jabber.org/protocol/rosterx' },
        xml('item', { action: 'add', jid: 'bob@gw', name: 'Bob' }, xml('group', {}, 'Net')),
        xml('item', { action: 'add', jid: 'eve@gw' }, xml('group', {}, 'Net')),
      ),
    ),
  );
  const reply = xml(
    'iq',
    { type: 'result' },
    xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'Bob@GW', subscription: 'to' }), xml('item', { jid: 'x@y' })),
  );
  assert.deepEqual([...rosterItems(reply)], [
    ['bob@gw', { subscription: 'to', name: undefined }],
    ['x@y', { subscription: 'none', name: undefined }],
  ]);
});

const advertisement = (ns: string, ...perms: Element[]) =>
  xml('message', { from: 'localhost', to: 'test.localhost' }, xml('privilege', { xmlns: ns }, ...perms));

test('XEP-0356 advertisement, both namespaces; registry per (component, server)', () => {
  const v1 = parsePrivilegeAdvertisement(
    advertisement(
      'urn:xmpp:privilege:1',
      xml('perm', { access: 'roster', type: 'both' }),
      xml('perm', { access: 'message', type: 'outgoing' }),
      xml('perm', { access: 'presence', type: 'roster' }),
    ),
  );
  assert.deepEqual(v1, {
    namespace: 'urn:xmpp:privilege:1',
    server: 'localhost',
    component: 'test.localhost',
    roster: 'both',
    message: 'outgoing',
    presence: 'roster',
    iq: new Map(),
  });
  const v2 = parsePrivilegeAdvertisement(
    advertisement(
      'urn:xmpp:privilege:2',
      xml('perm', { access: 'roster', type: 'get' }),
      xml('perm', { access: 'iq' }, xml('namespace', { ns: 'urn:example', type: 'set' })),
    ),
  );
  assert.equal(v2?.roster, 'get');
  assert.equal(v2?.message, 'none');
  assert.deepEqual(v2?.iq, new Map([['urn:example', 'set']]));
  assert.equal(parsePrivilegeAdvertisement(xml('message', { from: 'localhost' }, xml('body', {}, 'hi'))), null);
  const forwarded = xml('message', { from: 'localhost' }, xml('privilege', { xmlns: 'urn:xmpp:privilege:2' }, xml('forwarded', { xmlns: 'urn:xmpp:forward:0' })));
  assert.equal(parsePrivilegeAdvertisement(forwarded), null, 'a privileged message is no advertisement');

  const registry = new PrivilegeRegistry();
  assert.equal(registry.intercept(xml('message', { from: 'user@localhost', to: 'test.localhost' }, xml('privilege', { xmlns: 'urn:xmpp:privilege:2' }))), false, 'users cannot advertise');
  assert.equal(registry.intercept(advertisement('urn:xmpp:privilege:1', xml('perm', { access: 'roster', type: 'both' }))), true);
  assert.equal(registry.mayGetRoster('test.localhost', 'alice@localhost/res'), true);
  assert.equal(registry.maySetRoster('test.localhost', 'alice@localhost'), true);
  assert.equal(registry.maySetRoster('test.localhost', 'alice@elsewhere'), false, 'a server grants rights over its own users only');
  assert.equal(registry.maySetRoster('irc.localhost', 'alice@localhost'), false, 'per component domain');
  registry.markRosterSetUnusable('test.localhost', 'alice@localhost');
  assert.equal(registry.maySetRoster('test.localhost', 'alice@localhost'), false);
  assert.equal(registry.mayGetRoster('test.localhost', 'alice@localhost'), true);
  registry.intercept(advertisement('urn:xmpp:privilege:1', xml('perm', { access: 'roster', type: 'both' })));
  assert.equal(registry.maySetRoster('test.localhost', 'alice@localhost'), false, 'an immediate repeat (ejabberd: one per connection) is no news');
  const later = parsePrivilegeAdvertisement(advertisement('urn:xmpp:privilege:1', xml('perm', { access: 'roster', type: 'both' })))!;
  registry.record({ ...later, receivedAt: new Date(Date.now() + 60_000) });
  assert.equal(registry.maySetRoster('test.localhost', 'alice@localhost'), true, 'a new advertisement (reconnect) clears the failure');
  registry.markRosterSetUnusable('test.localhost', 'alice@localhost');
  registry.intercept(advertisement('urn:xmpp:privilege:2', xml('perm', { access: 'roster', type: 'set' })));
  assert.equal(registry.maySetRoster('test.localhost', 'alice@localhost'), true, 'so do changed permissions');
  assert.equal(registry.get('test.localhost', 'localhost')?.namespace, 'urn:xmpp:privilege:2');
});

test('iq requests: matched by id and sender, time out', async () => {
  const requests = new IqRequests();
  const sent: Element[] = [];
  const reply = requests.request(async (el) => void sent.push(el), xml('iq', { type: 'get', from: 'gw', to: 'u@s' }), 1000);
  const id = sent[0]!.attrs.id as string;
  assert.equal(requests.intercept(xml('iq', { type: 'result', id, from: 'mallory@s' })), false, 'not from the addressee');
  assert.equal(requests.intercept(xml('iq', { type: 'result', id: 'other', from: 'u@s' })), false);
  assert.equal(requests.intercept(xml('iq', { type: 'error', id, from: 'U@s' })), true);
  assert.equal((await reply).attrs.type, 'error');
  await assert.rejects(requests.request(async () => undefined, xml('iq', { type: 'get', to: 'u@s' }), 20), IqTimeoutError);
});
