import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecryptionError, FORMAT_V1, MIN_KEY_LENGTH, SecretBox, deriveKey } from './crypto.js';

const KEY = 'correct horse battery staple';

test('round trip, with a fresh nonce per value', async () => {
  const box = await SecretBox.fromSecret(KEY);
  const a = box.seal('hunter2', 'ctx');
  const b = box.seal('hunter2', 'ctx');
  assert.notDeepEqual(a, b, 'same plaintext must not give the same ciphertext');
  assert.equal(a[0], FORMAT_V1);
  assert.equal(a.length, 1 + 12 + 'hunter2'.length + 16);
  assert.equal(box.open(a, 'ctx').toString('utf8'), 'hunter2');
  assert.equal(box.open(b, 'ctx').toString('utf8'), 'hunter2');
  assert.ok(!a.includes(Buffer.from('hunter2')), 'plaintext must not appear in the sealed value');
});

test('JSON helpers and empty plaintext', async () => {
  const box = await SecretBox.fromSecret(KEY);
  const value = { password: 'p@ss wörd', nested: { token: 'x'.repeat(5000) } };
  assert.deepEqual(box.openJson(box.sealJson(value, 'c'), 'c'), value);
  assert.equal(box.open(box.seal('', 'c'), 'c').length, 0);
});

test('key derivation is deterministic and depends on the key', async () => {
  assert.deepEqual(await deriveKey(KEY), await deriveKey(KEY));
  assert.notDeepEqual(await deriveKey(KEY), await deriveKey(KEY + '!'));
  assert.equal((await deriveKey(KEY)).length, 32);
  // A value sealed by one instance opens with another derived from the same key (a restart).
  const sealed = (await SecretBox.fromSecret(KEY)).seal('s', 'c');
  assert.equal((await SecretBox.fromSecret(KEY)).open(sealed, 'c').toString(), 's');
});

test('a key shorter than 16 characters is refused', async () => {
  await assert.rejects(SecretBox.fromSecret('x'.repeat(MIN_KEY_LENGTH - 1)), RangeError);
  await SecretBox.fromSecret('x'.repeat(MIN_KEY_LENGTH));
});

test('the wrong key fails with a clear error, not garbage', async () => {
  const sealed = (await SecretBox.fromSecret(KEY)).seal('hunter2', 'ctx');
  const other = await SecretBox.fromSecret('another key of enough length');
  assert.throws(
    () => other.open(sealed, 'ctx'),
    (err: unknown) => err instanceof DecryptionError && /store\.encryptionKey is not the key/.test(err.message),
  );
});

test('another context (value moved to another row), tampering, truncation and unknown versions fail', async () => {
  const box = await SecretBox.fromSecret(KEY);
  const sealed = box.seal('hunter2', 'user-a');
  assert.throws(() => box.open(sealed, 'user-b'), DecryptionError);
  for (const index of [1, 13, sealed.length - 1]) {
    const tampered = Buffer.from(sealed);
    tampered[index]! ^= 0x01;
    assert.throws(() => box.open(tampered, 'user-a'), DecryptionError, `byte ${index} flipped`);
  }
  assert.throws(() => box.open(sealed.subarray(0, 20), 'user-a'), /truncated/);
  assert.throws(() => box.open(Buffer.alloc(0), 'user-a'), /empty/);
  const future = Buffer.from(sealed);
  future[0] = 0x02;
  assert.throws(() => box.open(future, 'user-a'), /unknown format version 2/);
});

test('fromDerivedKey checks the length', () => {
  assert.throws(() => SecretBox.fromDerivedKey(new Uint8Array(16)), RangeError);
  const box = SecretBox.fromDerivedKey(new Uint8Array(32));
  assert.equal(box.open(box.seal('x', ''), '').toString(), 'x');
});
