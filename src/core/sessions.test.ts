import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Network } from '../networks/types.js';
import { Session, type SessionEvents } from './sessions.js';

const network = { name: 'irc' } as Network;
const server = (id: string) => ({ kind: 'server' as const, id });

test('without servers named, the session state is the last one reported, and server JIDs follow it', () => {
  const session = new Session('alice@example.org', 'irc.example.org', network, new EventEmitter<SessionEvents>());
  session.sink().connectionState('reconnecting', 'lost');
  assert.equal(session.state, 'reconnecting');
  assert.equal(session.detail, 'lost');
  assert.equal(session.serverState(server('irc.a.net')), undefined);
});

test('per-server states: each server its own, the session the best of them, a closed one not connected', () => {
  const events = new EventEmitter<SessionEvents>();
  const seen: unknown[][] = [];
  events.on('connectionState', (_session, ...args) => seen.push(args));
  const session = new Session('alice@example.org', 'irc.example.org', network, events);
  const sink = session.sink();
  sink.connectionState('online', 'connected to a', server('irc.a.net'));
  sink.connectionState('online', 'connected to b', server('irc.b.net'));
  sink.connectionState('reconnecting', 'b lost', server('irc.b.net'));
  assert.deepEqual(session.serverState(server('irc.a.net')), { state: 'online', detail: 'connected to a' });
  assert.deepEqual(session.serverState(server('irc.b.net')), { state: 'reconnecting', detail: 'b lost' });
  assert.equal(session.state, 'online', 'one server in trouble does not make the session look so');
  assert.deepEqual(session.serverState(server('irc.never.net')), { state: 'offline', detail: 'Not connected to irc.never.net.' });
  sink.connectionState('offline', 'left', server('irc.a.net'));
  assert.equal(session.serverState(server('irc.a.net'))?.state, 'offline');
  assert.equal(session.state, 'reconnecting');
  // The events still reach the XMPP side, with the server.
  assert.deepEqual(seen.at(-1), ['offline', 'left', server('irc.a.net')]);
});
