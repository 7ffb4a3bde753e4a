import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../core/errors.js';
import { assertIrcParam, ircLine, ircSafe, rawLine } from './safety.js';

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

test('ircLine builds the line irc-framework would, with tags and an empty last parameter spelt out', () => {
  assert.equal(ircLine('JOIN', ['#chan', 'key']), 'JOIN #chan key');
  assert.equal(ircLine('TOPIC', ['#chan', 'a new topic']), 'TOPIC #chan :a new topic');
  assert.equal(ircLine('TOPIC', ['#chan', '']), 'TOPIC #chan :');
  assert.equal(ircLine('PRIVMSG', ['#chan', ':)']), 'PRIVMSG #chan ::)');
  assert.equal(ircLine('LIST'), 'LIST');
  assert.equal(ircLine('TAGMSG', ['#chan'], { '+typing': 'active', label: 'a b;c' }), '@+typing=active;label=a\\sb\\:c TAGMSG #chan');
  assert.equal(ircLine('BATCH', ['+r1', 'draft/multiline', '#chan'], { 'draft/x': true }), '@draft/x BATCH +r1 draft/multiline #chan');
});

test('ircLine refuses any parameter that would end the line or split a middle parameter', () => {
  assertRefused(() => ircLine('NICK', ['a\r\nQUIT']), 'NICK parameter must not contain a line break');
  assertRefused(() => ircLine('TOPIC', ['#c', 'new\nPRIVMSG #c :x']), 'TOPIC parameter must not contain a line break');
  assertRefused(() => ircLine('KICK', ['#c', 'bob', 'bye\r']), 'KICK parameter .*line break');
  assertRefused(() => ircLine('JOIN', ['#c', 'key\0']), 'JOIN parameter .*NUL');
  assertRefused(() => ircLine('JOIN', ['#c x', 'key']), 'JOIN parameter must not contain spaces');
  assertRefused(() => ircLine('MODE', ['', '+b', 'x']), 'MODE parameter must not be empty');
  assertRefused(() => ircLine('PRIVMSG', [':evil', 'x']), "PRIVMSG parameter must not start with ':'");
  assertRefused(() => ircLine('QUIT\r\nNICK', []), 'not an IRC command');
});

test('rawLine passes a raw command through and refuses line breaks, NUL and non-commands', () => {
  assert.equal(rawLine('MODE alice +i'), 'MODE alice +i');
  assert.equal(rawLine('PRIVMSG NickServ :IDENTIFY secret'), 'PRIVMSG NickServ :IDENTIFY secret');
  assertRefused(() => rawLine('PRIVMSG x :a\r\nQUIT'), 'IRC command must not contain a line break');
  assertRefused(() => rawLine('MODE x\0'), 'NUL');
  assertRefused(() => rawLine(':prefix PRIVMSG x'), 'does not start with an IRC command');
});
