import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HandleStore } from '../types.js';
import { matrixAddressCodec, userIdFromText } from './addresses.js';
import { isOurTxn, txnIdFor, xmppIdOfTxn } from './txn.js';

/** Handles as the store makes them: lowercase, stable, one per id. */
function memoryHandles(): HandleStore {
  const rooms = new Map<string, string>();
  const contacts = new Map<string, string>();
  const handleIn = (map: Map<string, string>, id: string) => {
    if (!map.has(id)) map.set(id, `h${map.size}${map === rooms ? 'r' : 'c'}`);
    return Promise.resolve(map.get(id)!);
  };
  const idIn = (map: Map<string, string>, handle: string) => Promise.resolve([...map].find(([, h]) => h === handle)?.[0] ?? null);
  return {
    roomHandle: (id) => handleIn(rooms, id),
    roomForHandle: (h) => idIn(rooms, h),
    contactHandle: (id) => handleIn(contacts, id),
    contactForHandle: (h) => idIn(contacts, h),
  };
}

test('aliases and user ids parse and print; the case of aliases is kept', async () => {
  const handles = memoryHandles();
  const { parse, format } = matrixAddressCodec;
  assert.deepEqual(await parse('#Room%matrix.org', handles), { kind: 'room', id: '#Room:matrix.org' });
  assert.deepEqual(await parse('bob%matrix.org', handles), { kind: 'contact', id: '@bob:matrix.org' });
  assert.deepEqual(await parse('bob%localhost:8448', handles), { kind: 'contact', id: '@bob:localhost:8448' });
  assert.equal(await format({ kind: 'room', id: '#Room:matrix.org' }, handles), '#Room%matrix.org');
  assert.equal(await format({ kind: 'contact', id: '@bob:matrix.org' }, handles), 'bob%matrix.org');
  assert.equal(await parse('#%matrix.org', handles), null);
  assert.equal(await parse('!abc%matrix.org', handles), null);
  assert.equal(await parse('bob%not a server', handles), null);
  assert.equal(await parse('unknown handle', handles), null);
  assert.deepEqual(await parse('matrix.org', handles), { kind: 'server', id: 'matrix.org' });
  assert.equal(await format({ kind: 'server', id: 'matrix.org' }, handles), 'matrix.org');
});

test('room ids and historical user ids go through handles, never into the JID', async () => {
  const handles = memoryHandles();
  const { parse, format } = matrixAddressCodec;
  const upper = await format({ kind: 'room', id: '!AbC:matrix.org' }, handles);
  const lower = await format({ kind: 'room', id: '!abc:matrix.org' }, handles);
  assert.notEqual(upper, lower);
  assert.ok(!upper.includes('!'));
  assert.deepEqual(await parse(upper, handles), { kind: 'room', id: '!AbC:matrix.org' });
  const historical = await format({ kind: 'contact', id: '@Bob:matrix.org' }, handles);
  assert.ok(!historical.includes('%'));
  assert.deepEqual(await parse(historical, handles), { kind: 'contact', id: '@Bob:matrix.org' });
});

test('user ids from what people type', () => {
  assert.equal(userIdFromText('@bob:matrix.org'), '@bob:matrix.org');
  assert.equal(userIdFromText('bob%matrix.org'), '@bob:matrix.org');
  assert.equal(userIdFromText('bob'), null);
  assert.equal(userIdFromText('bob', 'example.org'), '@bob:example.org');
});

test('transaction ids are stable per (room, XMPP id) and give the XMPP id back', () => {
  const a = txnIdFor('!r:x', 'id-1');
  assert.equal(txnIdFor('!r:x', 'id-1'), a);
  assert.notEqual(txnIdFor('!other:x', 'id-1'), a);
  assert.equal(xmppIdOfTxn(a), 'id-1');
  assert.equal(xmppIdOfTxn(txnIdFor('!r:x', 'id-1', 'r')), undefined);
  assert.equal(xmppIdOfTxn('m1234'), undefined);
  assert.ok(isOurTxn(a));
  assert.ok(!isOurTxn('m1234'));
  assert.match(a, /^[A-Za-z0-9._-]+$/);
});
