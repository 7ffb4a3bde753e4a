// Matrix addresses <-> JID localparts (XEP-0106 unescaped), the one place
// they are parsed and printed (DESIGN.md, Addressing).
//
//   #room%matrix.org   the room alias #room:matrix.org       (kind room, id "#room:matrix.org")
//   bob%matrix.org     the user @bob:matrix.org              (kind contact, id "@bob:matrix.org")
//   2aciivugdx         a store handle: a room id (!AbC:matrix.org) or a user
//                      id that a JID cannot carry faithfully (capital letters)
//   matrix.org         a homeserver (kind server): its public room directory
//
// Decisions:
// - Room ids are case-sensitive and never appear in a JID: a room reached
//   without an alias (an invitation, a DM) gets a handle from the store.
// - Aliases keep the case the user typed (no lowercasing as bifrost does):
//   `#Room%server` looks up `#Room:server`. A client that lowercases JIDs
//   still reaches the room through its handle, which invitations use when
//   the alias has capitals.
// - User ids of the current grammar (lowercase a-z 0-9 . _ = - / +) print as
//   `user%server`; historical ids with other characters print as handles, so
//   JID case folding never names another user.
// - Server names may carry a port (`localhost:8448`): the `:` is escaped by
//   XEP-0106 on the XMPP side. `%` splits at the last one (server names
//   never hold `%`).
import type { AddressCodec, HandleStore, NetworkAddress } from '../types.js';

const USER_LOCALPART = /^[a-z0-9._=\-/+]+$/;
/** Historical user localparts: any printable ASCII but ':' (spec, "Historical user IDs"). */
const HISTORICAL_LOCALPART = /^[\x21-\x39\x3b-\x7e]+$/;
const ALIAS_LOCALPART = /^[^:\s]+$/;
const SERVER_NAME = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

export function isServerName(text: string): boolean {
  return SERVER_NAME.test(text);
}

/** Splits `@user:server`, `#alias:server`, `!id:server` at the first ':'. */
export function splitMatrixId(id: string): { sigil: string; localpart: string; server: string } | null {
  const colon = id.indexOf(':');
  if (colon < 2) return null;
  return { sigil: id[0]!, localpart: id.slice(1, colon), server: id.slice(colon + 1) };
}

export const roomAddress = (id: string): NetworkAddress => ({ kind: 'room', id });
export const contactAddress = (userId: string): NetworkAddress => ({ kind: 'contact', id: userId });

/** A user id from what a person types: `@bob:server`, `bob:server`, `bob%server`, or `bob` on the default server. */
export function userIdFromText(text: string, defaultServer?: string): string | null {
  let t = text.trim();
  if (t.startsWith('@')) t = t.slice(1);
  let localpart: string;
  let server: string | undefined;
  const percent = t.lastIndexOf('%');
  const colon = t.indexOf(':');
  if (percent >= 0) {
    localpart = t.slice(0, percent);
    server = t.slice(percent + 1);
  } else if (colon >= 0) {
    localpart = t.slice(0, colon);
    server = t.slice(colon + 1);
  } else {
    localpart = t;
    server = defaultServer;
  }
  if (!server || !isServerName(server) || !HISTORICAL_LOCALPART.test(localpart)) return null;
  return `@${localpart}:${server}`;
}

export const matrixAddressCodec: AddressCodec = {
  async parse(localpart: string, handles: HandleStore): Promise<NetworkAddress | null> {
    const percent = localpart.lastIndexOf('%');
    if (percent < 0) {
      const roomId = await handles.roomForHandle(localpart);
      if (roomId) return roomAddress(roomId);
      const userId = await handles.contactForHandle(localpart);
      if (userId) return contactAddress(userId);
      // A homeserver (its public room directory): never a handle, which the store would have known.
      return isServerName(localpart) ? { kind: 'server', id: localpart.toLowerCase() } : null;
    }
    const name = localpart.slice(0, percent);
    const server = localpart.slice(percent + 1);
    if (!isServerName(server)) return null;
    if (name.startsWith('#')) {
      const alias = name.slice(1);
      return alias && ALIAS_LOCALPART.test(alias) ? roomAddress(`#${alias}:${server}`) : null;
    }
    if (name.startsWith('!') || name.startsWith('@')) return null;
    return HISTORICAL_LOCALPART.test(name) ? contactAddress(`@${name}:${server}`) : null;
  },

  async format(address: NetworkAddress, handles: HandleStore): Promise<string> {
    const parts = splitMatrixId(address.id);
    if (address.kind === 'room') {
      if (parts?.sigil === '#') return `#${parts.localpart}%${parts.server}`;
      return handles.roomHandle(address.id);
    }
    if (address.kind === 'contact' && parts?.sigil === '@' && USER_LOCALPART.test(parts.localpart)) {
      return `${parts.localpart}%${parts.server}`;
    }
    if (address.kind === 'contact') return handles.contactHandle(address.id);
    return address.id;
  },
};
