import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Core, GatewayDomain } from '../core/core.js';
import { GatewayError } from '../core/errors.js';
import { RoomState, type RoomHistoryEntry } from '../core/rooms.js';
import type { Session } from '../core/sessions.js';
import type { NetworkAddress, NetworkSession } from '../networks/types.js';
import { createTestNetwork } from '../../test/networks/test-network.js';
import { Addressing } from './addressing.js';
import type { XmppContext } from './context.js';
import { handleDirectInvite } from './muc.js';
import { requireFeature, type OccupantTarget } from './muc/common.js';
import { parseHistoryRequest, selectHistory } from './muc/history.js';
import { joinSequence, subjectAuthor } from './muc/occupancy.js';
import { checkOccupantPing } from './muc/ping.js';
import { historyMessage, mediatedInvite, occupantPresence, subjectMessage, unavailablePresence } from './muc/stanzas.js';
import type { InboundStanza } from './router.js';
import { xml, type Element } from './stanza.js';
import { assertXml } from '../../test/harness/xml-assert.js';

const ROOM = '#chan@test.localhost';
const ME = 'alice@localhost/desk';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const DELAY = 'urn:xmpp:delay';


function roomWith(): RoomState {
  const room = new RoomState({ kind: 'room', id: '#chan' }, ROOM, 'alice');
  room.role = 'moderator';
  room.affiliation = 'owner';
  room.setParticipant({ nick: 'bob', role: 'participant', affiliation: 'member', show: 'away', status: 'lunch' });
  room.setParticipant({ nick: 'carol', role: 'visitor', affiliation: 'none' });
  return room;
}

test('an occupant presence carries show, status, the muc#user item and caps', () => {
  const caps = xml('c', { xmlns: 'http://jabber.org/protocol/caps', hash: 'sha-1', node: 'n', ver: 'v' });
  assertXml(
    occupantPresence({ roomJid: ROOM, nick: 'bob', to: ME, item: { affiliation: 'member', role: 'participant' }, show: 'away', status: 'lunch', caps }),
    xml(
      'presence',
      { from: `${ROOM}/bob`, to: ME },
      xml('show', {}, 'away'),
      xml('status', {}, 'lunch'),
      xml('x', { xmlns: MUC_USER }, xml('item', { affiliation: 'member', role: 'participant' })),
      xml('c', { xmlns: 'http://jabber.org/protocol/caps', hash: 'sha-1', node: 'n', ver: 'v' }),
    ),
  );
});

test('status codes come sorted and once; the join id is reflected', () => {
  assertXml(
    occupantPresence({ roomJid: ROOM, nick: 'alice', to: ME, item: { affiliation: 'owner', role: 'moderator' }, codes: [210, 110, 201, 110], id: 'j1' }),
    xml(
      'presence',
      { from: `${ROOM}/alice`, to: ME, id: 'j1' },
      xml(
        'x',
        { xmlns: MUC_USER },
        xml('item', { affiliation: 'owner', role: 'moderator' }),
        xml('status', { code: '110' }),
        xml('status', { code: '201' }),
        xml('status', { code: '210' }),
      ),
    ),
  );
});

test('a kick names the actor and the reason (307), a rename the new nick (303)', () => {
  assertXml(
    unavailablePresence({
      roomJid: ROOM,
      nick: 'bob',
      to: ME,
      item: { affiliation: 'none', role: 'none', actor: 'alice', reason: 'spam' },
      codes: [307],
      status: 'spam',
    }),
    xml(
      'presence',
      { from: `${ROOM}/bob`, to: ME, type: 'unavailable' },
      xml('status', {}, 'spam'),
      xml(
        'x',
        { xmlns: MUC_USER },
        xml('item', { affiliation: 'none', role: 'none' }, xml('actor', { nick: 'alice' }), xml('reason', {}, 'spam')),
        xml('status', { code: '307' }),
      ),
    ),
  );
  assertXml(
    unavailablePresence({ roomJid: ROOM, nick: 'bob', to: ME, item: { affiliation: 'member', role: 'participant', nick: 'robert' }, codes: [303] }),
    xml(
      'presence',
      { from: `${ROOM}/bob`, to: ME, type: 'unavailable' },
      xml('x', { xmlns: MUC_USER }, xml('item', { affiliation: 'member', role: 'participant', nick: 'robert' }), xml('status', { code: '303' })),
    ),
  );
});

