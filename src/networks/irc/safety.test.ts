import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../core/errors.js';
import { assertIrcParam, ircSafe, isValidNick } from './safety.js';

test('ircSafe turns line breaks into spaces and drops NUL', () => {
  assert.equal(ircSafe('a\r\nQUIT :x'), 'a QUIT :x');
  assert.equal(ircSafe('one\ntwo\rthree'), 'one two three');
  assert.equal(ircSafe('nu\0l'), 'nul');
  assert.equal(ircSafe('plain topic: ok'), 'plain topic: ok');
  assert.equal(ircSafe(''), '');
  assert.doesNotMatch(ircSafe('x\r\n\0\r\n\n\rPRIVMSG NickServ :IDENTIFY pw'), /[\r\n\0]/);
});

function assertRefused(fn: () => unknown, what: string) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.condition, 'not-acceptable');
    assert.match(error.message, new RegExp(what));
    return true;
  });
}

test('assertIrcParam passes ordinary values through unchanged', () => {
  assert.equal(assertIrcParam('#chan', 'channel name'), '#chan');
  assert.equal(assertIrcParam('Ünïcode_nick', 'nick'), 'Ünïcode_nick');
  assert.equal(assertIrcParam('a reason: with spaces', 'kick reason', { trailing: true }), 'a reason: with spaces');
  assert.equal(assertIrcParam(':starts with colon', 'part message', { trailing: true }), ':starts with colon');
});

test('assertIrcParam refuses hostile and malformed values, naming the field', () => {
  assertRefused(() => assertIrcParam('a\r\nQUIT :x', 'nick'), 'nick must not contain a line break');
  assertRefused(() => assertIrcParam('#a\nJOIN #b', 'channel name'), 'channel name must not contain a line break');
  assertRefused(() => assertIrcParam('key\r', 'channel key'), 'channel key .*line break');
  assertRefused(() => assertIrcParam('a\0b', 'password'), 'password must not contain a NUL');
  assertRefused(() => assertIrcParam('two words', 'channel key'), 'channel key must not contain spaces');
  assertRefused(() => assertIrcParam('tab\there', 'nick'), 'nick must not contain spaces');
  assertRefused(() => assertIrcParam(':x', 'nick'), "nick must not start with ':'");
  assertRefused(() => assertIrcParam('', 'nick'), 'nick must not be empty');
  // Trailing parameters still refuse line breaks, NUL and emptiness.
  assertRefused(() => assertIrcParam('bye\r\nQUIT', 'part message', { trailing: true }), 'part message .*line break');
  assertRefused(() => assertIrcParam('a\0', 'topic', { trailing: true }), 'topic .*NUL');
  assertRefused(() => assertIrcParam('', 'topic', { trailing: true }), 'topic must not be empty');
});

test('isValidNick accepts RFC 2812 nicks and common extensions', () => {
  for (const nick of ['alice', 'Bob_', '[away]', 'x|y', '`tick', 'a-b', '^caret^', '{brace}', 'nick123', 'émile']) {
    assert.equal(isValidNick(nick), true, nick);
  }
});

test('isValidNick refuses what would break IRC parsing or addressing', () => {
  const bad = ['', 'two words', 'a,b', 'wild*', 'what?', 'a!b', 'a@b', '#chan', '&chan', '$mask', ':colon', '+voice', '%half', '~owner', 'a\r\nQUIT :x', 'nu\0l', 'ctcp\x01', 'tab\t'];
  for (const nick of bad) assert.equal(isValidNick(nick), false, JSON.stringify(nick));
});

test('isValidNick enforces the maximum length in bytes', () => {
  assert.equal(isValidNick('a'.repeat(30)), true);
  assert.equal(isValidNick('a'.repeat(31)), false);
  assert.equal(isValidNick('a'.repeat(9), 9), true);
  assert.equal(isValidNick('a'.repeat(10), 9), false);
  assert.equal(isValidNick('é'.repeat(5), 9), false); // 10 bytes
});
