import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HANDLE_LENGTHS, HANDLE_PATTERN, base32, handleCandidates, normalizeHandle } from './handles.js';

test('base32 follows RFC 4648 (lowercase, no padding)', () => {
  const vectors: Array<[string, string]> = [
    ['', ''],
    ['f', 'my'],
    ['fo', 'mzxq'],
    ['foo', 'mzxw6'],
    ['foob', 'mzxw6yq'],
    ['fooba', 'mzxw6ytb'],
    ['foobar', 'mzxw6ytboi'],
  ];
  for (const [input, expected] of vectors) assert.equal(base32(Buffer.from(input)), expected, input);
});

test('candidates are deterministic, case-sensitive in the input, prefixes of one hash', () => {
  const a = handleCandidates('!AbC:matrix.org');
  assert.deepEqual(a, handleCandidates('!AbC:matrix.org'));
  assert.notEqual(a[0], handleCandidates('!abc:matrix.org')[0]);
  assert.deepEqual(
    a.map((h) => h.length),
    [...HANDLE_LENGTHS],
  );
  for (const h of a) {
    assert.ok(a[a.length - 1]!.startsWith(h));
    assert.match(h, /^[a-z2-7]+$/);
    assert.match(h, HANDLE_PATTERN);
  }
  assert.deepEqual(handleCandidates('!AbC:x').slice(0, 1), ['2aciivugdx']);
});

test('normalizeHandle lowercases and rejects what cannot be a handle', () => {
  assert.equal(normalizeHandle('2ACIIVUGDX'), '2aciivugdx');
  assert.equal(normalizeHandle(''), null);
  assert.equal(normalizeHandle('a%b'), null);
  assert.equal(normalizeHandle('a@b'), null);
  assert.equal(normalizeHandle('!abc'), null);
  assert.equal(normalizeHandle('x'.repeat(65)), null);
});
