import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { batchWritesThisTurn } from './write-batching.js';

/** A stream that records each system-call-sized write: one entry per _write/_writev. */
function recorder(): { stream: Writable; calls: string[][] } {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      calls.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      done();
    },
  });
  return { stream, calls };
}

test('writes of one turn leave together, in order; the next turn starts a new batch', async () => {
  const { stream, calls } = recorder();
  for (const line of ['a', 'b', 'c']) {
    batchWritesThisTurn(stream);
    stream.write(line);
  }
  assert.deepEqual(calls, [], 'held until the turn ends');
  await nextTurn();
  assert.deepEqual(calls, [['a', 'b', 'c']]);
  batchWritesThisTurn(stream);
  stream.write('d');
  await nextTurn();
  assert.deepEqual(calls, [['a', 'b', 'c'], ['d']]);
  assert.equal(stream.writableCorked, 0);
});

test('without a socket, or on a destroyed one, nothing happens', () => {
  batchWritesThisTurn(null);
  batchWritesThisTurn(undefined);
  const { stream } = recorder();
  stream.destroy();
  batchWritesThisTurn(stream);
  assert.equal(stream.writableCorked, 0);
});
