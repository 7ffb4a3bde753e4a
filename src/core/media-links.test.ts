import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretBox } from '../store/crypto.js';
import { MEDIA_LINK_PURPOSE, MediaLinks, safeFileName } from './media-links.js';

const box = SecretBox.fromDerivedKey(Buffer.alloc(32, 7));
const links = new MediaLinks(box.derive(MEDIA_LINK_PURPOSE), () => 'https://ponte.example.org/');
const target = { network: 'matrix', userJid: 'alice@example.org', reference: 'mxc://example.org/AbCdEf' };
const tokenOf = (url: string) => /\/media\/([^/]+)\//.exec(url)![1]!;

test('a media link opens to what it was made for, and hides it', () => {
  const url = links.url(target, 'cat picture.png');
  assert.match(url, /^https:\/\/ponte\.example\.org\/media\/[A-Za-z0-9_-]+\/cat%20picture\.png$/);
  assert.ok(!url.includes('alice') && !url.includes('AbCdEf'));
  assert.deepEqual(links.open(tokenOf(url)), target);
});

test('altered, forged or foreign tokens do not open', () => {
  const token = tokenOf(links.url(target));
  for (let i = 0; i < token.length; i += 7) {
    const altered = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
    assert.equal(links.open(altered), null, `changed at ${i}`);
  }
  assert.equal(links.open(Buffer.from(JSON.stringify(['matrix', 'alice@example.org', 'mxc://x/y'])).toString('base64url')), null);
  // A value sealed by the parent box (stored credentials) is no media link, nor the other way round.
  assert.equal(links.open(box.sealJson(['matrix', 'a@b', 'mxc://x/y'], 'media-link').toString('base64url')), null);
  const other = new MediaLinks(SecretBox.fromDerivedKey(Buffer.alloc(32, 8)).derive(MEDIA_LINK_PURPOSE), () => 'https://x');
  assert.equal(other.open(token), null, 'another key');
  assert.equal(links.open(''), null);
  assert.equal(links.open('a/b'), null);
});

test('file names are one clean path segment', () => {
  assert.equal(safeFileName('../../etc/passwd'), '....etcpasswd');
  assert.equal(safeFileName('a\r\nb'), 'ab');
  assert.equal(safeFileName(undefined), 'file');
  assert.equal(safeFileName('..'), 'file');
});
