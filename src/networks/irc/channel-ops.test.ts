import { test } from 'node:test';
import assert from 'node:assert/strict';
import { banMask, describeModes, globMatches, isMask, maskMatches, maskParts, parseUserhost, roleModes } from './channel-ops.js';

test('globs match with * and ?, case-insensitively by RFC 1459', () => {
  assert.ok(globMatches('*!*@*.example.org', 'bob!~b@host.example.org'));
  assert.ok(globMatches('B?B[x]', 'bob{X}'));
  assert.ok(!globMatches('bob', 'bobby'));
  assert.ok(globMatches('a.b', 'A.B'));
  assert.ok(!globMatches('a.b', 'axb'), 'a dot is literal');
});

test('mask parts: missing parts are wildcards', () => {
  assert.deepEqual(maskParts('bob!~b@host'), { nick: 'bob', user: '~b', host: 'host' });
  assert.deepEqual(maskParts('bob'), { nick: 'bob', user: '*', host: '*' });
  assert.deepEqual(maskParts('*@host'), { nick: '*', user: '*', host: 'host' });
  assert.deepEqual(maskParts('bob!*'), { nick: 'bob', user: '*', host: '*' });
});

test('a mask on a host never matches someone whose host is unknown', () => {
  assert.ok(maskMatches('bob!*@*', { nick: 'Bob' }));
  assert.ok(!maskMatches('*!*@127.0.0.1', { nick: 'bob' }));
  assert.ok(maskMatches('*!*@127.0.0.1', { nick: 'bob', user: '~b', host: '127.0.0.1' }));
  assert.ok(maskMatches('*!~b@127.0.0.1', { nick: 'carol', user: '~b', host: '127.0.0.1' }));
  assert.ok(!maskMatches('*!~c@127.0.0.1', { nick: 'bob', user: '~b', host: '127.0.0.1' }));
});

test('the ban mask is *!user@host when known, else nick!*@*', () => {
  assert.equal(banMask({ nick: 'bob', user: '~b', host: 'example.org' }), '*!~b@example.org');
  assert.equal(banMask({ nick: 'bob' }), 'bob!*@*');
  assert.ok(isMask('bob!*@*'));
  assert.ok(!isMask('bob'));
});

test('roles become the smallest mode change', () => {
  assert.equal(roleModes(new Set(), 'moderator'), '+o');
  assert.equal(roleModes(new Set(['o']), 'moderator'), null);
  assert.equal(roleModes(new Set(['h']), 'moderator'), null);
  assert.equal(roleModes(new Set(['o', 'v']), 'participant'), '-o');
  assert.equal(roleModes(new Set(['o', 'h']), 'participant'), '-oh');
  assert.equal(roleModes(new Set(), 'participant'), '+v');
  assert.equal(roleModes(new Set(['v']), 'participant'), null);
  assert.equal(roleModes(new Set(['o', 'v']), 'visitor'), '-ov');
  assert.equal(roleModes(new Set(), 'visitor'), null);
});

test('mode changes are written as IRC clients write them', () => {
  assert.equal(describeModes([{ mode: '+b', param: '*!*@x' }, { mode: '+m' }, { mode: '-k', param: 'key' }]), '+bm-k *!*@x key');
  assert.equal(describeModes([{ mode: '-i' }]), '-i');
  assert.equal(describeModes([{ mode: '+m', param: null }]), '+m');
});

test('USERHOST replies, opers and away flags included', () => {
  assert.deepEqual(parseUserhost('bob=+~b@127.0.0.1 Op*=-op@example.org '), [
    { nick: 'bob', user: '~b', host: '127.0.0.1' },
    { nick: 'Op', user: 'op', host: 'example.org' },
  ]);
  assert.deepEqual(parseUserhost(''), []);
});

test('in a moderated channel, no prefix is visitor; voice and above are unchanged', async () => {
  const { roleOf } = await import('./connection.js');
  assert.equal(roleOf(new Set(), true).role, 'visitor');
  assert.equal(roleOf(new Set(), false).role, 'participant');
  assert.equal(roleOf(new Set(['v']), true).role, 'participant');
  assert.equal(roleOf(new Set(['h']), true).role, 'moderator');
  assert.deepEqual(roleOf(new Set(['q']), true), { role: 'moderator', affiliation: 'owner' });
});
