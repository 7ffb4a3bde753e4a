import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineBudget, splitLine, splitMessage, utf8Bytes } from './split.js';

const rebuild = (line: string, budget: number) =>
  splitLine(line, budget)
    .map((p) => p.text + p.separator)
    .join('');

function assertWellSplit(line: string, budget: number): string[] {
  const pieces = splitLine(line, budget);
  for (const piece of pieces) {
    assert.ok(utf8Bytes(piece.text) <= budget, `piece ${JSON.stringify(piece.text)} over ${budget} bytes`);
    assert.ok(piece.text.length > 0, 'no empty piece');
    assert.ok(!piece.text.includes('\uFFFD') || line.includes('\uFFFD'), 'no broken sequence');
    // A lone surrogate at either end would mean a pair was cut.
    assert.doesNotMatch(piece.text, /^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
  }
  assert.equal(rebuild(line, budget), line);
  return pieces.map((p) => p.text);
}

test('a short line is one chunk', () => {
  assert.deepEqual(splitMessage('hello world', 100), ['hello world']);
});

test('lines split on CRLF, LF and CR; empty lines dropped; NUL dropped', () => {
  assert.deepEqual(splitMessage('a\r\nb\nc\rd\n\n\r\n e\n', 100), ['a', 'b', 'c', 'd', ' e']);
  assert.deepEqual(splitMessage('', 100), []);
  assert.deepEqual(splitMessage('\n\r\n', 100), []);
  assert.deepEqual(splitMessage('a\0b', 100), ['ab']);
  for (const chunk of splitMessage('x\r\nPRIVMSG #c :evil\0\ry', 5)) assert.doesNotMatch(chunk, /[\r\n\0]/);
});

test('ASCII words are cut at the last space that fits, the space dropped', () => {
  assert.deepEqual(splitMessage('the quick brown fox', 10), ['the quick', 'brown fox']);
  assert.deepEqual(assertWellSplit('the quick brown fox jumps over', 10), ['the quick', 'brown fox', 'jumps over']);
});

test('exact boundaries: budget-1, budget, budget+1 bytes', () => {
  const budget = 10;
  assert.deepEqual(splitMessage('a'.repeat(budget - 1), budget), ['a'.repeat(budget - 1)]);
  assert.deepEqual(splitMessage('a'.repeat(budget), budget), ['a'.repeat(budget)]);
  assert.deepEqual(splitMessage('a'.repeat(budget + 1), budget), ['a'.repeat(budget), 'a']);
  // A space right after a full piece is the cut.
  assert.deepEqual(splitMessage('abcdefghij klm', budget), ['abcdefghij', 'klm']);
  // A space as the last byte that fits is the cut too.
  assert.deepEqual(splitMessage('abcdefghi jklm', budget), ['abcdefghi', 'jklm']);
  // A trailing space is dropped at the cut, and rebuilding keeps it.
  assert.deepEqual(assertWellSplit('abcdefghij ', budget), ['abcdefghij']);
});

test('a word longer than the budget is cut hard, then words resume', () => {
  assert.deepEqual(assertWellSplit('hi abcdefghijklmnop yo', 8), ['hi', 'abcdefgh', 'ijklmnop', 'yo']);
  assert.deepEqual(assertWellSplit('abcdefghijklmnopqrstuvwxyz', 8), ['abcdefgh', 'ijklmnop', 'qrstuvwx', 'yz']);
});

test('multibyte characters are never cut inside their UTF-8 sequence', () => {
  // é is 2 bytes: 5 of them do not fit 9 bytes.
  assert.deepEqual(assertWellSplit('ééééé', 9), ['éééé', 'é']);
  // 日 is 3 bytes.
  assert.deepEqual(assertWellSplit('日本語日本語', 8), ['日本', '語日', '本語']);
  assert.deepEqual(assertWellSplit('日本語 日本語', 10), ['日本語', '日本語']);
});

test('emoji with skin tones and ZWJ sequences stay whole when they fit', () => {
  const family = '👨‍👩‍👧‍👦'; // 25 bytes
  const thumbs = '👍🏽'; // 8 bytes
  assert.equal(utf8Bytes(family), 25);
  assert.deepEqual(assertWellSplit(thumbs.repeat(3), 20), [thumbs.repeat(2), thumbs]);
  assert.deepEqual(assertWellSplit(`ab${family}`, 26), ['ab', family]);
  // A cluster larger than the budget is cut between code points, never inside one.
  const pieces = assertWellSplit(family, 8);
  assert.ok(pieces.length > 1);
  assert.equal(pieces.join(''), family);
  // Combining marks stay with their base letter.
  assert.deepEqual(assertWellSplit('e\u0301e\u0301e\u0301', 6), ['e\u0301e\u0301', 'e\u0301']);
});

test('no chunk ever exceeds the budget and every line rebuilds (property sweep)', () => {
  const alphabet = ['a', 'b', ' ', ' ', 'é', '日', '😀', '👍🏽', 'e\u0301', '👨‍👩‍👧'];
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let round = 0; round < 300; round++) {
    let line = '';
    const length = Math.floor(random() * 60);
    for (let k = 0; k < length; k++) line += alphabet[Math.floor(random() * alphabet.length)];
    const budget = 4 + Math.floor(random() * 30);
    assertWellSplit(line, budget);
  }
});

test('a budget below 4 bytes is refused', () => {
  assert.throws(() => splitMessage('abc', 3), RangeError);
  assert.throws(() => splitMessage('abc', Number.NaN), RangeError);
});

test('lineBudget subtracts the relayed prefix, CRLF and CTCP ACTION', () => {
  const full = lineBudget({ nick: 'alice', user: 'al', host: 'example.org', target: '#chan' });
  // ":alice!al@example.org PRIVMSG #chan :" is 37 bytes.
  assert.equal(full, 512 - 37 - 2);
  assert.equal(lineBudget({ nick: 'alice', user: 'al', host: 'example.org', target: '#chan', action: true }), full - 9);
  assert.equal(lineBudget({ nick: 'alice', user: 'al', host: 'example.org', target: '#chan', command: 'NOTICE' }), full + 1);
  assert.equal(lineBudget({ nick: 'alice', user: 'al', host: 'example.org', target: '#chan', tagsBytes: 20 }), full - 20);
  // Unknown user and host: 10 and 63 bytes.
  assert.equal(lineBudget({ nick: 'alice', target: '#chan' }), 512 - (1 + 5 + 1 + 10 + 1 + 63 + 1 + 7 + 1 + 5 + 2) - 2);
  // Targets and nicks count in bytes.
  assert.equal(lineBudget({ nick: 'é', user: 'u', host: 'h', target: '#日' }), 512 - (1 + 2 + 1 + 1 + 1 + 1 + 1 + 7 + 1 + 4 + 2) - 2);
});

test('split to lineBudget: every relayed line fits 512 bytes', () => {
  const opts = { nick: 'alice', target: '#chan', action: true } as const;
  const budget = lineBudget(opts);
  const body = 'Voilà 日本語 👍🏽 '.repeat(100);
  const chunks = splitMessage(body, budget);
  assert.ok(chunks.length > 1);
  for (const chunk of chunks) {
    const relayed = `:alice!${'u'.repeat(10)}@${'h'.repeat(63)} PRIVMSG #chan :\x01ACTION ${chunk}\x01\r\n`;
    assert.ok(utf8Bytes(relayed) <= 512);
  }
});
