import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alternativeNick, NICK_SUFFIX_PATTERN } from './nicks.js';

test('the default suffix is repeated: alice_, alice__', () => {
  assert.equal(alternativeNick('alice', 1), 'alice_');
  assert.equal(alternativeNick('alice', 2), 'alice__');
});

test('a suffix with {n} is numbered', () => {
  assert.equal(alternativeNick('alice', 1, '|{n}'), 'alice|1');
  assert.equal(alternativeNick('alice', 3, '{n}'), 'alice3');
  assert.equal(alternativeNick('alice', 2, '^'), 'alice^^');
});

test('suffixes that cannot be part of a nick are refused by the pattern', () => {
  for (const ok of ['_', '|{n}', '`', '[x]', '{n}']) assert.ok(NICK_SUFFIX_PATTERN.test(ok), ok);
  for (const bad of ['', ' ', 'a b', '!', '@', '%', ':']) assert.ok(!NICK_SUFFIX_PATTERN.test(bad), bad);
});
