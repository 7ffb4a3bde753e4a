import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ircLineParser } from 'irc-framework';
import { batchLines, combineEvents, fitsLimits, joinLines, multilineLines, parseMultilineCap, type MessageEvent } from './multiline.js';
import { ircLine } from './safety.js';
import { utf8Bytes } from './split.js';

// As the connection passes it: every line through the guard of safety.ts.
const privmsg = (target: string, text: string) => ircLine('PRIVMSG', [target, text]);

test('the cap value: max-bytes is required, max-lines optional, unknown keys ignored', () => {
  assert.deepEqual(parseMultilineCap('max-bytes=4096,max-lines=24'), { maxBytes: 4096, maxLines: 24 });
  assert.deepEqual(parseMultilineCap('max-lines=5,future=x,max-bytes=100'), { maxBytes: 100, maxLines: 5 });
  assert.deepEqual(parseMultilineCap('max-bytes=100,max-lines=zero'), { maxBytes: 100 });
  assert.equal(parseMultilineCap('max-lines=5'), null);
  assert.equal(parseMultilineCap('max-bytes=0'), null);
  assert.equal(parseMultilineCap(''), null);
  assert.equal(parseMultilineCap(undefined), null);
});

test('body lines: outer blank lines dropped, inner ones kept, NUL dropped', () => {
  assert.deepEqual(multilineLines('\n\nfirst\r\n\nsec\0ond\r\n\n', 100), [
    { text: 'first', concat: false },
    { text: '', concat: false },
    { text: 'second', concat: false },
  ]);
  assert.deepEqual(multilineLines(' \n\n', 100), []);
});

test('a long line is cut at spaces, the space kept at the end, the rest marked concat', () => {
  const line = 'alpha beta gamma delta epsilon';
  const lines = multilineLines(line, 12);
  assert.deepEqual(lines, [
    { text: 'alpha beta ', concat: false },
    { text: 'gamma delta ', concat: true },
    { text: 'epsilon', concat: true },
  ]);
  for (const piece of lines) assert.ok(utf8Bytes(piece.text) <= 12);
  assert.equal(joinLines(lines), line);
});

test('a long word is cut between grapheme clusters, never inside one', () => {
  const word = 'é'.repeat(20) + '👍🏽'.repeat(5);
  const lines = multilineLines(word, 10);
  for (const piece of lines) {
    assert.ok(utf8Bytes(piece.text) <= 10, JSON.stringify(piece));
    assert.doesNotMatch(piece.text, /^[\uDC00-\uDFFF\u{1F3FB}-\u{1F3FF}]/u);
  }
  assert.equal(joinLines(lines), word);
  assert.ok(lines.slice(1).every((l) => l.concat));
});

test('limits count the joining line feeds but not concatenations', () => {
  const lines = [
    { text: 'abc', concat: false },
    { text: 'de', concat: true },
    { text: 'f', concat: false },
  ];
  assert.equal(fitsLimits(lines, { maxBytes: 7 }), true); // 3 + 2 + 1 (\n) + 1
  assert.equal(fitsLimits(lines, { maxBytes: 6 }), false);
  assert.equal(fitsLimits(lines, { maxBytes: 100, maxLines: 3 }), true);
  assert.equal(fitsLimits(lines, { maxBytes: 100, maxLines: 2 }), false);
});

test('batch lines follow the spec: BATCH +ref, tagged PRIVMSGs, BATCH -ref; they parse back', () => {
  const lines = batchLines('r1', '#chan', [
    { text: 'hello', concat: false },
    { text: '', concat: false },
    { text: 'how is ', concat: false },
    { text: 'everyone?', concat: true },
  ], privmsg, { '+draft/reply': 'abc' });
  assert.deepEqual(lines, [
    '@+draft/reply=abc BATCH +r1 draft/multiline #chan',
    '@batch=r1 PRIVMSG #chan hello',
    '@batch=r1 PRIVMSG #chan :',
    '@batch=r1 PRIVMSG #chan :how is ',
    '@batch=r1;draft/multiline-concat PRIVMSG #chan everyone?',
    'BATCH -r1',
  ]);
  const parsed = lines.map((line) => ircLineParser(line));
  assert.deepEqual(parsed.map((m) => m.params.at(-1)), ['#chan', 'hello', '', 'how is ', 'everyone?', '-r1']);
  assert.equal(parsed[4]!.tags['draft/multiline-concat'], '');
  assert.throws(() => batchLines('r2', '#c', [{ text: 'a\r\nQUIT', concat: false }], privmsg), /PRIVMSG parameter must not contain a line break/);
  assert.throws(() => batchLines('r2', '#c x', [{ text: 'a', concat: false }], privmsg), /parameter must not contain spaces/);
});

test('incoming lines become one event: joined text, the opening tags and time', () => {
  const base = { nick: 'bob', target: '#chan', batch: { id: 'b', type: 'draft/multiline', params: ['#chan'] } };
  const events: MessageEvent[] = [
    { ...base, message: 'one', tags: { batch: 'b' }, time: 1000 },
    { ...base, message: 'two ', tags: { batch: 'b' }, time: 1000 },
    { ...base, message: 'three', tags: { batch: 'b', 'draft/multiline-concat': '' }, time: 1000 },
  ];
  const combined = combineEvents(events, { tags: { msgid: 'm1', time: '2026-01-02T03:04:05.000Z' } });
  assert.equal(combined.message, 'one\ntwo three');
  assert.equal(combined.tags?.msgid, 'm1');
  assert.equal(combined.time, Date.parse('2026-01-02T03:04:05.000Z'));
  assert.equal(combined.batch, undefined);
  assert.equal(combined.nick, 'bob');
  const withoutOpening = combineEvents([{ ...events[0]!, tags: { batch: 'b', msgid: 'first' } }], undefined);
  assert.equal(withoutOpening.tags?.msgid, 'first');
  assert.equal(withoutOpening.time, 1000);
});
