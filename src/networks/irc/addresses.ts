// IRC addressing: JID localparts (already XEP-0106 unescaped) <-> network
// addresses, and the configured servers.
//
// Decisions:
// - `#chan%server` is a room, `nick%server` a contact, `server` (a dot, no %) the
//   server itself. The last `%` separates the server (host names hold none).
// - Channel vs nick by the first character, from the server's CHANTYPES
//   (ISUPPORT 005) once a connection to it told them (ChannelTypes, shared
//   by every user: it is the server's, not the user's); before that `#&`,
//   RFC 1459's channel types, as biboumi does. So `+chan` or `!chan` name a
//   channel only where the server has such channels, and a server with
//   `CHANTYPES=#` (InspIRCd) has no `&chan`.
// - Ids are canonical: channel and nick lowercased (letters only), the
//   server lowercased: what a JID folds anyway. Not RFC 1459's `[]\^` ->
//   `{}|~`: a server with CASEMAPPING=ascii (ngircd) tells `[x]` and `{x}`
//   apart, and the id is what goes on the wire. Comparisons of what the
//   server sends still use ircLower (it errs towards "the same").
// - With fixedServer, `#chan` alone names a channel there and `%` keeps no
//   meaning; the id stays `#chan%server`, only the JID omits the server.
// - Servers: `host[:port][/plain]`. TLS with verification on 6697 unless
//   `/plain` (default 6667); an unlisted server is TLS on 6697, never plain.
import type { AddressCodec, NetworkAddress } from '../types.js';

export interface IrcSettings {
  servers: readonly string[];
  fixedServer?: string | undefined;
  /** What is appended to a nick in use at connection (nicks.ts). */
  nickSuffix?: string | undefined;
}

export interface ServerEndpoint {
  host: string;
  port: number;
  tls: boolean;
}

/** Channel types before a server told its own (RFC 1459). */
export const DEFAULT_CHANTYPES = '#&';
export const DEFAULT_TLS_PORT = 6697;
export const DEFAULT_PLAIN_PORT = 6667;

