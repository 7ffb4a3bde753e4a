import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLine } from './transport.js';
import { webircIdentity } from './auth.js';

test('UTF-8 when valid, else the fallback of the channel or the server', () => {
  assert.equal(decodeLine(Buffer.from(':a PRIVMSG #x :café\r\n'), 'iso-8859-1'), ':a PRIVMSG #x :café\r\n');
  const latin1 = Buffer.from(':a PRIVMSG #x :caf\xe9\r\n', 'latin1');
  assert.equal(decodeLine(latin1, 'iso-8859-1'), ':a PRIVMSG #x :café\r\n');
  const cyrillic = Buffer.concat([Buffer.from(':a PRIVMSG #ru :'), Buffer.from([0xcf, 0xf0, 0xe8]), Buffer.from('\r\n')]);
  assert.equal(decodeLine(cyrillic, 'iso-8859-1', new Map([['#ru', { out: 'windows-1251', in: 'windows-1251' }]])), ':a PRIVMSG #ru :При\r\n');
});

test('WEBIRC identity: stable per user, different between users, a valid IPv6 address in fd70:6f6e:7465::/48', () => {
  const a = webircIdentity('alice@example.org', 'irc.example.org');
  assert.deepEqual(webircIdentity('Alice@Example.org', 'irc.example.org'), a);
  assert.notDeepEqual(webircIdentity('bob@example.org', 'irc.example.org'), a);
  assert.match(a.address, /^fd70:6f6e:7465(:[0-9a-f]{1,4}){5}$/);
  assert.match(a.hostname, /^[a-z2-7]{16}\.irc\.example\.org$/);
});

test('identd name: stable per user, IRC-safe', async () => {
  const { identUsername } = await import('./auth.js');
  assert.equal(identUsername('Alice@example.org'), identUsername('alice@example.org'));
  assert.notEqual(identUsername('alice@example.org'), identUsername('bob@example.org'));
  assert.match(identUsername('alice@example.org'), /^x[a-z2-7]{9}$/);
});
