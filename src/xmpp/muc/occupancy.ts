// What a user's resources do with their presence in a room: join, share the
// room with another resource, change nick, leave (XEP-0045 §7.2, §7.6, §7.14).
//
// Several resources, one network presence (as biboumi): the room is joined on
// the network by the first resource and left with the last one. A resource
// joining a room the user is already in gets the whole join sequence from the
// gateway's state, with no second network join. All resources share the nick:
// a resource that asks for another nick gets the current one, with status 210
// (the service assigned the nick), rather than renaming every other resource;
// a nick change is a presence to room/newnick from a resource already in.
// Bouncer mode (NetworkSession.keepsRoom): when the network keeps the user in
// a room, the last resource leaving does not leave it on the network; the
// room stays with no resource, its messages go on into the archive and its
// recent history, and the next resource to join gets the room as it is.
import type { GatewayDomain } from '../../core/core.js';
import { GatewayError } from '../../core/errors.js';
import { RoomState } from '../../core/rooms.js';
import type { Session } from '../../core/sessions.js';
import type { JoinedRoom } from '../../networks/types.js';
import type { XmppContext } from '../context.js';
import { mamEnabled } from '../mam.js';
import { contentFromIncoming } from '../message-codec.js';
import type { InboundStanza } from '../router.js';
import { xml, type Element } from '../stanza.js';
import { vcardUpdateElement } from '../vcard.js';
import { DELIVERY_ERRORS, errorCondition, newId, occupantCaps, ownItem, sendInOrder, type OccupantTarget, type RoomTarget } from './common.js';
import { parseHistoryRequest, selectHistory, type HistoryRequest } from './history.js';
import { historyMessage, MUC_NS, occupantPresence, STATUS, subjectMessage, unavailablePresence } from './stanzas.js';

/** Our rooms are semi-anonymous: occupants' real JIDs are never shown, so status 100 is never sent. */
export const NON_ANONYMOUS = false;

/**
 * Everything a resource gets on joining, in the order of XEP-0045 §7.2:
 * the other occupants' presences, its own presence (110 and `codes`), the
 * discussion history it asked for, then the subject (always, possibly empty:
 * it marks the end of the join).
 */
export function joinSequence(
  room: RoomState,
  args: { to: string; codes?: readonly number[]; joinId?: string; history?: HistoryRequest; caps?: Element | null; newId?: () => string; now?: Date },
): Element[] {
  const { to } = args;
  const caps = args.caps ?? null;
  const makeId = args.newId ?? newId;
  const out: Element[] = [];
  for (const participant of room.participants.values()) {
    out.push(
      occupantPresence({
        roomJid: room.jid,
        nick: participant.nick,
        to,
        item: { affiliation: participant.affiliation, role: participant.role },
        show: participant.show,
        status: participant.status,
        caps,
      }),
    );
  }
  const codes: number[] = [STATUS.self, ...(args.codes ?? [])];
  if (NON_ANONYMOUS) codes.push(STATUS.nonAnonymous);
  out.push(occupantPresence({ roomJid: room.jid, nick: room.nick, to, item: ownItem(room), codes, caps, id: args.joinId }));
  out.push(
    ...selectHistory(
      room.history,
      args.history ?? {},
      (entry) => historyMessage({ roomJid: room.jid, to, nick: entry.nick, message: entry.message, id: entry.message.xmppId ?? entry.message.id, now: args.now }),
      args.now,
    ),
  );
  out.push(subjectMessage({ roomJid: room.jid, to, subject: room.subject, fromNick: subjectAuthor(room), id: makeId() }));
  return out;
}

/** Who the subject message comes from: the occupant who set it while they are in the room, else the room. */
export function subjectAuthor(room: RoomState, by = room.subject?.by): string | undefined {
  if (!by) return undefined;
  return by === room.nick || room.participants.has(by) ? by : undefined;
}

/**
 * Sends the join sequence to one resource and adds it to the room, with
 * nothing in between; then, after it, the room's avatar hash (below).
 */
function admitResource(context: XmppContext, session: Session, gateway: GatewayDomain, room: RoomState, stanza: InboundStanza, codes: number[]): Promise<void> {
  room.resources.delete(stanza.from);
  const sequence = joinSequence(room, {
    to: stanza.from,
    codes,
    joinId: stanza.id,
    history: parseHistoryRequest(stanza.stanza),
    caps: occupantCaps(gateway),
  });
  const sent = sendInOrder(context, sequence);
  room.resources.add(stanza.from);
  // Not awaited: reading the avatar from the network holds up neither the join nor its archive.
  void sent.then(() => sendRoomAvatar(context, session, room, stanza.from));
  return sent;
}