const HOST = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
// Space, comma, BEL and every control character end or split a channel name on the wire.
const CHANNEL_FORBIDDEN = /[\s,\x00-\x1f\x7f]/;
// A nick: no space, controls, or characters with a meaning in masks and prefixes.
const NICK = /^[^\s\x00-\x1f\x7f,!@*?:#&+%$.][^\s\x00-\x1f\x7f,!@*?.%]*$/;

/** Lowercase per RFC 1459 casemapping (the IRC default). */
export function ircLower(text: string): string {
  return text.replace(/[A-Z[\]\\^]/g, (c) => {
    switch (c) {
      case '[':
        return '{';
      case ']':
        return '}';
      case '\\':
        return '|';
      case '^':
        return '~';
      default:
        return c.toLowerCase();
    }
  });
}

/** The channel types each IRC server announced (CHANTYPES), by server id. */
export class ChannelTypes {
  private readonly known = new Map<string, string>();

  of(server: string): string {
    return this.known.get(server.toLowerCase()) ?? DEFAULT_CHANTYPES;
  }

  /** What a server's ISUPPORT said (see chanTypesOf). */
  learn(server: string, chanTypes: string): void {
    this.known.set(server.toLowerCase(), chanTypes);
  }
}

/**
 * The channel types a connection's server announced, as irc-framework keeps
 * them (a string, or its characters once parsed); the default before that.
 * Only characters that can start a channel name count.
 */
export function chanTypesOf(announced: unknown): string {
  const types = Array.isArray(announced) ? announced.join('') : typeof announced === 'string' ? announced : DEFAULT_CHANTYPES;
  return [...new Set(types)].filter((c) => !/[\s\x00-\x1f\x7f,:A-Za-z0-9]/.test(c)).join('');
}

export function isChannelName(name: string, chanTypes: string = DEFAULT_CHANTYPES): boolean {
  return name.length > 1 && chanTypes.includes(name[0]!) && !CHANNEL_FORBIDDEN.test(name) && name.length <= 200;
}

/** Lowercased as a JID folds it: letters only, `[]\^` kept (see the top of this file). */
function idLower(text: string): string {
  return text.toLowerCase();
}

export function isNick(name: string): boolean {
  return name.length > 0 && name.length <= 64 && NICK.test(name);
}

export function isServerName(name: string): boolean {
  return name.includes('.') && name.length <= 253 && HOST.test(name);
}

/** `host[:port][/plain]` -> endpoint; null when malformed. */
export function parseServerSpec(spec: string): ServerEndpoint | null {
  const match = /^([A-Za-z0-9._-]+)(?::(\d{1,5}))?(\/plain)?$/.exec(spec.trim());
  if (!match) return null;
  const tls = !match[3];
  const port = match[2] ? Number(match[2]) : tls ? DEFAULT_TLS_PORT : DEFAULT_PLAIN_PORT;
  if (port < 1 || port > 65535) return null;
  return { host: match[1]!.toLowerCase(), port, tls };
}

/** How to reach `server`: as configured, else TLS on 6697. */
export function serverEndpoint(server: string, settings: IrcSettings): ServerEndpoint {
  const host = server.toLowerCase();
  for (const spec of settings.servers) {
    const endpoint = parseServerSpec(spec);
    if (endpoint?.host === host) return endpoint;
  }
  return { host, port: DEFAULT_TLS_PORT, tls: true };
}

/** Splits a room or contact id `name%server`. */
export function splitId(id: string): { name: string; server: string } {
  const at = id.lastIndexOf('%');
  return { name: id.slice(0, at), server: id.slice(at + 1) };
}

export function roomAddress(channel: string, server: string): NetworkAddress {
  return { kind: 'room', id: `${idLower(channel)}%${server.toLowerCase()}` };
}

export function contactAddress(nick: string, server: string): NetworkAddress {
  return { kind: 'contact', id: `${idLower(nick)}%${server.toLowerCase()}` };
}

/** The network address a localpart names, or null. */
export function parseLocalpart(localpart: string, settings: IrcSettings, chanTypes: ChannelTypes = new ChannelTypes()): NetworkAddress | null {
  let name: string;
  let server: string;
  const fixed = settings.fixedServer?.toLowerCase();
  const percent = localpart.lastIndexOf('%');
  if (fixed) {
    if (percent < 0 && isServerName(localpart) && !chanTypes.of(fixed).includes(localpart[0]!)) {
      return localpart.toLowerCase() === fixed ? { kind: 'server', id: fixed } : null;
    }
    // `#chan%server` still works when it names the fixed server itself.
    if (percent >= 0 && localpart.slice(percent + 1).toLowerCase() === fixed) {
      name = localpart.slice(0, percent);
    } else {
      name = localpart;
    }
    server = fixed;
  } else {
    if (percent < 0) return isServerName(localpart) ? { kind: 'server', id: localpart.toLowerCase() } : null;
    name = localpart.slice(0, percent);
    server = localpart.slice(percent + 1).toLowerCase();
    if (!isServerName(server)) return null;
  }
  if (isChannelName(name, chanTypes.of(server))) return roomAddress(name, server);
  if (isNick(name)) return contactAddress(name, server);
  return null;
}

export function formatAddress(address: NetworkAddress, settings: IrcSettings): string {
  if (address.kind === 'server') return address.id;
  const fixed = settings.fixedServer?.toLowerCase();
  const { name, server } = splitId(address.id);
  return fixed && server === fixed ? name : address.id;
}

export function ircAddressCodec(settings: IrcSettings, chanTypes: ChannelTypes): AddressCodec {
  return {
    async parse(localpart) {
      return parseLocalpart(localpart, settings, chanTypes);
    },
    async format(address) {
      return formatAddress(address, settings);
    },
  };
}
