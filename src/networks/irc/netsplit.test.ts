import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNetsplit, SplitHold } from './netsplit.js';

test('a netsplit reason is two server names, nothing else', () => {
  assert.equal(isNetsplit('irc.localhost irc2.localhost'), true);
  assert.equal(isNetsplit('hub.libera.chat leaf.libera.chat'), true);
  assert.equal(isNetsplit('Quit: irc.a.org irc.b.org'), false);
  assert.equal(isNetsplit('going home'), false);
  assert.equal(isNetsplit('irc.localhost'), false);
  assert.equal(isNetsplit(undefined), false);
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
