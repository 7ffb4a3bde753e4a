// Multi-User Chat (XEP-0045) as a service, whatever the network: every room
// of a network that declares 'rooms' is a MUC room at
// <room-localpart>@<gateway-domain>, and its occupants are room@domain/nick.
//
//   presence to room/nick      join, share, nick change, leave     muc/occupancy.ts
//   network room events       occupant presences, subject, ...    muc/events.ts
//   muc#admin iq to the room   kick, ban, roles, affiliations      muc/admin.ts
//   message to the room        subject change, mediated invite,    this file, muc/invites.ts
//                              else the messages module
//   ping to room/nick          XEP-0410 self-ping (service.ts)     muc/ping.ts
//
// Room state per user is core/rooms.ts RoomState in Session.rooms (keyed by
// the room's NetworkAddress id). Decisions where the XEPs leave room (details
// at the top of each file):
// - Rooms are semi-anonymous: no real JIDs in items, never status 100.
// - A user's resources share one network presence and one nick; a resource
//   asking for another nick gets the shared one with 210 (as biboumi).
// - A nick change where the network has none is not-acceptable (§7.6); any
//   other undeclared feature (kick, ban, roles, subject, invites) is
//   feature-not-implemented.
// - Netsplits are one unavailable presence per nick, no summary message.
// - Put out by the network: 110 + 333; session closed by the gateway: 110 + 332.
// - Network invitations arrive as mediated invitations from the room JID.
// - Join history comes from what the gateway holds (the network's join
//   history plus what was said since, at most RoomState.HISTORY_LIMIT),
//   filtered by the client's <history/>; MAM is the way to more.
// - Self-ping is answered by the gateway itself (XEP-0410 §3.3).
import { GatewayError } from '../core/errors.js';
import type { Target } from './addressing.js';
import type { XmppContext, XmppModule } from './context.js';
import { handleGroupchatMessage } from './messages.js';
import type { InboundStanza } from './router.js';
import { parseJid, xml } from './stanza.js';
import { registerAdmin } from './muc/admin.js';
import { DELIVERY_ERRORS, errorCondition, joinedRoom, requireFeature, sendInOrder } from './muc/common.js';
import { registerRoomEvents } from './muc/events.js';
import { handleMediatedInvites } from './muc/invites.js';
import { onAvailable, onDeliveryError, onProbe, onUnavailable } from './muc/occupancy.js';
import { MUC_USER_NS } from './muc/stanzas.js';

export { handleDirectInvite } from './muc/invites.js';
export { leaveAllRooms } from './muc/occupancy.js';
export { checkOccupantPing } from './muc/ping.js';

async function onRoomPresence(context: XmppContext, stanza: InboundStanza, target: Target): Promise<void> {
  if (target.kind !== 'room' && target.kind !== 'occupant') return;
  switch (stanza.type) {
    case 'available':
      // XEP-0045 §7.2.1: joining needs a nickname.
      if (target.kind === 'room') throw new GatewayError('jid-malformed', `Add your nickname to join: ${target.bare}/yournick`);
      return onAvailable(context, stanza, target);
    case 'unavailable':
      return onUnavailable(context, stanza, target);
    case 'error':
      return onDeliveryError(context, stanza, target);
    case 'probe':
      if (target.kind === 'occupant') return onProbe(context, stanza, target);
      return;
    case 'subscribe':
      // Rooms and occupants take no presence subscriptions: say no rather than leave the request pending.
      await sendInOrder(context, [xml('presence', { from: stanza.to, to: parseJid(stanza.from).bare().toString(), type: 'unsubscribed' })]);
      return;
    default:
      return; // subscribed / unsubscribe / unsubscribed: nothing to keep
  }
}

async function onRoomMessage(context: XmppContext, stanza: InboundStanza, target: Target): Promise<void> {
  if (target.kind !== 'room') return;
  if (stanza.type === 'error') {
    // A groupchat message bounced by a resource that is gone (RFC 6121 §8.5.3.2.1).
    const condition = errorCondition(stanza.stanza);
    if (condition && DELIVERY_ERRORS.has(condition)) await onDeliveryError(context, stanza, target);
    return;
  }
  const x = stanza.stanza.getChild('x', MUC_USER_NS);
  if (x?.getChild('decline')) {
    // Declining an invitation has no counterpart on the networks; nothing to pass on.
    context.log.debug({ room: target.bare }, 'invitation declined');
    return;
  }
  const { session, room } = joinedRoom(context, target, stanza.from);
  const invites = x?.getChildren('invite') ?? [];
  if (invites.length > 0) return handleMediatedInvites(context, stanza, target, session, room, invites);

  if (stanza.type !== 'groupchat') {
    throw new GatewayError('bad-request', `Messages to ${target.bare} must be of type groupchat; write to room/nick for a private message.`);
  }
  const subject = stanza.stanza.getChild('subject');
  if (subject && !stanza.stanza.getChild('body')) {
    // XEP-0045 §8.1: a subject change. The new subject comes back through the network's subjectChanged.
    const setSubject = requireFeature(target.gateway, session, 'topic', 'setSubject', 'changing the room subject');
    await setSubject(room.address, subject.getText());
    return;
  }
  return handleGroupchatMessage(context, stanza, target, session, room);
}

export const registerMuc: XmppModule = (context) => {
  context.stanzas.on('presence', ['room', 'occupant'], (stanza, target) => onRoomPresence(context, stanza, target));
  context.stanzas.on('message', ['room'], (stanza, target) => onRoomMessage(context, stanza, target));
  registerAdmin(context);
  registerRoomEvents(context);
};
