// Pure builders for the MUC (XEP-0045) stanzas the gateway sends: occupant
// presences with their muc#user item and status codes, the subject message,
// discussion history with XEP-0203 delay, mediated invitations. No state, no
// I/O: unit tests compare their output element by element.
import type { IncomingMessage } from '../../core/message.js';
import type { Affiliation, Role, Subject } from '../../networks/types.js';
import { xml, type Element } from '../stanza.js';

export const MUC_NS = 'http://jabber.org/protocol/muc';
export const MUC_USER_NS = 'http://jabber.org/protocol/muc#user';
export const MUC_ADMIN_NS = 'http://jabber.org/protocol/muc#admin';
export const DIRECT_INVITE_NS = 'jabber:x:conference';
export const DELAY_NS = 'urn:xmpp:delay';
export const OOB_NS = 'jabber:x:oob';

/** XEP-0045 §15.6 status codes the gateway uses. */
export const STATUS = {
  nonAnonymous: 100,
  self: 110,
  created: 201,
  nickAssigned: 210,
  banned: 301,
  nickChanged: 303,
  configChanged: 104,
  kicked: 307,
  shutdown: 332,
  technical: 333,
} as const;

/** The `<item/>` of a muc#user presence. `jid` only where the room shows real JIDs (never in ours: semi-anonymous). */
export interface ItemSpec {
  affiliation: Affiliation;
  role: Role;
  /** The new nick (status 303), or a nick in an admin list. */
  nick?: string;
  jid?: string;
  /** Nick of who kicked or banned. */
  actor?: string;
  reason?: string;
}

export function mucItem(item: ItemSpec): Element {
  return xml(
    'item',
    { affiliation: item.affiliation, role: item.role, nick: item.nick, jid: item.jid },
    item.actor !== undefined ? xml('actor', { nick: item.actor }) : null,
    item.reason ? xml('reason', {}, item.reason) : null,
  );
}

/** `<x xmlns=muc#user>` with the item and the status codes (in ascending order, no duplicates). */
export function mucUserX(item: ItemSpec, codes: readonly number[] = []): Element {
  const sorted = [...new Set(codes)].sort((a, b) => a - b);
  return xml('x', { xmlns: MUC_USER_NS }, mucItem(item), ...sorted.map((code) => xml('status', { code: String(code) })));
}

export interface OccupantPresenceArgs {
  roomJid: string;
  nick: string;
  to: string;
  item: ItemSpec;
  codes?: readonly number[];
  show?: string;
  status?: string;
  /** XEP-0115 `<c/>`, when the gateway advertises capabilities. */
  caps?: Element | null;
  /** The id of the join presence this answers (reflected in the self-presence). */
  id?: string;
}

/** XEP-0045 §10.2.1: the room's configuration (here its name or avatar) changed; clients read its disco#info again. */
export function configChangeMessage(args: { roomJid: string; to: string; id: string }): Element {
  return xml('message', { from: args.roomJid, to: args.to, type: 'groupchat', id: args.id }, xml('x', { xmlns: MUC_USER_NS }, xml('status', { code: String(STATUS.configChanged) })));
}

/** An available presence of an occupant (another participant, or the user with status 110). */
export function occupantPresence(args: OccupantPresenceArgs): Element {
  return xml(
    'presence',
    { from: `${args.roomJid}/${args.nick}`, to: args.to, id: args.id },
    args.show ? xml('show', {}, args.show) : null,
    args.status ? xml('status', {}, args.status) : null,
    mucUserX(args.item, args.codes),
    args.caps ?? null,
  );
}

export interface UnavailablePresenceArgs {
  roomJid: string;
  nick: string;
  to: string;
  item: ItemSpec;
  codes?: readonly number[];
  /** Why, as a presence status text (a part or quit message). */
  status?: string;
  id?: string;
}

/** An occupant leaves: parted, kicked (307), banned (301), renamed (303), or the user's own (110). */
export function unavailablePresence(args: UnavailablePresenceArgs): Element {
  return xml(
    'presence',
    { from: `${args.roomJid}/${args.nick}`, to: args.to, type: 'unavailable', id: args.id },
    args.status ? xml('status', {}, args.status) : null,
    mucUserX(args.item, args.codes),
  );
}

/**
 * The subject message (XEP-0045 §7.2.15): from the occupant who set it when
 * known, else from the room; an empty `<subject/>` when there is none. It
 * ends every join sequence, so it is always sent.
 */
export function subjectMessage(args: { roomJid: string; to: string; subject?: Subject; fromNick?: string; id: string; delayed?: boolean }): Element {
  const from = args.fromNick ? `${args.roomJid}/${args.fromNick}` : args.roomJid;
  return xml(
    'message',
    { from, to: args.to, type: 'groupchat', id: args.id },
    xml('subject', {}, args.subject?.text ?? ''),
    args.delayed && args.subject?.at ? xml('delay', { xmlns: DELAY_NS, from: args.roomJid, stamp: stamp(args.subject.at) }) : null,
  );
}

/** XEP-0082 date-time without milliseconds. */
export function stamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The text a client shows for a message: a /me action keeps its prefix (XEP-0245). */
export function messageText(message: IncomingMessage): string {
  return message.action ? `/me ${message.body}` : message.body;
}

/** One message of the discussion history sent on join, with its original time (XEP-0203). */
export function historyMessage(args: { roomJid: string; to: string; nick: string; message: IncomingMessage; id: string; now?: Date }): Element {
  const { message } = args;
  const when = message.timestamp ?? args.now ?? new Date();
  const text = messageText(message);
  const attachments = message.attachments ?? [];
  const body = text || attachments.map((a) => a.url).join('\n');
  return xml(
    'message',
    { from: `${args.roomJid}/${args.nick}`, to: args.to, type: 'groupchat', id: args.id },
    xml('body', {}, body),
    ...attachments.map((a) => xml('x', { xmlns: OOB_NS }, xml('url', {}, a.url), a.description ? xml('desc', {}, a.description) : null)),
    xml('delay', { xmlns: DELAY_NS, from: args.roomJid, stamp: stamp(when) }),
  );
}

/**
 * A mediated invitation (XEP-0045 §7.8.2) from the room to the invitee, with
 * a body for clients that do not understand it.
 */
export function mediatedInvite(args: {
  roomJid: string;
  to: string;
  /** JID of who invites (a contact JID of the gateway, or an XMPP user). */
  inviter?: string;
  reason?: string;
  password?: string;
  id: string;
}): Element {
  const who = args.inviter ?? 'Someone';
  const text = `${who} invites you to the room ${args.roomJid}${args.reason ? `: ${args.reason}` : ''}`;
  return xml(
    'message',
    { from: args.roomJid, to: args.to, id: args.id },
    xml('x', { xmlns: MUC_USER_NS }, xml('invite', { from: args.inviter }, args.reason ? xml('reason', {}, args.reason) : null), args.password ? xml('password', {}, args.password) : null),
    xml('body', {}, text),
  );
}
