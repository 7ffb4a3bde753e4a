import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNetsplit, SplitHold, splitSummary } from './netsplit.js';

test('a netsplit reason is two server names, nothing else', () => {
  assert.equal(isNetsplit('irc.localhost irc2.localhost'), true);
  assert.equal(isNetsplit('hub.libera.chat leaf.libera.chat'), true);
  assert.equal(isNetsplit('Quit: irc.a.org irc.b.org'), false);
  assert.equal(isNetsplit('going home'), false);
  assert.equal(isNetsplit('irc.localhost'), false);
  assert.equal(isNetsplit(undefined), false);
});

test('a hidden netsplit reason (server names replaced by *) is a netsplit too', () => {
  assert.equal(isNetsplit('*.net *.split'), true);
  assert.equal(isNetsplit('*.libera.chat *.libera.chat'), true);
  assert.equal(isNetsplit('* *'), false);
  assert.equal(isNetsplit('*.net'), false);
  assert.equal(isNetsplit('Quit: *.net *.split'), false);
  assert.equal(isNetsplit('*.net *.split extra'), false);
});

test('the summary names the split and up to ten nicks, and counts the rest', () => {
  assert.equal(splitSummary(['bob'], 'a.net b.net'), '1 user left in a netsplit of a.net b.net: bob');
  assert.equal(splitSummary(['bob', 'carol'], '*.net *.split'), '2 users left in a netsplit of *.net *.split: bob, carol');
  const twelve = Array.from({ length: 12 }, (_, i) => `u${i + 1}`);
  assert.equal(splitSummary(twelve, 'a.net b.net'), '12 users left in a netsplit of a.net b.net: u1, u2, u3, u4, u5, u6, u7, u8, u9, u10 and 2 more');
});

test('members who come back are not reported; the others are, one batch per channel', async () => {
  const reported: Array<[string, string[], string]> = [];
  const hold = new SplitHold<string>(60_000, (channel, members, reason) => reported.push([channel, members, reason]));
  hold.add('#a', 'bob', 'Bob', 'x.org y.org');
  hold.add('#a', 'carol', 'Carol', 'x.org y.org');
  hold.add('#b', 'bob', 'Bob', 'x.org y.org');
  assert.equal(hold.returned('#a', 'bob'), 'Bob');
  assert.equal(hold.returned('#a', 'bob'), undefined);
  hold.flush();
  assert.deepEqual(reported, [
    ['#a', ['Carol'], 'x.org y.org'],
    ['#b', ['Bob'], 'x.org y.org'],
  ]);
  hold.flush();
  assert.equal(reported.length, 2);
});