test('the subject message is empty when there is none, and comes from who set it', () => {
  assertXml(
    subjectMessage({ roomJid: ROOM, to: ME, id: 's1' }),
    xml('message', { from: ROOM, to: ME, type: 'groupchat', id: 's1' }, xml('subject', {}, '')),
  );
  assertXml(
    subjectMessage({ roomJid: ROOM, to: ME, id: 's2', subject: { text: 'Welcome', by: 'bob' }, fromNick: 'bob' }),
    xml('message', { from: `${ROOM}/bob`, to: ME, type: 'groupchat', id: 's2' }, xml('subject', {}, 'Welcome')),
  );
  const room = roomWith();
  room.subject = { text: 'x', by: 'bob' };
  assert.equal(subjectAuthor(room), 'bob');
  room.subject = { text: 'x', by: 'gone' };
  assert.equal(subjectAuthor(room), undefined, 'someone no longer in the room: from the room itself');
});

test('history messages keep their time (XEP-0203) and /me', () => {
  assertXml(
    historyMessage({
      roomJid: ROOM,
      to: ME,
      nick: 'bob',
      id: 'h1',
      message: { id: 'n1', body: 'waves', action: true, timestamp: new Date('2024-05-01T10:00:00.123Z') },
    }),
    xml(
      'message',
      { from: `${ROOM}/bob`, to: ME, type: 'groupchat', id: 'h1' },
      xml('body', {}, '/me waves'),
      xml('delay', { xmlns: DELAY, from: ROOM, stamp: '2024-05-01T10:00:00Z' }),
    ),
  );
});

test('the join sequence: other occupants, own presence, history, then the subject', () => {
  const room = roomWith();
  room.subject = { text: 'Topic', by: 'bob' };
  room.remember('bob', { id: 'm1', body: 'one', timestamp: new Date('2024-01-01T00:00:00Z') });
  room.remember('carol', { id: 'm2', body: 'two', timestamp: new Date('2024-01-01T00:01:00Z') });
  const out = joinSequence(room, { to: ME, codes: [201], joinId: 'join-1', newId: () => 'sid' });
  assert.deepEqual(
    out.map((el) => `${el.name} ${el.attrs.from}`),
    [`presence ${ROOM}/bob`, `presence ${ROOM}/carol`, `presence ${ROOM}/alice`, `message ${ROOM}/bob`, `message ${ROOM}/carol`, `message ${ROOM}/bob`],
  );
  assertXml(
    out[2]!,
    xml(
      'presence',
      { from: `${ROOM}/alice`, to: ME, id: 'join-1' },
      xml('x', { xmlns: MUC_USER }, xml('item', { affiliation: 'owner', role: 'moderator' }), xml('status', { code: '110' }), xml('status', { code: '201' })),
    ),
  );
  assertXml(out[5]!, xml('message', { from: `${ROOM}/bob`, to: ME, type: 'groupchat', id: 'sid' }, xml('subject', {}, 'Topic')));
  assert.equal(out[3]!.getChild('delay', DELAY)?.attrs.stamp, '2024-01-01T00:00:00Z');
});

test('history follows maxstanzas, maxchars, seconds and since', () => {
  const now = new Date('2024-01-01T01:00:00Z');
  const entries: RoomHistoryEntry[] = [0, 10, 20, 30].map((minute, i) => ({
    nick: 'bob',
    message: { id: `m${i}`, body: `message ${i}`, timestamp: new Date(now.getTime() - (60 - minute) * 60_000) },
  }));
  const render = (entry: RoomHistoryEntry) => xml('message', { id: entry.message.id }, xml('body', {}, entry.message.body));
  const ids = (request: object) => selectHistory(entries, request, render, now).map((el) => el.attrs.id);
  assert.deepEqual(ids({}), ['m0', 'm1', 'm2', 'm3']);
  assert.deepEqual(ids({ maxstanzas: 2 }), ['m2', 'm3']);
  assert.deepEqual(ids({ maxstanzas: 0 }), []);
  assert.deepEqual(ids({ maxchars: 0 }), []);
  const one = render(entries[3]!).toString().length;
  assert.deepEqual(ids({ maxchars: one * 2 + 1 }), ['m2', 'm3']);
  assert.deepEqual(ids({ seconds: 45 * 60 }), ['m2', 'm3']);
  assert.deepEqual(ids({ since: new Date('2024-01-01T00:10:00Z') }), ['m1', 'm2', 'm3']);
  assert.deepEqual(ids({ since: new Date('2024-01-01T00:10:00Z'), maxstanzas: 1 }), ['m3']);

  const presence = xml('presence', {}, xml('x', { xmlns: 'http://jabber.org/protocol/muc' }, xml('history', { maxstanzas: '5', seconds: 'x', since: '2024-01-01T00:00:00Z' })));
  assert.deepEqual(parseHistoryRequest(presence), { maxstanzas: 5, since: new Date('2024-01-01T00:00:00Z') });
  assert.deepEqual(parseHistoryRequest(xml('presence')), {});
});

