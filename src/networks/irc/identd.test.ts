import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Identd } from './identd.js';

test('answers RFC 1413 queries for registered connections only, from their server', () => {
  const identd = new Identd(0, '127.0.0.1', () => undefined);
  const forget = identd.register({ localPort: 40000, remotePort: 6667, remoteAddress: '::ffff:127.0.0.1' }, 'alice');
  try {
    assert.equal(identd.answer('40000 , 6667', '127.0.0.1'), '40000 , 6667 : USERID : UNIX : alice');
    assert.equal(identd.answer(' 40000,6667 ', '127.0.0.1'), '40000 , 6667 : USERID : UNIX : alice');
    assert.equal(identd.answer('40000 , 6667', '10.0.0.1'), '40000 , 6667 : ERROR : NO-USER', 'another host may not ask');
    assert.equal(identd.answer('40001 , 6667', '127.0.0.1'), '40001 , 6667 : ERROR : NO-USER');
    assert.equal(identd.answer('0 , 6667', '127.0.0.1'), '0 , 6667 : ERROR : INVALID-PORT');
    assert.match(identd.answer('hello', '127.0.0.1'), /INVALID-PORT/);
  } finally {
    forget();
  }
  assert.equal(identd.answer('40000 , 6667', '127.0.0.1'), '40000 , 6667 : ERROR : NO-USER', 'forgotten once closed');
});
