import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedMap, chatStateOf, EchoWaiters, ReactionBook, typingOf, TypingThrottle } from './ircv3.js';

describe('typing', () => {
  test('chat states map to the three +typing values and back', () => {
    assert.equal(typingOf('composing'), 'active');
    assert.equal(typingOf('paused'), 'paused');
    for (const state of ['active', 'inactive', 'gone'] as const) assert.equal(typingOf(state), 'done');
    assert.equal(chatStateOf('active'), 'composing');
    assert.equal(chatStateOf('paused'), 'paused');
    assert.equal(chatStateOf('done'), 'active');
    assert.equal(chatStateOf('typing'), null);
    assert.equal(chatStateOf(undefined), null);
  });

  test('the same state to the same target waits 3 s; a change goes at once', () => {
    let now = 0;
    const throttle = new TypingThrottle(() => now);
    assert.equal(throttle.allow('#a', 'active'), true);
    now = 2_000;
    assert.equal(throttle.allow('#a', 'active'), false);
    assert.equal(throttle.allow('#b', 'active'), true);
    assert.equal(throttle.allow('#a', 'paused'), true);
    now = 6_000;
    assert.equal(throttle.allow('#a', 'paused'), true);
  });
});

describe('ReactionBook', () => {
  test('incoming emojis accumulate per message and nick', () => {
    const book = new ReactionBook();
    assert.deepEqual(book.add('m1', 'Bob', '👍'), ['👍']);
    assert.deepEqual(book.add('m1', 'bob', '🎉'), ['👍', '🎉']);
    assert.deepEqual(book.add('m1', 'carol', '👍'), ['👍']);
    assert.deepEqual(book.add('m2', 'bob', '👍'), ['👍']);
  });

  test('outgoing, only emojis not sent yet go out; a removal sends nothing', () => {
    const book = new ReactionBook();
    assert.deepEqual(book.toSend('m1', 'me', ['👍']), ['👍']);
    assert.deepEqual(book.toSend('m1', 'me', ['👍', '🎉']), ['🎉']);
    assert.deepEqual(book.toSend('m1', 'me', []), []);
    assert.deepEqual(book.toSend('m1', 'me', ['👍']), ['👍']);
  });
});

describe('EchoWaiters', () => {
  test('a label finds its line wherever it is in the queue', () => {
    const waiters = new EchoWaiters<string>();
    waiters.add('#a', 'one', 'l1');
    waiters.add('#a', 'two', 'l2');
    assert.equal(waiters.take('#a', 'l2'), 'two');
    assert.equal(waiters.take('#a'), 'one');
    assert.equal(waiters.take('#a'), undefined);
  });

  test('without labels, first in first out per target', () => {
    const waiters = new EchoWaiters<string>();
    waiters.add('#a', 'a1');
    waiters.add('#b', 'b1');
    waiters.add('#a', 'a2');
    assert.equal(waiters.take('#a'), 'a1');
    assert.equal(waiters.take('#b'), 'b1');
    assert.deepEqual(waiters.all(), ['a2']);
    waiters.drop('a2');
    assert.deepEqual(waiters.all(), []);
  });

  test('an unlabelled answer also clears the label of the line it took', () => {
    const waiters = new EchoWaiters<string>();
    waiters.add('#a', 'one', 'l1');
    assert.equal(waiters.take('#a'), 'one');
    assert.equal(waiters.take('#a', 'l1'), undefined);
  });
});

test('BoundedMap forgets the oldest keys', () => {
  const map = new BoundedMap<string, number>(2);
  map.set('a', 1).set('b', 2).set('a', 3).set('c', 4);
  assert.deepEqual([...map.keys()], ['a', 'c']);
});
