import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventSink } from '../types.js';
import type { RawEvent } from './client.js';
import { correctionFor, contentFor, EventMapper, RoomView, ENCRYPTED_NOTICE, type Conversation } from './events.js';

const ME = '@me:x';
let serial = 0;
const ev = (type: string, sender: string, content: Record<string, unknown>, extra: Partial<RawEvent> = {}): RawEvent => ({
  type,
  sender,
  content,
  event_id: `$e${++serial}`,
  origin_server_ts: 1_700_000_000_000,
  ...extra,
});
const member = (userId: string, membership: string, displayname?: string, sender = userId) =>
  ev('m.room.member', sender, { membership, ...(displayname ? { displayname } : {}) }, { state_key: userId });

/** A sink that records every call as [name, ...args]. */
function recorder(): { sink: EventSink; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const sink = new Proxy({} as EventSink, { get: (_t, name: string) => (...args: unknown[]) => calls.push([name, ...args]) });
  return { sink, calls };
}

function setup() {
  const { sink, calls } = recorder();
  const view = new RoomView('!r:x', ME);
  for (const e of [member(ME, 'join', 'Me'), member('@bob:x', 'join', 'Bob'), ev('m.room.power_levels', '@bob:x', { users: { '@bob:x': 100 } }, { state_key: '' })]) view.applyState(e);
  view.snapshotNicks();
  const mapper = new EventMapper({ sink, ownUserId: ME, mediaUrl: (mxc) => `https://hs/${mxc.slice(6)}` });
  const room: Conversation = { kind: 'room', address: { kind: 'room', id: '#r:x' } };
  return { view, mapper, room, calls };
}

test('a second member with the same display name disambiguates both, and the clash ends when one leaves', () => {
  const { view, mapper, room, calls } = setup();
  mapper.timeline(view, room, member('@bob2:x', 'join', 'Bob'));
  assert.deepEqual(calls.map((c) => c[0]), ['participantJoined', 'nickChanged']);
  assert.equal((calls[0]![2] as { nick: string }).nick, 'Bob (@bob2:x)');
  assert.deepEqual(calls[1]!.slice(1), [room.address, 'Bob', 'Bob (@bob:x)']);
  calls.length = 0;
  mapper.timeline(view, room, member('@bob2:x', 'leave'));
  assert.deepEqual(calls.map((c) => c.slice(0, 3)), [['participantLeft', room.address, 'Bob (@bob2:x)'], ['nickChanged', room.address, 'Bob (@bob:x)']]);
});

test('name clashes counted per display name: renames, invitations and the localpart fallback, in a room of 2,000', () => {
  const view = new RoomView('!big:x', ME);
  for (let i = 0; i < 2000; i++) view.applyState(member(`@m${i}:x`, 'join', `Member ${i}`));
  assert.equal(view.nick('@m7:x'), 'Member 7');
  view.applyState(member('@m8:x', 'join', 'Member 7'));
  assert.deepEqual([view.nick('@m7:x'), view.nick('@m8:x')], ['Member 7 (@m7:x)', 'Member 7 (@m8:x)']);
  view.applyState(member('@m8:x', 'join', 'Member 8'));
  assert.deepEqual([view.nick('@m7:x'), view.nick('@m8:x')], ['Member 7', 'Member 8']);
  // An invited member counts (as Element shows it); one who left does not.
  view.applyState(member('@other:x', 'invite', 'Member 9', '@m1:x'));
  assert.equal(view.nick('@m9:x'), 'Member 9 (@m9:x)');
  view.applyState(member('@other:x', 'leave', 'Member 9'));
  assert.equal(view.nick('@m9:x'), 'Member 9');
  // No display name: the localpart, which may clash with a display name too.
  view.applyState(member('@m3:x', 'join', 'm4'));
  view.applyState(member('@m4:x', 'join'));
  assert.deepEqual([view.nick('@m3:x'), view.nick('@m4:x')], ['m4 (@m3:x)', 'm4 (@m4:x)']);
  assert.equal(view.userOfNick('m4 (@m4:x)'), '@m4:x');
});

test('roles from power levels; a change of level is reported', () => {
  const { view, mapper, room, calls } = setup();
  assert.deepEqual(view.roleOf('@bob:x'), { role: 'moderator', affiliation: 'owner' });
  assert.deepEqual(view.roleOf(ME), { role: 'participant', affiliation: 'member' });
  mapper.timeline(view, room, ev('m.room.power_levels', '@bob:x', { users: { '@bob:x': 50 } }, { state_key: '' }));
  assert.equal(calls[0]![0], 'participantChanged');
  assert.deepEqual([(calls[0]![2] as { affiliation: string }).affiliation], ['admin']);
});