/**
 * A room with an avatar tells a resource that joins it the avatar's hash,
 * as Prosody's mod_vcard_muc does: a presence from the room's bare JID with
 * vcard-temp:x:update (XEP-0153), after the join. A room without one sends
 * nothing on join (a removed avatar is told when it changes). Never throws.
 */
async function sendRoomAvatar(context: XmppContext, session: Session, room: RoomState, to: string): Promise<void> {
  try {
    if (!session.loggedIn || !session.remote.roomInfo) return;
    const image = (await session.remote.roomInfo(room.address)).avatar?.data;
    if (!image || image.length === 0 || !room.resources.has(to)) return;
    await context.send(xml('presence', { from: room.jid, to }, vcardUpdateElement(image)));
  } catch (err) {
    context.log.info({ err: (err as Error).message, room: room.jid }, 'the room avatar could not be read for a join');
  }
}

/** Applies what the network said on join to the room state. */
function applyJoined(room: RoomState, joined: JoinedRoom): void {
  room.nick = joined.nick;
  room.role = joined.role;
  room.affiliation = joined.affiliation;
  room.subject = joined.subject;
  room.name = joined.name;
  room.created = joined.created === true;
  room.participants.clear();
  for (const participant of joined.participants) if (participant.nick !== joined.nick) room.setParticipant(participant);
  // The join's history first, then anything said while the join was under way.
  const duringJoin = room.history;
  room.history = [];
  for (const entry of joined.history ?? []) room.remember(entry.nick, entry.message);
  for (const entry of duringJoin) room.remember(entry.nick, entry.message);
}

/**
 * The history the network gave on join goes into the user's archive (MAM),
 * oldest first, where the archive keeps text. A message archived already
 * (same network id: seen live, or in an earlier join's history) is skipped,
 * so a rejoin adds only what is new.
 */
async function archiveJoinHistory(context: XmppContext, session: Session, gateway: GatewayDomain, room: RoomState, joined: JoinedRoom): Promise<void> {
  if (!mamEnabled(context)) return;
  for (const { nick, message } of joined.history ?? []) {
    if (await context.store.archive.byNetworkId(session.userJid, room.jid, message.id)) continue;
    await context.store.archive.append({
      userJid: session.userJid,
      network: gateway.name,
      kind: 'groupchat',
      conversation: room.jid,
      outgoing: nick === room.nick,
      nick,
      networkIds: [message.id],
      content: contentFromIncoming(message) as Record<string, unknown>,
      ...(message.timestamp ? { sentAt: message.timestamp } : {}),
    });
  }
}

/** Runs the network events that came while the room was being joined. */
function replayDeferred(context: XmppContext, room: RoomState): void {
  for (const apply of room.deferred.splice(0)) {
    try {
      apply();
    } catch (err) {
      context.log.warn({ err: (err as Error).message, room: room.jid }, 'a deferred room event failed');
    }
  }
}

async function joinOnNetwork(context: XmppContext, session: Session, target: OccupantTarget, stanza: InboundStanza): Promise<void> {
  const { address, gateway } = target;
  const room = new RoomState(address, target.bare, target.nick);
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  room.joining = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  room.joining.catch(() => undefined); // other resources await it; nobody else must see an unhandled rejection
  session.rooms.set(address.id, room);

  const password = stanza.stanza.getChild('x', MUC_NS)?.getChildText('password') ?? undefined;
  let joined: JoinedRoom;
  try {
    joined = await session.remote.joinRoom(address, target.nick, password ? { password } : {});
  } catch (err) {
    if (session.rooms.get(address.id) === room) session.rooms.delete(address.id);
    room.joining = null;
    fail(err);
    throw err;
  }
  if (session.rooms.get(address.id) !== room) {
    // The session was closed (or the room dropped) while the network join ran.
    const err = new GatewayError('service-unavailable', `Your session on ${gateway.domain} ended while joining ${target.bare}; try again.`);
    room.joining = null;
    fail(err);
    throw err;
  }
  room.password = password;
  applyJoined(room, joined);
  const codes: number[] = [];
  if (room.created) codes.push(STATUS.created);
  if (joined.nick !== target.nick) codes.push(STATUS.nickAssigned);
  room.joining = null;
  const sent = admitResource(context, session, gateway, room, stanza, codes);
  replayDeferred(context, room);
  finish();
  await sent;
  await archiveJoinHistory(context, session, gateway, room, joined).catch((err: Error) =>
    context.log.warn({ err: err.message, room: room.jid }, 'archiving the join history failed'),
  );
}

