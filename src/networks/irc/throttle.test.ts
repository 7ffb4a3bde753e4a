import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SendQueue, TokenBucket, type TimerScheduler } from './throttle.js';

/** A fake clock and timer list: time only moves when the test says so. */
function fakeTime() {
  let now = 0;
  let timers: Array<{ at: number; callback: () => void; cancelled: boolean }> = [];
  const setTimer: TimerScheduler = (callback, delayMs) => {
    const timer = { at: now + delayMs, callback, cancelled: false };
    timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };
  return {
    now: () => now,
    setTimer,
    active: () => timers.filter((t) => !t.cancelled).length,
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        const due = timers.filter((t) => !t.cancelled && t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.callback();
      }
      now = until;
    },
  };
}

test('TokenBucket: a full burst, then one token per refill interval', () => {
  const time = fakeTime();
  const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 2, now: time.now });
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 0]);
  assert.equal(bucket.take(), 500);
  time.advance(499);
  assert.equal(bucket.take(), 1);
  time.advance(1);
  assert.equal(bucket.take(), 0);
  assert.equal(bucket.take(), 500);
});

test('TokenBucket: refill never exceeds the capacity', () => {
  const time = fakeTime();
  const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 1, now: time.now });
  time.advance(60_000);
  assert.deepEqual([bucket.take(), bucket.take()], [0, 0]);
  assert.equal(bucket.take(), 1000);
});

test('TokenBucket: capacity -1 or Infinity is unthrottled', () => {
  for (const capacity of [-1, Infinity]) {
    const bucket = new TokenBucket({ capacity, refillPerSecond: 0, now: () => 0 });
    assert.equal(bucket.unthrottled, true);
    for (let i = 0; i < 1000; i++) assert.equal(bucket.take(), 0);
  }
});

test('TokenBucket: nonsensical settings are refused', () => {
  assert.throws(() => new TokenBucket({ capacity: 0, refillPerSecond: 1 }), RangeError);
  assert.throws(() => new TokenBucket({ capacity: -2, refillPerSecond: 1 }), RangeError);
  assert.throws(() => new TokenBucket({ capacity: 5, refillPerSecond: 0 }), RangeError);
  assert.throws(() => new TokenBucket({ capacity: 5, refillPerSecond: Number.NaN }), RangeError);
});

test('SendQueue: writes a burst at once, then the rest in order as tokens come', () => {
  const time = fakeTime();
  const written: Array<[number, string]> = [];
  const queue = new SendQueue(
    new TokenBucket({ capacity: 2, refillPerSecond: 1, now: time.now }),
    (line) => written.push([time.now(), line]),
    time.setTimer,
  );
  for (const line of ['a', 'b', 'c', 'd', 'e']) queue.push(line);
  assert.deepEqual(written, [[0, 'a'], [0, 'b']]);
  assert.equal(queue.pending(), 3);
  assert.equal(time.active(), 1, 'one timer, however many lines wait');
  time.advance(999);
  assert.equal(written.length, 2);
  time.advance(1);
  assert.deepEqual(written.at(-1), [1000, 'c']);
  time.advance(2000);
  assert.deepEqual(written, [[0, 'a'], [0, 'b'], [1000, 'c'], [2000, 'd'], [3000, 'e']]);
  assert.equal(queue.pending(), 0);
  assert.equal(time.active(), 0);
});

test('SendQueue: every line exactly once, in order, under interleaved pushes', () => {
  const time = fakeTime();
  const written: string[] = [];
  const queue = new SendQueue(new TokenBucket({ capacity: 3, refillPerSecond: 4, now: time.now }), (l) => written.push(l), time.setTimer);
  const sent: string[] = [];
  for (let i = 0; i < 100; i++) {
    const line = `line ${i}`;
    sent.push(line);
    queue.push(line);
    if (i % 7 === 0) time.advance(130);
  }
  time.advance(60_000);
  assert.deepEqual(written, sent);
  assert.equal(time.active(), 0);
});

test('SendQueue: unthrottled writes synchronously and never sets a timer', () => {
  const time = fakeTime();
  const written: string[] = [];
  const queue = new SendQueue(new TokenBucket({ capacity: -1, refillPerSecond: 1, now: time.now }), (l) => written.push(l), time.setTimer);
  for (let i = 0; i < 50; i++) queue.push(String(i));
  assert.equal(written.length, 50);
  assert.equal(queue.pending(), 0);
  assert.equal(time.active(), 0);
});

test('SendQueue: clear drops the waiting lines, returns them and cancels the timer', () => {
  const time = fakeTime();
  const written: string[] = [];
  const queue = new SendQueue(new TokenBucket({ capacity: 1, refillPerSecond: 1, now: time.now }), (l) => written.push(l), time.setTimer);
  queue.push('a');
  queue.push('b');
  queue.push('c');
  assert.deepEqual(queue.clear(), ['b', 'c']);
  assert.equal(queue.pending(), 0);
  assert.equal(time.active(), 0);
  time.advance(10_000);
  assert.deepEqual(written, ['a']);
  // Usable again afterwards.
  queue.push('d');
  assert.deepEqual(written, ['a', 'd']);
});

test('SendQueue: a line pushed from inside write keeps its place', () => {
  const time = fakeTime();
  const written: string[] = [];
  const queue: SendQueue = new SendQueue(
    new TokenBucket({ capacity: 10, refillPerSecond: 1, now: time.now }),
    (line) => {
      written.push(line);
      if (line === 'PING') queue.push('PONG-ish');
    },
    time.setTimer,
  );
  queue.push('PING');
  queue.push('after');
  assert.deepEqual(written, ['PING', 'PONG-ish', 'after']);
});

test('SendQueue: a failing write loses only its line, never repeats it, and the rest go out', () => {
  const time = fakeTime();
  const written: string[] = [];
  const errors: unknown[] = [];
  const queue = new SendQueue(
    new TokenBucket({ capacity: 1, refillPerSecond: 1, now: time.now }),
    (line) => {
      if (line === 'bad') throw new Error('socket closed');
      written.push(line);
    },
    time.setTimer,
    (error) => errors.push(error),
  );
  assert.throws(() => queue.push('bad'), /socket closed/);
  queue.push('a');
  queue.push('bad');
  queue.push('b');
  time.advance(5000);
  assert.deepEqual(written, ['a', 'b']);
  assert.equal(errors.length, 1);
  assert.equal(queue.pending(), 0);
});
