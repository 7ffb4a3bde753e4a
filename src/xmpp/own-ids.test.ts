import { test } from 'node:test';
import assert from 'node:assert/strict';
import { idHash, OWN_IDS_WINDOW, OwnIds, RecentIds } from './own-ids.js';

test('idHash: 30 bits, stable, different for different ids', () => {
  const a = idHash('3f0c6c1e-8d2a-4a44-9a55-7d1f9b2c0e11');
  assert.equal(a, idHash('3f0c6c1e-8d2a-4a44-9a55-7d1f9b2c0e11'));
  assert.notEqual(a, idHash('3f0c6c1e-8d2a-4a44-9a55-7d1f9b2c0e12'));
  for (const id of ['', 'x', 'é', '😀'.repeat(40)]) {
    const h = idHash(id);
    assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 30, `${id}: ${h}`);
  }
});

test('RecentIds keeps the last ids only', () => {
  const recent = new RecentIds(3);
  assert.equal(recent.mayHave('a'), false);
  for (const id of ['a', 'b', 'c']) recent.add(id);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((id) => recent.mayHave(id)), [true, true, true, false]);
  recent.add('d');
  assert.deepEqual(['a', 'b', 'c', 'd'].map((id) => recent.mayHave(id)), [false, true, true, true]);
});

test('OwnIds loads a conversation once, then learns from remember()', async () => {
  const own = new OwnIds();
  const loads: Array<[string, number]> = [];
  const load = (conversation: string, ids: string[]) => async (limit: number) => {
    loads.push([conversation, limit]);
    return ids;
  };
  own.remember('#a', ['early']); // before the first check: the load will read it from the store
  assert.equal(await own.mayHave('#a', 'm1', load('#a', ['m1', 'o1'])), true);
  assert.equal(await own.mayHave('#a', 'o1', load('#a', [])), true);
  assert.equal(await own.mayHave('#a', 'early', load('#a', [])), false);
  assert.equal(await own.mayHave('#a', 'm2', load('#a', [])), false);
  own.remember('#a', ['m2', null, undefined]);
  assert.equal(await own.mayHave('#a', 'm2', load('#a', [])), true);
  assert.equal(await own.mayHave('#b', 'm1', load('#b', [])), false, 'conversations are apart');
  assert.deepEqual(loads, [['#a', OWN_IDS_WINDOW], ['#b', OWN_IDS_WINDOW]]);
});

test('OwnIds: remember() during the load is not lost; a failed load is tried again', async () => {
  const own = new OwnIds();
  let release!: (ids: string[]) => void;
  const pending = own.mayHave('#a', 'x', () => new Promise((resolve) => (release = resolve)));
  own.remember('#a', ['during']);
  release(['x']);
  assert.equal(await pending, true);
  assert.equal(await own.mayHave('#a', 'during', async () => []), true);

  await assert.rejects(own.mayHave('#c', 'x', async () => Promise.reject(new Error('store down'))), /store down/);
  assert.equal(await own.mayHave('#c', 'x', async () => ['x']), true);
});

test('OwnIds remembers the last OWN_IDS_WINDOW messages with two ids each', async () => {
  const own = new OwnIds();
  await own.mayHave('#a', 'none', async () => []);
  for (let i = 0; i < OWN_IDS_WINDOW; i++) own.remember('#a', [`id-${i}`, `origin-${i}`]);
  assert.equal(await own.mayHave('#a', 'id-0', async () => []), true);
  assert.equal(await own.mayHave('#a', `origin-${OWN_IDS_WINDOW - 1}`, async () => []), true);
  own.remember('#a', ['id-new', 'origin-new']);
  assert.equal(await own.mayHave('#a', 'id-0', async () => []), false);
  assert.equal(await own.mayHave('#a', 'origin-0', async () => []), false);
  assert.equal(await own.mayHave('#a', 'id-1', async () => []), true);
});
