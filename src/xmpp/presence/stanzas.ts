// Pure builders for what the presence module sends: presences from the
// gateway's JIDs, the gateway's own presence derived from the user's session,
// roster sets (XEP-0356) and roster item exchange suggestions (XEP-0144).
import type { ConnectionState } from '../../networks/types.js';
import { xml, type Element } from '../stanza.js';

export const NS_ROSTER = 'jabber:iq:roster';
export const NS_ROSTERX = 'http://jabber.org/protocol/rosterx';
export const NS_NICK = 'http://jabber.org/protocol/nick';

export type Show = 'away' | 'xa' | 'dnd' | 'chat';
export type ContactShow = 'available' | 'away' | 'xa' | 'dnd' | 'offline';

/** Presence as shown to the user: available (with an optional show) or unavailable, with a status text. */
export interface ShownPresence {
  available: boolean;
  show?: Show;
  status?: string;
}

export interface PresenceOptions {
  from: string;
  to: string;
  type?: 'unavailable' | 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed' | 'probe';
  show?: Show;
  status?: string;
  /** XEP-0115 <c/>, on available presences. */
  caps?: Element | null;
  /** XEP-0172 nickname, e.g. in a subscription request. */
  nick?: string;
}

/** A <presence/> with its children in the conventional order (show, status, caps, nick). */
export function presenceStanza(options: PresenceOptions): Element {
  const presence = xml('presence', { from: options.from, to: options.to, ...(options.type ? { type: options.type } : {}) });
  if (options.show) presence.append(xml('show', {}, options.show));
  if (options.status) presence.append(xml('status', {}, options.status));
  if (options.caps) presence.append(options.caps);
  if (options.nick) presence.append(xml('nick', { xmlns: NS_NICK }, options.nick));
  return presence;
}

/** The presence stanza showing `shown` from `from` to `to`; caps only on available presences. */
export function shownPresenceStanza(from: string, to: string, shown: ShownPresence, caps: Element | null): Element {
  if (!shown.available) return presenceStanza({ from, to, type: 'unavailable', status: shown.status });
  return presenceStanza({ from, to, show: shown.show, status: shown.status, caps });
}

/** A network's presence of a contact, as shown to the user. */
export function contactShown(show: ContactShow, status?: string): ShownPresence {
  const text = status?.trim() || undefined;
  if (show === 'offline') return { available: false, status: text };
  return { available: true, show: show === 'available' ? undefined : show, status: text };
}

/** What the gateway knows of a user's session on its network. */
export type SessionView =
  | { kind: 'session'; state: ConnectionState; detail: string }
  /** No session: whether the user could log in (registered, or the network needs no registration), and the last login failure. */
  | { kind: 'none'; registered: boolean; registrationRequired: boolean; lastFailure?: string };

/**
 * The gateway's presence for one user, from their session (see the table in
 * presence.ts): online -> available; connecting/reconnecting -> away with
 * the reason; failed -> dnd with the reason; closed -> unavailable with the
 * reason; no session -> unavailable, unless the network needs no login at all.
 */
export function gatewayShown(view: SessionView, networkName: string, gatewayDomain: string): ShownPresence {
  if (view.kind === 'none') {
    if (view.lastFailure) return { available: true, show: 'dnd', status: loginFailed(view.lastFailure) };
    if (view.registrationRequired && !view.registered) {
      return { available: false, status: `Not registered: register with ${gatewayDomain} to use ${networkName}.` };
    }
    if (!view.registered) return { available: true };
    return { available: false, status: `Not connected to ${networkName}.` };
  }
  const detail = view.detail.trim();
  switch (view.state) {
    case 'online':
      return detail ? { available: true, status: detail } : { available: true };
    case 'connecting':
      return { available: true, show: 'away', status: detail || `Connecting to ${networkName}…` };
    case 'reconnecting':
      return { available: true, show: 'away', status: detail ? `Reconnecting: ${detail}` : `Reconnecting to ${networkName}…` };
    case 'failed':
      return { available: true, show: 'dnd', status: loginFailed(detail || `could not connect to ${networkName}`) };
    case 'offline':
      return { available: false, status: detail || `Disconnected from ${networkName}.` };
  }
}

function loginFailed(detail: string): string {
  return /^login failed\b/i.test(detail) ? detail : `Login failed: ${detail}`;
}

export interface RosterEntry {
  jid: string;
  name?: string;
  group?: string;
}

/** A privileged roster set (XEP-0356 §5.3) adding one item with a mutual subscription, from the component to the user's bare JID. */
export function rosterSetIq(from: string, userBareJid: string, entry: RosterEntry): Element {
  return xml(
    'iq',
    { type: 'set', from, to: userBareJid },
    xml(
      'query',
      { xmlns: NS_ROSTER },
      xml('item', { jid: entry.jid, ...(entry.name ? { name: entry.name } : {}), subscription: 'both' }, entry.group ? xml('group', {}, entry.group) : null),
    ),
  );
}

/** A privileged roster get (XEP-0356 §5.2): the user's roster, read through their server. */
export function rosterGetIq(from: string, userBareJid: string): Element {
  return xml('iq', { type: 'get', from, to: userBareJid }, xml('query', { xmlns: NS_ROSTER }));
}

/** The items of a roster result, by lowercased JID. */
export function rosterItems(reply: Element): Map<string, { subscription: string; name?: string }> {
  const items = new Map<string, { subscription: string; name?: string }>();
  for (const item of reply.getChild('query', NS_ROSTER)?.getChildren('item') ?? []) {
    if (!item.attrs.jid) continue;
    items.set(String(item.attrs.jid).toLowerCase(), { subscription: item.attrs.subscription ?? 'none', name: item.attrs.name });
  }
  return items;
}

/** A roster item exchange suggestion (XEP-0144 §3.1): a message from the gateway proposing to add these contacts. */
export function rosterSuggestion(from: string, userBareJid: string, entries: RosterEntry[], networkName: string): Element {
  const names = entries.map((e) => (e.name ? `${e.name} (${e.jid})` : e.jid));
  const body = `Your ${networkName} contacts, to add to your contact list: ${names.join(', ')}`;
  return xml(
    'message',
    { from, to: userBareJid },
    xml('body', {}, body),
    xml(
      'x',
      { xmlns: NS_ROSTERX },
      ...entries.map((entry) =>
        xml('item', { action: 'add', jid: entry.jid, ...(entry.name ? { name: entry.name } : {}) }, entry.group ? xml('group', {}, entry.group) : null),
      ),
    ),
  );
}
