// vCard elements and XEP-0153 hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contactVcard, photoHash, roomVcard, vcardElement, vcardUpdateElement } from './vcard.js';
import { xml } from './stanza.js';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

test('photo hash is the hex SHA-1 of the image bytes', () => {
  // sha1 of "abc" (FIPS 180 test vector)
  assert.equal(photoHash(Buffer.from('abc')), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.deepEqual(vcardUpdateElement(PNG), xml('x', { xmlns: 'vcard-temp:x:update' }, xml('photo', {}, photoHash(PNG))));
  assert.deepEqual(vcardUpdateElement(null), xml('x', { xmlns: 'vcard-temp:x:update' }, xml('photo')));
});

test('a contact vCard carries FN, NICKNAME, URL, DESC and PHOTO', () => {
  const card = vcardElement(contactVcard({ name: 'Bob B', nick: 'bob', url: 'https://bob.example', description: 'Hi', avatar: { data: PNG, type: 'image/png' } }));
  assert.deepEqual(
    card,
    xml(
      'vCard',
      { xmlns: 'vcard-temp' },
      xml('FN', {}, 'Bob B'),
      xml('NICKNAME', {}, 'bob'),
      xml('URL', {}, 'https://bob.example'),
      xml('DESC', {}, 'Hi'),
      xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, PNG.toString('base64'))),
    ),
  );
});

test('a room vCard falls back to the JID name and leaves out what is unknown', () => {
  assert.deepEqual(vcardElement(roomVcard({}, '#room')), xml('vCard', { xmlns: 'vcard-temp' }, xml('FN', {}, '#room')));
  assert.deepEqual(
    vcardElement(roomVcard({ name: 'Room', description: 'About' }, '#room')),
    xml('vCard', { xmlns: 'vcard-temp' }, xml('FN', {}, 'Room'), xml('DESC', {}, 'About')),
  );
});