/** The own presence again, to one resource (a presence update, a probe). */
function ownPresenceTo(gateway: GatewayDomain, room: RoomState, to: string): Element {
  return occupantPresence({ roomJid: room.jid, nick: room.nick, to, item: ownItem(room), codes: [STATUS.self], caps: occupantCaps(gateway) });
}

/** The user's own nick changed (by them or by the network): 303 then the new presence, to every resource (§7.6). */
export function applyOwnNickChange(context: XmppContext, gateway: GatewayDomain, room: RoomState, newNick: string, extraCodes: number[] = []): Promise<void> {
  const oldNick = room.nick;
  room.nick = newNick;
  const caps = occupantCaps(gateway);
  const out: Element[] = [];
  for (const to of room.resources) {
    out.push(unavailablePresence({ roomJid: room.jid, nick: oldNick, to, item: ownItem(room, { nick: newNick }), codes: [STATUS.self, STATUS.nickChanged] }));
    out.push(occupantPresence({ roomJid: room.jid, nick: newNick, to, item: ownItem(room), codes: [STATUS.self, ...extraCodes], caps }));
  }
  return sendInOrder(context, out);
}

async function changeNick(context: XmppContext, session: Session, room: RoomState, target: OccupantTarget): Promise<void> {
  const { gateway } = target;
  const change = session.remote.changeNick?.bind(session.remote);
  if (!gateway.network.capabilities.has('nick-change') || !change) {
    // XEP-0045 §7.6: not-acceptable where nicks cannot be changed.
    throw new GatewayError(
      'not-acceptable',
      `${gateway.network.displayName} does not support changing your nickname in a room; leave and join again as ${target.nick}.`,
    );
  }
  if (room.participants.has(target.nick)) throw new GatewayError('conflict', `The nickname ${target.nick} is in use in ${room.jid}.`);
  const oldNick = room.nick;
  const newNick = await change(room.address, target.nick);
  if (session.room(room.address) !== room) return; // left meanwhile
  // The network may have told us already (its own nickChanged event): then room.nick is newNick.
  if (room.nick === oldNick && newNick !== oldNick) {
    await applyOwnNickChange(context, gateway, room, newNick, newNick !== target.nick ? [STATUS.nickAssigned] : []);
  }
}

/** An available presence to room/nick: join, join as another resource, rejoin, change nick or update. */
export async function onAvailable(context: XmppContext, stanza: InboundStanza, target: OccupantTarget): Promise<void> {
  const { gateway } = target;
  if (!gateway.network.capabilities.has('rooms')) {
    throw new GatewayError('feature-not-implemented', `${gateway.network.displayName} has no group chats.`);
  }
  if (!target.nick.trim()) throw new GatewayError('jid-malformed', 'A room nickname cannot be blank.');
  const session = await context.core.openSession(gateway, stanza.from);
  let room = session.room(target.address);
  if (room?.joining) {
    await room.joining; // the first resource's join: its error is this resource's error too
    room = session.room(target.address);
  }
  if (!room) return joinOnNetwork(context, session, target, stanza);
  const joinRequest = stanza.stanza.getChild('x', MUC_NS) !== undefined;
  if (!room.resources.has(stanza.from)) {
    // Another resource of the user is in: share its nick (210 if this one asked for another).
    return admitResource(context, session, gateway, room, stanza, target.nick !== room.nick ? [STATUS.nickAssigned] : []);
  }
  if (target.nick !== room.nick) return changeNick(context, session, room, target);
  // A client that believes it is out rejoins with <x/>: the full sequence again (XEP-0045 §7.2.1).
  if (joinRequest) return admitResource(context, session, gateway, room, stanza, []);
  // A status update: the network keeps no per-room status; reflect it so the client knows it is in.
  await sendInOrder(context, [ownPresenceTo(gateway, room, stanza.from)]);
}

/**
 * A resource is out of the room: its own unavailable (110) to it; the last
 * resource out leaves the room on the network.
 */
