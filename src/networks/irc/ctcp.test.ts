import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ctcpReply } from './ctcp.js';
import { VERSION } from '../../version.js';

test('VERSION names ponte and its version', () => {
  assert.equal(ctcpReply('version', ''), `VERSION ponte ${VERSION} (XMPP gateway)`);
});

test('PING echoes its argument without anything that ends the CTCP or the line', () => {
  assert.equal(ctcpReply('PING', '1234 5678'), 'PING 1234 5678');
  assert.equal(ctcpReply('PING', 'a\x01b\r\nc\0'), 'PING abc');
  assert.equal(ctcpReply('PING', ''), 'PING');
});

test('TIME is UTC; CLIENTINFO lists what is answered', () => {
  assert.equal(ctcpReply('TIME', '', new Date(Date.UTC(2026, 0, 2, 3, 4, 5))), 'TIME Fri, 02 Jan 2026 03:04:05 GMT');
  assert.equal(ctcpReply('CLIENTINFO', ''), 'CLIENTINFO ACTION CLIENTINFO PING TIME VERSION');
});

test('anything else gets no reply', () => {
  for (const type of ['DCC', 'SOURCE', 'USERINFO', 'FINGER', 'ERRMSG', '']) assert.equal(ctcpReply(type, 'x'), null);
});

test('a flood of requests gets at most a burst of replies; channel requests and unknown types none', async () => {
  const { EventEmitter } = await import('node:events');
  const { answerCtcp } = await import('./ctcp.js');
  const { createLogger } = await import('../../log.js');
  const client = new EventEmitter();
  const sent: string[] = [];
  const send = async (line: string) => void sent.push(line);
  answerCtcp(client as never, () => 'Alice', (a, b) => a.toLowerCase() === b.toLowerCase(), send, createLogger({ level: 'silent', format: 'json' }));
  client.emit('ctcp request', { nick: 'bob', target: '#chan', type: 'VERSION', message: 'VERSION' });
  client.emit('ctcp request', { nick: 'bob', target: 'alice', type: 'DCC', message: 'DCC SEND x 1 2 3' });
  assert.equal(sent.length, 0);
  for (let i = 0; i < 20; i++) client.emit('ctcp request', { nick: 'bob', target: 'alice', type: 'PING', message: `PING ${i}` });
  assert.equal(sent.length, 5);
  assert.equal(sent[0], 'NOTICE bob :\x01PING 0\x01');
});
