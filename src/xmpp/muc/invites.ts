// Invitations from the user (XEP-0045 §7.8 mediated, XEP-0249 direct).
// Network → user invitations are in events.ts.
//
// - A mediated invitation sent to the room names the invitee by JID:
//   a contact JID of the same gateway becomes the network's invite; an
//   occupant JID of the room too, when the network told who that occupant
//   is; an XMPP user elsewhere (who may use the gateway) gets the mediated
//   invitation forwarded from the room JID, as a MUC service does.
// - A direct invitation is a message to a contact: the messages module owns
//   that address and calls handleDirectInvite for it.
import { GatewayError } from '../../core/errors.js';
import type { RoomState } from '../../core/rooms.js';
import type { Session } from '../../core/sessions.js';
import type { NetworkAddress } from '../../networks/types.js';
import type { Target } from '../addressing.js';
import type { XmppContext } from '../context.js';
import type { InboundStanza } from '../router.js';
import { parseJid, type Element } from '../stanza.js';
import { newId, requireFeature, sendInOrder, type RoomTarget } from './common.js';
import { DIRECT_INVITE_NS, mediatedInvite } from './stanzas.js';

function parse(address: string) {
  try {
    return parseJid(address);
  } catch {
    throw new GatewayError('jid-malformed', `"${address}" is not a valid XMPP address.`);
  }
}

/** The `<invite/>` children of a muc#user message to a room, one invitation each. */
export async function handleMediatedInvites(
  context: XmppContext,
  stanza: InboundStanza,
  target: RoomTarget,
  session: Session,
  room: RoomState,
  invites: Element[],
): Promise<void> {
  const { gateway } = target;
  for (const invite of invites) {
    const to = invite.attrs.to;
    if (!to) throw new GatewayError('bad-request', 'An invitation needs the invitee in its "to" attribute.');
    const reason = invite.getChildText('reason') || undefined;
    const jid = parse(to);
    const inviteeGateway = context.core.gateway(jid.domain);
    if (!inviteeGateway) {
      // An XMPP user: forward the invitation, if they may use the gateway at all.
      if (!context.core.access.mayUse(gateway.name, to)) {
        throw new GatewayError('forbidden', `${jid.bare().toString()} may not use ${gateway.domain}, so could not join ${room.jid}.`);
      }
      await sendInOrder(context, [
        mediatedInvite({ roomJid: room.jid, to: jid.bare().toString(), inviter: session.userJid, reason, password: room.password, id: newId() }),
      ]);
      continue;
    }
    if (inviteeGateway !== gateway) {
      throw new GatewayError('not-acceptable', `${to} is on another network; only ${gateway.network.displayName} users can be invited to ${room.jid}.`);
    }
    const invitee = await context.addressing.resolve(to);
    let contact: NetworkAddress | undefined;
    if (invitee.kind === 'contact') contact = invitee.address;
    else if (invitee.kind === 'occupant' && invitee.address.id === room.address.id) {
      contact = room.participants.get(invitee.nick)?.contact;
      if (!contact) throw new GatewayError('item-not-found', `The network does not say who ${invitee.nick} is; invite them by their contact address.`);
    } else {
      throw new GatewayError('bad-request', `${to} is not a user; invite a contact address (user%server@${gateway.domain}).`);
    }
    const inviteOnNetwork = requireFeature(gateway, session, 'invites', 'invite', 'invitations');
    await inviteOnNetwork(room.address, contact, reason);
  }
}

/**
 * A XEP-0249 direct invitation from the user to a contact of this gateway
 * (`<x xmlns='jabber:x:conference' jid='room'/>` in a message to the
 * contact): the network's invite, for a room of the same network. The
 * messages module calls this for messages to contacts that carry one.
 */
export async function handleDirectInvite(context: XmppContext, stanza: InboundStanza, target: Target): Promise<void> {
  if (target.kind !== 'contact') throw new GatewayError('bad-request', `${target.bare} is not a contact; invitations go to contacts.`);
  const x = stanza.stanza.getChild('x', DIRECT_INVITE_NS);
  const roomJid = x?.attrs.jid;
  if (!x || !roomJid) throw new GatewayError('bad-request', 'A direct invitation needs the room in the "jid" attribute of <x xmlns="jabber:x:conference"/>.');
  const { gateway } = target;
  if (context.core.gateway(parse(roomJid).domain) !== gateway) {
    throw new GatewayError('not-acceptable', `${roomJid} is not a room of ${gateway.domain}; ${target.bare} can only be invited to rooms on ${gateway.network.displayName}.`);
  }
  const room = await context.addressing.resolve(roomJid);
  if (room.kind !== 'room') throw new GatewayError('bad-request', `${roomJid} is not a room address.`);
  const session = await context.core.openSession(gateway, stanza.from);
  const invite = requireFeature(gateway, session, 'invites', 'invite', 'invitations');
  await invite(room.address, target.address, x.attrs.reason || undefined);
}
