import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessPolicy } from './access.js';

test('domains and bare JIDs on the list may use the network, nobody else', () => {
  const policy = new AccessPolicy({ irc: ['example.org', 'guest@other.net'], matrix: [] }, ['Admin@Example.org']);
  assert.equal(policy.mayUse('irc', 'alice@example.org/phone'), true);
  assert.equal(policy.mayUse('irc', 'ALICE@EXAMPLE.ORG'), true);
  assert.equal(policy.mayUse('irc', 'guest@other.net/x'), true);
  assert.equal(policy.mayUse('irc', 'intruder@other.net'), false);
  assert.equal(policy.mayUse('irc', 'example.org'), false, 'a server JID is not a user');
  assert.equal(policy.mayUse('irc', 'eve@sub.example.org'), false, 'subdomains are not included');
  assert.equal(policy.mayUse('matrix', 'alice@example.org'), false, 'an empty list allows nobody');
  assert.equal(policy.mayUse('unknown', 'alice@example.org'), false);
  assert.equal(policy.isAdmin('admin@example.org/desk'), true);
  assert.equal(policy.isAdmin('alice@example.org'), false);
});