test('reactions are reported as the sender\'s whole set; redacting one reports the rest', () => {
  const { view, mapper, room, calls } = setup();
  const a = ev('m.reaction', '@bob:x', { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$t', key: '👍' } });
  const b = ev('m.reaction', '@bob:x', { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$t', key: '🎉' } });
  mapper.timeline(view, room, a);
  mapper.timeline(view, room, b);
  mapper.timeline(view, room, ev('m.room.redaction', '@bob:x', {}, { redacts: a.event_id }));
  assert.deepEqual(calls.map((c) => [c[0], c[4]]), [['reacted', ['👍']], ['reacted', ['👍', '🎉']], ['reacted', ['🎉']]]);
});

test('edits, redactions of messages, emotes, notices, media and encrypted events', () => {
  const { view, mapper, room, calls } = setup();
  const said = ev('m.room.message', '@bob:x', { msgtype: 'm.text', body: 'hi' });
  mapper.timeline(view, room, said);
  mapper.timeline(view, room, ev('m.room.message', '@bob:x', { msgtype: 'm.text', body: '* hey', 'm.new_content': { msgtype: 'm.text', body: 'hey' }, 'm.relates_to': { rel_type: 'm.replace', event_id: said.event_id } }));
  mapper.timeline(view, room, ev('m.room.redaction', '@bob:x', {}, { redacts: said.event_id }));
  mapper.timeline(view, room, ev('m.room.message', '@bob:x', { msgtype: 'm.emote', body: 'waves' }));
  mapper.timeline(view, room, ev('m.room.message', '@bob:x', { msgtype: 'm.notice', body: 'bot' }));
  mapper.timeline(view, room, ev('m.room.message', '@bob:x', { msgtype: 'm.image', body: 'cat.png', url: 'mxc://x/abc', info: { mimetype: 'image/png', size: 3 } }));
  mapper.timeline(view, room, ev('m.room.encrypted', '@bob:x', { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: '...' }));
  assert.deepEqual(calls.map((c) => c[0]), ['roomMessage', 'corrected', 'retracted', 'roomMessage', 'roomMessage', 'roomMessage', 'roomMessage']);
  assert.equal((calls[1]![4] as { body: string }).body, 'hey');
  assert.equal(calls[1]![3], said.event_id);
  assert.equal(calls[2]![3], said.event_id);
  assert.equal((calls[3]![3] as { action?: boolean }).action, true);
  assert.equal((calls[4]![3] as { notice?: boolean }).notice, true);
  assert.deepEqual((calls[5]![3] as { attachments: unknown[] }).attachments, [{ url: 'https://hs/x/abc', mediaType: 'image/png', name: 'cat.png', size: 3 }]);
  assert.equal((calls[6]![3] as { body: string }).body, ENCRYPTED_NOTICE);
});

test('typing starts and stops; only others\' read receipts count', () => {
  const { view, mapper, room, calls } = setup();
  mapper.ephemeral(view, room, { type: 'm.typing', content: { user_ids: ['@bob:x', ME] } });
  mapper.ephemeral(view, room, { type: 'm.typing', content: { user_ids: [] } });
  mapper.ephemeral(view, room, { type: 'm.receipt', content: { $m: { 'm.read': { '@bob:x': { ts: 1 }, [ME]: { ts: 1 } } } } });
  assert.deepEqual(calls.map((c) => [c[0], c[2], c[3]]), [['chatState', 'Bob', 'composing'], ['chatState', 'Bob', 'paused'], ['displayed', 'Bob', '$m']]);
});

test('outgoing content: emote, reply, correction', () => {
  assert.deepEqual(contentFor({ xmppId: 'a', body: 'waves', action: true }), { msgtype: 'm.emote', body: 'waves' });
  assert.deepEqual(contentFor({ xmppId: 'a', body: 'yes', replyTo: { id: '$o' } }), { msgtype: 'm.text', body: 'yes', 'm.relates_to': { 'm.in_reply_to': { event_id: '$o' } } });
  // A reply to a message in a thread stays in the thread (the spec's threads: is_falling_back false, the real target).
  assert.deepEqual(contentFor({ xmppId: 'a', body: 'yes', replyTo: { id: '$o' } }, '$root'), {
    msgtype: 'm.text',
    body: 'yes',
    'm.relates_to': { rel_type: 'm.thread', event_id: '$root', is_falling_back: false, 'm.in_reply_to': { event_id: '$o' } },
  });
  assert.deepEqual(contentFor({ xmppId: 'a', body: 'no reply' }, '$root'), { msgtype: 'm.text', body: 'no reply' });
  assert.deepEqual(correctionFor('$o', { xmppId: 'b', body: 'fixed' }), {
    msgtype: 'm.text',
    body: '* fixed',
    'm.new_content': { msgtype: 'm.text', body: 'fixed' },
    'm.relates_to': { rel_type: 'm.replace', event_id: '$o' },
  });
});
