// The pure parts of disco.ts: features from capabilities, the room
// disco#info with its muc#roominfo form (compared as elements), and RSM paging.
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../core/errors.js';
import type { Capability, Network } from '../networks/types.js';
import {
  CAPABILITY_FEATURES,
  contactDiscoInfo,
  discoInfoElement,
  featuresOf,
  gatewayDiscoInfo,
  parseRsm,
  roomDiscoInfo,
  rsmElement,
  rsmPage,
} from './disco.js';
import { xml } from './stanza.js';

function networkWith(capabilities: Capability[], extra: Partial<Network> = {}): Network {
  return {
    name: 'test',
    identityType: 'test',
    displayName: 'Test gateway',
    capabilities: new Set(capabilities),
    ...extra,
  } as unknown as Network;
}

test('every capability has an entry in the one feature table', () => {
  const all: Capability[] = [
    'rooms', 'contacts', 'private-messages', 'room-password', 'topic', 'nick-change', 'kick', 'ban', 'roles', 'invites',
    'room-list', 'corrections', 'retractions', 'reactions', 'replies', 'chat-states', 'displayed-markers', 'attachments',
    'history', 'avatars',
  ];
  for (const capability of all) assert.ok(CAPABILITY_FEATURES[capability], capability);
});

test('gateway features follow what the network declares', () => {
  const rich = featuresOf(networkWith(['rooms'], { contactFromPrompt: () => null }), 'gateway');
  const poor = featuresOf(networkWith([]), 'gateway');
  assert.ok(rich.includes('http://jabber.org/protocol/muc'));
  assert.ok(rich.includes('jabber:iq:gateway'));
  assert.ok(!poor.includes('http://jabber.org/protocol/muc'));
  assert.ok(!poor.includes('jabber:iq:gateway'));
  for (const base of ['http://jabber.org/protocol/disco#info', 'jabber:iq:register', 'http://jabber.org/protocol/commands', 'urn:xmpp:ping']) {
    assert.ok(poor.includes(base), base);
  }
  assert.deepEqual(rich, [...rich].sort());
  // MAM on the gateway (one-to-one archive) only while the archive is on.
  assert.ok(poor.includes('urn:xmpp:mam:2'));
  assert.ok(!featuresOf(networkWith([]), 'gateway', { archive: false }).includes('urn:xmpp:mam:2'));
  assert.ok(!featuresOf(networkWith([]), 'room', { archive: false }).includes('urn:xmpp:mam:2'));
});

test('contact features: chat states, corrections, reactions... only when declared', () => {
  const contact = contactDiscoInfo(networkWith(['chat-states', 'reactions', 'avatars']));
  assert.deepEqual(contact.identities, [{ category: 'client', type: 'pc' }]);
  assert.ok(contact.features.includes('http://jabber.org/protocol/chatstates'));
  assert.ok(contact.features.includes('urn:xmpp:reactions:0'));
  assert.ok(contact.features.includes('vcard-temp'));
  assert.ok(!contact.features.includes('urn:xmpp:message-correct:0'));
  assert.ok(!contact.features.includes('urn:xmpp:message-retract:1'));
});

test('the gateway is also the conference service when the network has rooms', () => {
  assert.deepEqual(gatewayDiscoInfo(networkWith(['rooms'])).identities, [
    { category: 'gateway', type: 'test', name: 'Test gateway' },
    { category: 'conference', type: 'text', name: 'Test gateway' },
  ]);
  assert.deepEqual(gatewayDiscoInfo(networkWith([])).identities, [{ category: 'gateway', type: 'test', name: 'Test gateway' }]);
});

