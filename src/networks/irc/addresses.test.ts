import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelTypes, chanTypesOf, formatAddress, ircLower, parseLocalpart, parseServerSpec, serverEndpoint } from './addresses.js';

const open = { servers: ['127.0.0.1:6667/plain', 'irc.example.org', 'irc.other.net:7000'] };
const fixed = { servers: [], fixedServer: 'irc.libera.chat' };

describe('IRC addresses', () => {
  test('channels, nicks and servers by the first character and the %', () => {
    assert.deepEqual(parseLocalpart('#test%127.0.0.1', open), { kind: 'room', id: '#test%127.0.0.1' });
    assert.deepEqual(parseLocalpart('&local%irc.example.org', open), { kind: 'room', id: '&local%irc.example.org' });
    assert.deepEqual(parseLocalpart('Alice%IRC.Example.org', open), { kind: 'contact', id: 'alice%irc.example.org' });
    assert.deepEqual(parseLocalpart('irc.example.org', open), { kind: 'server', id: 'irc.example.org' });
  });

  test('ids fold letters only: [ ] \\ ^ stay, a server with CASEMAPPING=ascii tells them from { } | ~', () => {
    assert.equal(ircLower('#Foo[]\\^'), '#foo{}|~');
    assert.deepEqual(parseLocalpart('#Chan[1]%irc.example.org', open), { kind: 'room', id: '#chan[1]%irc.example.org' });
    assert.deepEqual(parseLocalpart('Nick^Away%irc.example.org', open), { kind: 'contact', id: 'nick^away%irc.example.org' });
    assert.deepEqual(parseLocalpart('A\\B%irc.example.org', open), { kind: 'contact', id: 'a\\b%irc.example.org' });
  });

  test("channel or nick by the server's CHANTYPES; before a connection told them, #&", () => {
    const types = new ChannelTypes();
    assert.equal(parseLocalpart('+modeless%irc.example.org', open, types), null);
    assert.equal(parseLocalpart('!abcdeChan%irc.example.org', open, types), null);
    types.learn('IRC.example.org', chanTypesOf('#&+!'));
    assert.deepEqual(parseLocalpart('+modeless%irc.example.org', open, types), { kind: 'room', id: '+modeless%irc.example.org' });
    assert.deepEqual(parseLocalpart('!abcdeChan%irc.example.org', open, types), { kind: 'room', id: '!abcdechan%irc.example.org' });
    // Another server keeps its own: InspIRCd has only #.
    types.learn('irc.other.net', chanTypesOf(['#']));
    assert.equal(parseLocalpart('&local%irc.other.net', open, types), null);
    assert.deepEqual(parseLocalpart('&local%irc.example.org', open, types), { kind: 'room', id: '&local%irc.example.org' });
    assert.equal(chanTypesOf(undefined), '#&');
    assert.equal(chanTypesOf('#a1,&'), '#&');
  });

  test('what names nothing is null', () => {
    for (const bad of ['', 'alice', '#chan', '#chan%', '%irc.example.org', '#bad chan%irc.example.org', 'a,b%irc.example.org', '#x%bad host', 'al!ce%irc.example.org', '#c\r\nQUIT%irc.example.org']) {
      assert.equal(parseLocalpart(bad, open), null, bad);
    }
  });

  test('fixedServer: #chan alone, and the JID omits the server', () => {
    assert.deepEqual(parseLocalpart('#chan', fixed), { kind: 'room', id: '#chan%irc.libera.chat' });
    assert.deepEqual(parseLocalpart('#chan%irc.libera.chat', fixed), { kind: 'room', id: '#chan%irc.libera.chat' });
    assert.deepEqual(parseLocalpart('bob', fixed), { kind: 'contact', id: 'bob%irc.libera.chat' });
    assert.deepEqual(parseLocalpart('irc.libera.chat', fixed), { kind: 'server', id: 'irc.libera.chat' });
    assert.equal(parseLocalpart('irc.other.net', fixed), null);
    assert.equal(formatAddress({ kind: 'room', id: '#chan%irc.libera.chat' }, fixed), '#chan');
    assert.equal(formatAddress({ kind: 'room', id: '#chan%irc.libera.chat' }, open), '#chan%irc.libera.chat');
    assert.equal(formatAddress({ kind: 'server', id: 'irc.libera.chat' }, fixed), 'irc.libera.chat');
  });

  test('server specs: TLS 6697 by default, /plain only where listed', () => {
    assert.deepEqual(parseServerSpec('irc.example.org'), { host: 'irc.example.org', port: 6697, tls: true });
    assert.deepEqual(parseServerSpec('127.0.0.1:6667/plain'), { host: '127.0.0.1', port: 6667, tls: false });
    assert.deepEqual(parseServerSpec('h.example/plain'), { host: 'h.example', port: 6667, tls: false });
    assert.deepEqual(parseServerSpec('h.example:7000'), { host: 'h.example', port: 7000, tls: true });
    assert.equal(parseServerSpec('h.example:99999'), null);
    assert.equal(parseServerSpec('h example'), null);
    assert.deepEqual(serverEndpoint('127.0.0.1', open), { host: '127.0.0.1', port: 6667, tls: false });
    assert.deepEqual(serverEndpoint('IRC.Other.Net', open), { host: 'irc.other.net', port: 7000, tls: true });
    assert.deepEqual(serverEndpoint('unlisted.example', open), { host: 'unlisted.example', port: 6697, tls: true });
  });
});