export async function removeResource(
  context: XmppContext,
  session: Session,
  room: RoomState,
  resource: string,
  reason: string | undefined,
  codes: number[] = [],
): Promise<void> {
  if (!room.resources.delete(resource)) return;
  const last = room.resources.size === 0;
  // Bouncer mode: the network keeps the user in the room with nobody on the XMPP side.
  const kept = last && session.remote.keepsRoom?.(room.address) === true;
  if (last && !kept && session.room(room.address) === room) session.rooms.delete(room.address.id);
  await sendInOrder(context, [
    unavailablePresence({
      roomJid: room.jid,
      nick: room.nick,
      to: resource,
      item: ownItem(room, { role: 'none' }),
      codes: [STATUS.self, ...codes],
      status: reason,
    }),
  ]);
  if (!last) return;
  if (kept) {
    context.log.info({ room: room.jid, user: session.userJid }, 'room kept while the user is away (persistent)');
    return;
  }
  try {
    await session.remote.leaveRoom(room.address, reason);
  } catch (err) {
    // The user is out on the XMPP side whatever the network says.
    context.log.warn({ err: (err as Error).message, room: room.jid, user: session.userJid }, 'leaving the room on the network failed');
  }
}

/** The room a resource is in, after any join in progress settled; undefined when it is not in. */
async function roomOfResource(context: XmppContext, target: RoomTarget | OccupantTarget, from: string): Promise<{ session: Session; room: RoomState } | undefined> {
  const session = context.core.session(target.gateway, from);
  let room = session?.room(target.address);
  if (!session || !room) return undefined;
  if (room.joining) {
    try {
      await room.joining;
    } catch {
      return undefined;
    }
    room = session.room(target.address);
  }
  return room?.resources.has(from) ? { session, room } : undefined;
}

export async function onUnavailable(context: XmppContext, stanza: InboundStanza, target: RoomTarget | OccupantTarget): Promise<void> {
  const found = await roomOfResource(context, target, stanza.from);
  if (!found) return; // not in: nothing to answer (RFC 6121 §4.5.3)
  const reason = stanza.stanza.getChildText('status') ?? undefined;
  await removeResource(context, found.session, found.room, stanza.from, reason || undefined);
}

/** A bounce from a resource that is gone (RFC 6121 §8.5.3): it leaves the room (status 333). */
export async function onDeliveryError(context: XmppContext, stanza: InboundStanza, target: RoomTarget | OccupantTarget): Promise<void> {
  const condition = errorCondition(stanza.stanza);
  if (!condition || !DELIVERY_ERRORS.has(condition)) return;
  const found = await roomOfResource(context, target, stanza.from);
  if (!found) return;
  context.log.debug({ room: found.room.jid, resource: stanza.from, condition }, 'resource unreachable: removed from the room');
  await removeResource(context, found.session, found.room, stanza.from, 'Your client could not be reached.', [STATUS.technical]);
}

/** A probe to an occupant: its current presence, or unavailable when the prober is not in the room (RFC 6121 §4.3). */
export async function onProbe(context: XmppContext, stanza: InboundStanza, target: OccupantTarget): Promise<void> {
  const session = context.core.session(target.gateway, stanza.from);
  const room = session?.room(target.address);
  const caps = occupantCaps(target.gateway);
  let reply: Element;
  if (!room || room.joining || !room.resources.has(stanza.from)) {
    reply = xml('presence', { from: `${target.bare}/${target.nick}`, to: stanza.from, type: 'unavailable' });
  } else if (target.nick === room.nick) {
    reply = ownPresenceTo(target.gateway, room, stanza.from);
  } else {
    const participant = room.participants.get(target.nick);
    reply = participant
      ? occupantPresence({
          roomJid: room.jid,
          nick: participant.nick,
          to: stanza.from,
          item: { affiliation: participant.affiliation, role: participant.role },
          show: participant.show,
          status: participant.status,
          caps,
        })
      : xml('presence', { from: `${room.jid}/${target.nick}`, to: stanza.from, type: 'unavailable' });
  }
  await sendInOrder(context, [reply]);
}

/** Every room a resource is in, left (it went offline: the presence module can call this for the server's unavailable). */
export async function leaveAllRooms(context: XmppContext, resource: string, reason?: string): Promise<void> {
  for (const session of context.core.list({ userJid: resource })) {
    for (const room of [...session.rooms.values()]) {
      if (room.resources.has(resource)) await removeResource(context, session, room, resource, reason);
    }
  }
}
