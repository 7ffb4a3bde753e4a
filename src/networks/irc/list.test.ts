import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelListCache } from './list.js';

test('pages one sorted LIST snapshot; LIST runs once while the snapshot is fresh', async () => {
  let runs = 0;
  const list = async () => {
    runs++;
    return ['#b', '#A', '#c', '#d', '#e'].map((channel, i) => ({ channel, users: i, topic: i === 0 ? 'topic' : '' }));
  };
  const cache = new ChannelListCache();
  const first = await cache.page('irc.example.org', 2, undefined, list);
  assert.deepEqual(first.items.map((i) => i.name), ['#A', '#b']);
  assert.equal(first.items[0]!.address.id, '#a%irc.example.org');
  assert.equal(first.total, 5);
  assert.equal(first.next, '2');
  const second = await cache.page('irc.example.org', 2, first.next, list);
  assert.deepEqual(second.items.map((i) => i.name), ['#c', '#d']);
  const last = await cache.page('irc.example.org', 2, second.next, list);
  assert.deepEqual(last.items.map((i) => i.name), ['#e']);
  assert.equal(last.next, undefined);
  assert.equal(runs, 1);
  await assert.rejects(cache.page('irc.example.org', 2, 'x', list), /continuation token/);
});