test('a mediated invitation from the room names the inviter and carries the password', () => {
  assertXml(
    mediatedInvite({ roomJid: ROOM, to: 'alice@localhost', inviter: 'bob@test.localhost', reason: 'come', password: 'pw', id: 'i1' }),
    xml(
      'message',
      { from: ROOM, to: 'alice@localhost', id: 'i1' },
      xml('x', { xmlns: MUC_USER }, xml('invite', { from: 'bob@test.localhost' }, xml('reason', {}, 'come')), xml('password', {}, 'pw')),
      xml('body', {}, `bob@test.localhost invites you to the room ${ROOM}: come`),
    ),
  );
});

function fakeCore(room: RoomState | undefined, gateway: GatewayDomain, session?: Partial<Session>): Core {
  const fullSession = { room: () => room, ...session } as unknown as Session;
  return {
    session: () => fullSession,
    gateway: (domain: string) => (domain === gateway.domain ? gateway : undefined),
    handles: () => ({}),
    openSession: async () => fullSession,
  } as unknown as Core;
}

test('self-ping: result when joined, not-acceptable when not, item-not-found for an unknown nick', () => {
  const { network } = createTestNetwork();
  const gateway: GatewayDomain = { name: 'test', domain: 'test.localhost', network };
  const room = roomWith();
  room.resources.add(ME);
  const target = (nick: string): OccupantTarget => ({ kind: 'occupant', gateway, address: room.address, bare: ROOM, nick });
  const core = fakeCore(room, gateway);
  assert.doesNotThrow(() => checkOccupantPing(core, target('alice'), ME));
  assert.doesNotThrow(() => checkOccupantPing(core, target('bob'), ME), 'another occupant who is there');
  assert.throws(() => checkOccupantPing(core, target('alice'), 'alice@localhost/phone'), { condition: 'not-acceptable' });
  assert.throws(() => checkOccupantPing(core, target('oldnick'), ME), { condition: 'item-not-found' });
  assert.throws(() => checkOccupantPing(fakeCore(undefined, gateway), target('alice'), ME), { condition: 'not-acceptable' });
});

test('a feature the network lacks is feature-not-implemented', () => {
  const { network } = createTestNetwork({ capabilities: ['rooms'] });
  const gateway: GatewayDomain = { name: 'test', domain: 'test.localhost', network };
  const session = { remote: { kick: async () => undefined } as unknown as NetworkSession } as Session;
  assert.throws(() => requireFeature(gateway, session, 'kick', 'kick', 'kicking'), (err: unknown) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.condition, 'feature-not-implemented');
    assert.match(err.message, /does not support kicking/);
    return true;
  });
  const full: GatewayDomain = { name: 'test', domain: 'test.localhost', network: createTestNetwork().network };
  assert.throws(() => requireFeature(full, { remote: {} as NetworkSession } as Session, 'kick', 'kick', 'kicking'), { condition: 'feature-not-implemented' });
  assert.equal(typeof requireFeature(full, session, 'kick', 'kick', 'kicking'), 'function');
});

test('a XEP-0249 direct invitation to a contact becomes the network invite', async () => {
  const { network } = createTestNetwork();
  const gateway: GatewayDomain = { name: 'test', domain: 'test.localhost', network };
  const invites: Array<[NetworkAddress, NetworkAddress, string | undefined]> = [];
  const remote = { invite: async (room: NetworkAddress, contact: NetworkAddress, reason?: string) => void invites.push([room, contact, reason]) };
  const core = fakeCore(undefined, gateway, { remote: remote as unknown as NetworkSession });
  const context = { core, addressing: new Addressing(core) } as unknown as XmppContext;
  const stanza = (x: Element): InboundStanza => ({
    kind: 'message',
    from: ME,
    to: 'bob@test.localhost',
    type: 'normal',
    id: 'd1',
    stanza: xml('message', { from: ME, to: 'bob@test.localhost' }, x),
  });
  const bob = await context.addressing.resolve('bob@test.localhost');
  await handleDirectInvite(context, stanza(xml('x', { xmlns: 'jabber:x:conference', jid: ROOM, reason: 'join us' })), bob);
  assert.deepEqual(invites, [[{ kind: 'room', id: '#chan' }, { kind: 'contact', id: 'bob' }, 'join us']]);
  await assert.rejects(handleDirectInvite(context, stanza(xml('x', { xmlns: 'jabber:x:conference', jid: 'room@conference.localhost' })), bob), {
    condition: 'not-acceptable',
  });
  await assert.rejects(handleDirectInvite(context, stanza(xml('x', { xmlns: 'jabber:x:conference' })), bob), { condition: 'bad-request' });
  await assert.rejects(handleDirectInvite(context, stanza(xml('x', { xmlns: 'jabber:x:conference', jid: 'carol@test.localhost' })), bob), {
    condition: 'bad-request',
  });
});
