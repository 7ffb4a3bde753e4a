// vCard-temp (XEP-0054) through real Prosody and ejabberd: contacts and
// rooms with their PHOTO (and the XEP-0153 hash of it), the gateway itself,
// and the errors.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { photoHash } from '../../src/xmpp/vcard.js';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';

const VCARD = 'vcard-temp';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
// The 1x1 PNG the test network gives every contact.
const CONTACT_PICTURE = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
// A 2x1 GIF, not the contacts' avatar: rooms get their own picture.
const ROOM_PICTURE = Buffer.from('R0lGODlhAgABAIAAAP///wAAACwAAAAAAgABAAACAkQBADs=', 'base64');

const getVcard = (to: string) => xml('iq', { type: 'get', to }, xml('vCard', { xmlns: VCARD }));

function card(reply: XmlElement): XmlElement {
  assert.equal(reply.attrs.type, 'result', reply.toString());
  return reply.getChild('vCard', VCARD)!;
}
function errorOf(reply: XmlElement): { condition: string; text: string } {
  assert.equal(reply.attrs.type, 'error', reply.toString());
  const error = reply.getChild('error')!;
  const condition = error.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')!.name;
  return { condition, text: error.getChildText('text', STANZAS) ?? '' };
}
function photoOf(vcard: XmlElement): { type: string | null; data: Buffer } {
  const photo = vcard.getChild('PHOTO');
  assert.ok(photo, vcard.toString());
  return { type: photo.getChildText('TYPE'), data: Buffer.from(photo.getChildText('BINVAL') ?? '', 'base64') };
}

for (const [kind, start] of SERVERS) {
  describe(`vCards through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;

    before(async () => {
      t = await startTestGateway(start);
      alice = await t.client('alice');
    });
    after(async () => t?.stop());

    test('a contact: name, nick and photo from the network', async () => {
      const vcard = card(await alice.iq(getVcard(`bob@${TEST_DOMAIN}`)));
      assert.equal(vcard.getChildText('FN'), 'bob (test user)');
      assert.equal(vcard.getChildText('NICKNAME'), 'bob');
      const photo = photoOf(vcard);
      assert.equal(photo.type, 'image/png');
      // Exactly the network's bytes, so the XEP-0153 hash presences carry matches the photo clients fetch.
      assert.deepEqual(photo.data, CONTACT_PICTURE);
      assert.equal(photoHash(photo.data), 'b2bbe763c7e1828c750d53f78550709a6fea19be');
    });

    test('a room: name, description and picture', async () => {
      t.world.room('#pictures', { name: 'Pictures', description: 'A room with a face', avatar: { data: ROOM_PICTURE, type: 'image/gif' } });
      const vcard = card(await alice.iq(getVcard(`#pictures@${TEST_DOMAIN}`)));
      assert.equal(vcard.getChildText('FN'), 'Pictures');
      assert.equal(vcard.getChildText('DESC'), 'A room with a face');
      const photo = photoOf(vcard);
      assert.equal(photo.type, 'image/gif');
      assert.deepEqual(photo.data, ROOM_PICTURE);

      t.world.room('#plain');
      const plain = card(await alice.iq(getVcard(`#plain@${TEST_DOMAIN}`)));
      assert.equal(plain.getChildText('FN'), '#plain');
      assert.equal(plain.getChild('PHOTO'), undefined);

      assert.equal(errorOf(await alice.iqRaw(getVcard(`#nowhere@${TEST_DOMAIN}`))).condition, 'item-not-found');
    });

    test('the gateway is its display name; vCards cannot be set', async () => {
      const vcard = card(await alice.iq(getVcard(TEST_DOMAIN)));
      assert.equal(vcard.getChildText('FN'), 'Test network gateway');
      const set = errorOf(await alice.iqRaw(xml('iq', { type: 'set', to: `bob@${TEST_DOMAIN}` }, xml('vCard', { xmlns: VCARD }, xml('FN', {}, 'x')))));
      assert.equal(set.condition, 'not-allowed');
      assert.match(set.text, /cannot be changed/);
    });

    test('an occupant vCard needs the requester in the room', async () => {
      const error = errorOf(await alice.iqRaw(getVcard(`#pictures@${TEST_DOMAIN}/bob`)));
      assert.equal(error.condition, 'bad-request');
    });
  });
}
