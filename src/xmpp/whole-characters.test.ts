import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeWholeCharacters } from './whole-characters.js';

test('a character split between two chunks arrives whole; a new socket starts afresh', () => {
  const written: string[] = [];
  const conn = { socket: {} as unknown, parser: { write: (text: string) => written.push(text) }, _onData(_data: Buffer) {} };
  decodeWholeCharacters(conn);
  const bytes = Buffer.from('<body>😀é</body>');
  // Cut inside the emoji (4 bytes from offset 6) and inside the é.
  conn._onData(bytes.subarray(0, 8));
  conn._onData(bytes.subarray(8, 11));
  conn._onData(bytes.subarray(11));
  assert.equal(written.join(''), '<body>😀é</body>');
  // Half a character left at a socket's end never leaks into the next socket's text.
  conn._onData(Buffer.from('😀').subarray(0, 2));
  conn.socket = {};
  conn._onData(Buffer.from('<a/>'));
  assert.equal(written.at(-1), '<a/>');
});
