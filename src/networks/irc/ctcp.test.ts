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
