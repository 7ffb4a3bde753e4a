import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, ConnectGate } from './reconnect.js';

describe('backoffDelay', () => {
  const options = { initialMs: 1000, maxMs: 60_000 };

  test('doubles per attempt between half and all of the ceiling', () => {
    assert.equal(backoffDelay(1, options, () => 0), 500);
    assert.equal(backoffDelay(1, options, () => 1), 1000);
    assert.equal(backoffDelay(2, options, () => 0), 1000);
    assert.equal(backoffDelay(4, options, () => 1), 8000);
  });

  test('never exceeds the maximum, however many attempts', () => {
    assert.equal(backoffDelay(50, options, () => 1), 60_000);
    assert.equal(backoffDelay(1000, options, () => 0), 30_000);
  });

  test('spreads connections lost together', () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(3, options)));
    assert.ok(delays.size > 10, `20 draws gave only ${delays.size} distinct delays`);
    for (const delay of delays) assert.ok(delay >= 2000 && delay <= 4000, `${delay} outside [2000, 4000]`);
  });
});

describe('ConnectGate', () => {
  test('lets `limit` through per key and queues the rest in order', async () => {
    const gate = new ConnectGate(2);
    const order: string[] = [];
    const a = await gate.acquire('irc.example.org');
    const b = await gate.acquire('irc.example.org');
    const other = await gate.acquire('irc.other.org');
    const c = gate.acquire('irc.example.org').then((release) => (order.push('c'), release));
    const d = gate.acquire('irc.example.org').then((release) => (order.push('d'), release));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, []);
    assert.equal(gate.inUse('irc.example.org'), 2);
    a();
    a(); // a second release frees nothing more
    const releaseC = await c;
    assert.deepEqual(order, ['c']);
    b();
    const releaseD = await d;
    assert.deepEqual(order, ['c', 'd']);
    releaseC();
    releaseD();
    other();
    assert.equal(gate.inUse('irc.example.org'), 0);
    assert.equal(gate.inUse('irc.other.org'), 0);
  });

  test('frees a slot held too long', async () => {
    const gate = new ConnectGate(1, 20);
    await gate.acquire('s');
    // The gate's own timer is unref'd (it never keeps ponte alive): keep the test alive meanwhile.
    const keepAlive = setTimeout(() => assert.fail('the held slot was never freed'), 5_000);
    const release = await gate.acquire('s');
    clearTimeout(keepAlive);
    assert.equal(gate.inUse('s'), 1);
    release();
    assert.equal(gate.inUse('s'), 0);
  });

  test('refuses a limit below one', () => {
    assert.throws(() => new ConnectGate(0), RangeError);
  });
});
