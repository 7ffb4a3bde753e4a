import { test } from 'node:test';
import assert from 'node:assert/strict';
import { historyMessages, joinHistoryLimit, HISTORY_ON_JOIN_MAX, type HistoryEvent } from './chathistory.js';

test('the history asked on join: the server limit, at most 50', () => {
  assert.equal(HISTORY_ON_JOIN_MAX, 50);
  assert.equal(joinHistoryLimit('20'), 20);
  assert.equal(joinHistoryLimit('1000'), 50);
  assert.equal(joinHistoryLimit('0'), 50); // 0: the server sets no limit
  assert.equal(joinHistoryLimit(undefined), 50);
  assert.equal(joinHistoryLimit(true), 50);
  assert.equal(joinHistoryLimit('-3'), 50);
  assert.equal(joinHistoryLimit('lots'), 50);
});

const event = (message: string, time: number | undefined, tags: Record<string, string> = { batch: 'h' }): HistoryEvent => ({
  kind: 'privmsg',
  event: { nick: 'bob', target: '#c', message, tags, ...(time !== undefined ? { time } : {}), batch: { id: 'h', type: 'chathistory', params: ['#c'] } },
});

test('history is ordered by server-time, stable for equal or missing times', () => {
  const out = historyMessages('h', [event('b', 2000), event('a', 1000), event('c', 2000), event('d', 3000)]);
  assert.deepEqual(out.map((e) => e.event.message), ['a', 'b', 'c', 'd']);
  const untimed = historyMessages('h', [event('x', undefined), event('y', undefined)]);
  assert.deepEqual(untimed.map((e) => e.event.message), ['x', 'y']);
});

test('a multiline batch nested in the history is one message', () => {
  const out = historyMessages('h', [
    event('before', 1000, { batch: 'h', msgid: 'm0' }),
    event('line one', 2000, { batch: 'h', 'ponte/nested-batch': 'inner' }),
    event('line two', 2000, { batch: 'h', 'ponte/nested-batch': 'inner' }),
    event(' and more', 2000, { batch: 'h', 'ponte/nested-batch': 'inner', 'draft/multiline-concat': '' }),
    event('after', 3000, { batch: 'h', msgid: 'm2' }),
  ]);
  assert.deepEqual(out.map((e) => e.event.message), ['before', 'line one\nline two and more', 'after']);
});
