import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../core/errors.js';
import { normalizeBareJid } from './repositories/users.js';
import { redactUrl } from './data-source.js';

test('bare JIDs are lowercased (NFC first)', () => {
  assert.equal(normalizeBareJid('Alice@Example.ORG'), 'alice@example.org');
  assert.equal(normalizeBareJid('example.org'), 'example.org');
  assert.equal(normalizeBareJid('Ren\u0065\u0301@Example.org'), 'ren\u00e9@example.org');
  assert.equal(normalizeBareJid('ÉLODIE@exemple.fr'), 'élodie@exemple.fr');
});

test('what is not a bare JID is jid-malformed', () => {
  for (const bad of ['', '@example.org', 'alice@', 'alice@example.org/res', 'a b@c', 'a"b@c', 'a@b@c', 'a:b@c', 'x'.repeat(1024) + '@c']) {
    assert.throws(
      () => normalizeBareJid(bad),
      (err: unknown) => err instanceof GatewayError && err.condition === 'jid-malformed',
      bad.slice(0, 40),
    );
  }
});

test('redactUrl hides the password only', () => {
  assert.equal(redactUrl('postgres://ponte:s3cret@db.example:5432/ponte'), 'postgres://ponte:***@db.example:5432/ponte');
  assert.equal(redactUrl('postgres://ponte@db/ponte'), 'postgres://ponte@db/ponte');
  assert.doesNotMatch(redactUrl('not a url s3cret'), /s3cret/);
});
