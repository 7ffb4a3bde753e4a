// Moderation through muc#admin (XEP-0045 §8, §9): kick (role none), ban
// (affiliation outcast), role and affiliation changes, and the lists of a
// role or affiliation, which come from what the gateway knows of the room.
// Each change goes to the network session method the network declares; the
// room's presences then follow from the network's events.
//
// Decisions: items name occupants by nick; an item with a jid is matched to
// an occupant through the contact the network gave for them, or through an
// occupant JID of this room. The outcast list is the network's ban list
// where it offers one (banList: each ban's `who`, an IRC mask say, as the
// item's nick; the nick, or mask, set to affiliation none lifts the ban),
// else the nicks the gateway saw banned while the user was in the room.
import type { GatewayDomain } from '../../core/core.js';
import { GatewayError } from '../../core/errors.js';
import type { RoomState } from '../../core/rooms.js';
import type { Session } from '../../core/sessions.js';
import type { Affiliation, Role } from '../../networks/types.js';
import type { XmppContext } from '../context.js';
import type { IqRequest } from '../router.js';
import { parseJid, xml, type Element } from '../stanza.js';
import { joinedRoom, requireFeature, type RoomTarget } from './common.js';
import { MUC_ADMIN_NS } from './stanzas.js';

const ROLES: readonly Role[] = ['moderator', 'participant', 'visitor', 'none'];
const AFFILIATIONS: readonly Affiliation[] = ['owner', 'admin', 'member', 'outcast', 'none'];

async function roomTarget(context: XmppContext, iq: IqRequest): Promise<RoomTarget> {
  const target = await context.addressing.resolve(iq.to);
  if (target.kind !== 'room') throw new GatewayError('bad-request', 'Send muc#admin requests to the room JID, without a nickname.');
  return target;
}

/** The nick an admin item is about: its nick, or the occupant its jid names. */
async function itemNick(context: XmppContext, room: RoomState, gateway: GatewayDomain, item: Element): Promise<string> {
  const nick = item.attrs.nick;
  if (nick) return nick;
  const jid = item.attrs.jid;
  if (!jid) throw new GatewayError('bad-request', 'A muc#admin item needs a nick (or the jid of an occupant).');
  let parsed;
  try {
    parsed = parseJid(jid);
  } catch {
    throw new GatewayError('jid-malformed', `"${jid}" is not a valid XMPP address.`);
  }
  if (context.core.gateway(parsed.domain) === gateway) {
    const target = await context.addressing.resolve(jid);
    if (target.kind === 'occupant' && target.address.id === room.address.id) return target.nick;
    if (target.kind === 'contact') {
      const match = [...room.participants.values()].find((p) => p.contact?.kind === 'contact' && p.contact.id === target.address.id);
      if (match) return match.nick;
    }
  }
  throw new GatewayError('item-not-found', `Nobody in ${room.jid} is known as ${jid}; name the occupant by nick.`);
}

function present(room: RoomState, nick: string): void {
  if (nick !== room.nick && !room.participants.has(nick)) throw new GatewayError('item-not-found', `${nick} is not in ${room.jid}.`);
}

async function applyItem(context: XmppContext, gateway: GatewayDomain, session: Session, room: RoomState, item: Element): Promise<void> {
  const { role, affiliation } = item.attrs;
  const reason = item.getChildText('reason') || undefined;
  if (role !== undefined && affiliation !== undefined) {
    throw new GatewayError('bad-request', 'Change either the role or the affiliation in one item, not both.');
  }
  const nick = await itemNick(context, room, gateway, item);
  if (role !== undefined) {
    if (!ROLES.includes(role as Role)) throw new GatewayError('bad-request', `"${role}" is not a role.`);
    present(room, nick);
    if (role === 'none') {
      const kick = requireFeature(gateway, session, 'kick', 'kick', 'kicking occupants');
      await kick(room.address, nick, reason);
      return;
    }
    const setRole = requireFeature(gateway, session, 'roles', 'setRole', 'changing roles');
    await setRole(room.address, nick, role as Role);
    return;
  }
  if (affiliation !== undefined) {
    if (!AFFILIATIONS.includes(affiliation as Affiliation)) throw new GatewayError('bad-request', `"${affiliation}" is not an affiliation.`);
    if (affiliation === 'outcast') {
      const ban = requireFeature(gateway, session, 'ban', 'ban', 'banning');
      await ban(room.address, nick, reason);
      return;
    }
    const setAffiliation = requireFeature(gateway, session, 'roles', 'setAffiliation', 'changing affiliations');
    await setAffiliation(room.address, nick, affiliation as Affiliation);
    if (affiliation === 'none') room.banned.delete(nick);
    return;
  }
  throw new GatewayError('bad-request', 'A muc#admin item needs a role or an affiliation.');
}

/** The items of one role or affiliation list, from the room state (the user included). */
async function listItems(
  context: XmppContext,
  gateway: GatewayDomain,
  session: Session,
  room: RoomState,
  filter: { role?: string; affiliation?: string },
): Promise<Element[]> {
  const items: Element[] = [];
  if (filter.affiliation === 'outcast' && gateway.network.capabilities.has('ban') && session.remote.banList) {
    for (const ban of await session.remote.banList(room.address)) items.push(xml('item', { affiliation: 'outcast', nick: ban.who }));
    return items;
  }
  if (filter.affiliation === 'outcast') {
    for (const nick of room.banned) items.push(xml('item', { affiliation: 'outcast', nick }));
    return items;
  }
  const everyone = [{ nick: room.nick, role: room.role, affiliation: room.affiliation, contact: undefined }, ...room.participants.values()];
  for (const occupant of everyone) {
    if (filter.role !== undefined && occupant.role !== filter.role) continue;
    if (filter.affiliation !== undefined && occupant.affiliation !== filter.affiliation) continue;
    const jid = occupant.contact ? await context.addressing.jid(gateway, occupant.contact) : undefined;
    items.push(xml('item', { affiliation: occupant.affiliation, role: occupant.role, nick: occupant.nick, jid }));
  }
  return items;
}

export function registerAdmin(context: XmppContext): void {
  for (const gateway of context.core.domains) {
    context.router.onIq(gateway.domain, 'set', MUC_ADMIN_NS, 'query', async (iq) => {
      const target = await roomTarget(context, iq);
      const { session, room } = joinedRoom(context, target, iq.from);
      const items = iq.payload.getChildren('item');
      if (items.length === 0) throw new GatewayError('bad-request', 'The muc#admin query has no item.');
      for (const item of items) await applyItem(context, target.gateway, session, room, item);
      return undefined;
    });

    context.router.onIq(gateway.domain, 'get', MUC_ADMIN_NS, 'query', async (iq) => {
      const target = await roomTarget(context, iq);
      const { session, room } = joinedRoom(context, target, iq.from);
      const item = iq.payload.getChild('item');
      const role = item?.attrs.role;
      const affiliation = item?.attrs.affiliation;
      if ((role === undefined) === (affiliation === undefined)) {
        throw new GatewayError('bad-request', 'Ask for one list: an item with either a role or an affiliation.');
      }
      if (role !== undefined && !ROLES.includes(role as Role)) throw new GatewayError('bad-request', `"${role}" is not a role.`);
      if (affiliation !== undefined && !AFFILIATIONS.includes(affiliation as Affiliation)) {
        throw new GatewayError('bad-request', `"${affiliation}" is not an affiliation.`);
      }
      const filter = role !== undefined ? { role } : { affiliation };
      return xml('query', { xmlns: MUC_ADMIN_NS }, ...(await listItems(context, target.gateway, session, room, filter)));
    });
  }
}