test('room disco#info: identity, muc_* features from RoomInfo, muc#roominfo form', () => {
  const info = roomDiscoInfo(networkWith(['corrections']), '#fallback', {
    name: 'The Room',
    description: 'About things',
    subject: 'Today: things',
    occupants: 3,
    passwordProtected: true,
    moderated: false,
    public: true,
    avatar: { data: Buffer.from('an image'), type: 'image/png' },
  });
  const features = [
    'http://jabber.org/protocol/disco#info',
    'http://jabber.org/protocol/muc',
    'http://jabber.org/protocol/muc#self-ping-optimization',
    'muc_passwordprotected',
    'muc_public',
    'muc_semianonymous',
    'muc_unmoderated',
    'urn:xmpp:mam:2',
    'urn:xmpp:mam:2#extended',
    'urn:xmpp:message-correct:0',
    'urn:xmpp:sid:0',
    'urn:xmpp:styling:0',
    'jabber:x:oob',
  ].sort();
  assert.deepEqual(
    discoInfoElement(info),
    xml(
      'query',
      { xmlns: 'http://jabber.org/protocol/disco#info' },
      xml('identity', { category: 'conference', type: 'text', name: 'The Room' }),
      ...features.map((feature) => xml('feature', { var: feature })),
      xml(
        'x',
        { xmlns: 'jabber:x:data', type: 'result' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, 'http://jabber.org/protocol/muc#roominfo')),
        xml('field', { type: 'text-single', var: 'muc#roomconfig_roomname', label: 'Name' }, xml('value', {}, 'The Room')),
        xml('field', { type: 'text-single', var: 'muc#roominfo_description', label: 'Description' }, xml('value', {}, 'About things')),
        xml('field', { type: 'text-single', var: 'muc#roominfo_subject', label: 'Current subject' }, xml('value', {}, 'Today: things')),
        xml('field', { type: 'text-single', var: 'muc#roominfo_occupants', label: 'Number of occupants' }, xml('value', {}, '3')),
        // XEP-0486: the hex SHA-1 of the avatar image.
        xml('field', { type: 'text-multi', var: 'muc#roominfo_avatarhash', label: 'Avatar hash' }, xml('value', {}, createHash('sha1').update('an image').digest('hex'))),
      ),
    ),
  );
  // Nothing known: no muc_* pair is guessed, the name falls back to the JID's.
  const bare = roomDiscoInfo(networkWith([]), '#fallback', {});
  assert.equal(bare.identities[0]!.name, '#fallback');
  assert.deepEqual(
    bare.features.filter((f) => f.startsWith('muc_')),
    ['muc_semianonymous'],
  );
});

test('RSM: forward, backward, last page, index, unknown ids', () => {
  const all = Array.from({ length: 25 }, (_, i) => `r${String(i).padStart(2, '0')}`);
  const id = (s: string) => s;
  const first = rsmPage(all, id, { max: 10 }, 25);
  assert.deepEqual(first.items, all.slice(0, 10));
  assert.equal(first.firstIndex, 0);
  const second = rsmPage(all, id, { max: 10, after: 'r09' }, 25);
  assert.deepEqual(second.items, all.slice(10, 20));
  const third = rsmPage(all, id, { max: 10, after: 'r19' }, 25);
  assert.deepEqual(third.items, all.slice(20));
  assert.deepEqual(rsmPage(all, id, { max: 10, after: 'r24' }, 25).items, []);
  const last = rsmPage(all, id, { max: 10, before: '' }, 25);
  assert.deepEqual(last.items, all.slice(15));
  assert.equal(last.firstIndex, 15);
  assert.deepEqual(rsmPage(all, id, { max: 10, before: 'r15' }, 25).items, all.slice(5, 15));
  assert.deepEqual(rsmPage(all, id, { max: 10, before: 'r03' }, 25).items, all.slice(0, 3));
  assert.deepEqual(rsmPage(all, id, { max: 5, index: 7 }, 25).items, all.slice(7, 12));
  assert.throws(() => rsmPage(all, id, { after: 'nope' }, 25), (err) => err instanceof GatewayError && err.condition === 'item-not-found');
  assert.deepEqual(
    rsmElement(second, 'r10', 'r19'),
    xml(
      'set',
      { xmlns: 'http://jabber.org/protocol/rsm' },
      xml('first', { index: '10' }, 'r10'),
      xml('last', {}, 'r19'),
      xml('count', {}, '25'),
    ),
  );
  assert.deepEqual(rsmElement(rsmPage(all, id, { max: 0 }, 25), undefined, undefined), xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('count', {}, '25')));
});

test('RSM requests are parsed strictly', () => {
  const rsm = (...children: ReturnType<typeof xml>[]) => xml('query', {}, xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, ...children));
  assert.equal(parseRsm(xml('query')), undefined);
  assert.deepEqual(parseRsm(rsm(xml('max', {}, '10'), xml('after', {}, 'x'))), { max: 10, index: undefined, after: 'x' });
  assert.deepEqual(parseRsm(rsm(xml('max', {}, '10'), xml('before'))), { max: 10, index: undefined, before: '' });
  assert.throws(() => parseRsm(rsm(xml('max', {}, '-1'))), (err) => err instanceof GatewayError && err.condition === 'bad-request');
  assert.throws(() => parseRsm(rsm(xml('after', {}, 'a'), xml('before', {}, 'b'))), GatewayError);
});
