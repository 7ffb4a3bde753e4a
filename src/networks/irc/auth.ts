// Authentication and identity on an IRC connection: the irc-framework options
// for PASS, SASL PLAIN/EXTERNAL, the client certificate and WEBIRC; what runs
// once the server welcomed us (NickServ IDENTIFY when there is no SASL, the
// user's after-connect commands); SASL failures turned into a refused join;
// identd registration.
//
// Decisions (docs/irc.md "Authentication"):
// - SASL failure (wrong password, mechanism not offered, no SASL at all on
//   the server) fails the connection with not-authorized and the server's
//   words: no silent connection without the account the user asked for.
// - irc-framework would use a server password as a SASL PLAIN password when no
//   SASL account is given; ponte never does (account: {} disables it), so a
//   server password only goes out as PASS.
// - NickServ: `PRIVMSG NickServ :IDENTIFY <password>` right after 001, only
//   without SASL; the joins wait (at most 5 s) for the services' 900 "you are
//   now logged in" so +r channels let the user in.
// - WEBIRC sends, as the user's host, `<hash>.<gateway domain>` and, as the
//   address, an IPv6 address in fd70:6f6e:7465::/48 (a unique-local range:
//   "ponte"), both from SHA-256 of the user's bare JID: stable per user, the
//   same on every server, without showing the JID. It is a pseudonym, not a
//   secret: whoever guesses a JID can compute its hash.
import { createHash } from 'node:crypto';
import type { Client, IrcClientOptions } from 'irc-framework';
import type { ErrorCondition } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import type { ConnectionProfile } from './settings.js';
import { ircLine, rawLine, assertIrcParam } from './safety.js';
import { PonteTransport, type TransportOptions } from './transport.js';

const NICKSERV_WAIT_MS = 5_000;
const WEBIRC_PREFIX = 'fd70:6f6e:7465';

/** The WEBIRC host name and address of a user (stable, the same on every server). */
export function webircIdentity(userJid: string, domain: string): { hostname: string; address: string } {
  const digest = createHash('sha256').update(`ponte/irc/webirc\0${userJid.toLowerCase()}`).digest();
  const groups: string[] = [];
  for (let i = 0; i < 5; i++) groups.push(digest.readUInt16BE(i * 2).toString(16));
  const label = base32(digest.subarray(10, 20)).slice(0, 16);
  return { hostname: `${label}.${domain}`, address: `${WEBIRC_PREFIX}:${groups.join(':')}` };
}

/** What identd answers for a user who set no user name: stable per user (as biboumi's identd), not the JID. */
export function identUsername(userJid: string): string {
  const digest = createHash('sha256').update(`ponte/irc/ident\0${userJid.toLowerCase()}`).digest();
  return `x${base32(digest).slice(0, 9)}`;
}

function base32(bytes: Buffer): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/**
 * The options passed to irc-framework's connect() for this profile. Stored
 * settings are data: what irc-framework would write on a line (nick, user
 * name, real name, PASS, the NickServ password) or frame with NUL (SASL
 * PLAIN) is checked here (safety.ts) and refused with not-acceptable.
 */
export function clientOptions(profile: ConnectionProfile): IrcClientOptions & TransportOptions & Record<string, unknown> {
  assertIrcParam(profile.nick, 'nickname');
  assertIrcParam(profile.username, 'user name');
  assertIrcParam(profile.realname, 'real name', { trailing: true });
  if (profile.password) assertIrcParam(profile.password, 'server password', { trailing: true });
  if (profile.nickservPassword) assertIrcParam(profile.nickservPassword, 'NickServ password', { trailing: true });
  if (profile.sasl?.account) assertIrcParam(profile.sasl.account, 'SASL account', { trailing: true });
  if (profile.sasl?.password) assertIrcParam(profile.sasl.password, 'SASL password', { trailing: true });
  const options: IrcClientOptions & TransportOptions & Record<string, unknown> = {
    host: profile.host,
    port: profile.port,
    tls: profile.tls,
    rejectUnauthorized: true,
    nick: profile.nick,
    username: profile.username,
    gecos: profile.realname,
    encoding: profile.encodingOut === 'utf-8' ? 'utf8' : profile.encodingOut,
    version: null, // CTCP VERSION is answered by ctcp.ts
    auto_reconnect: false,
    enable_chghost: true,
    enable_echomessage: true,
    transport: PonteTransport,
    ponte_encoding_in: profile.encodingIn,
    ponte_channel_encodings: profile.channelEncodings,
    // Never reuse PASS as a SASL password (see above).
    account: profile.sasl?.mechanism === 'PLAIN' ? { account: profile.sasl.account!, password: profile.sasl.password! } : ({} as { account: string; password: string }),
  };
  if (profile.password) options.password = profile.password;
  if (profile.sasl?.mechanism === 'EXTERNAL') options.sasl_mechanism = 'EXTERNAL';
  else if (profile.sasl) options.sasl_mechanism = 'PLAIN';
  if (profile.clientCertificate) options.client_certificate = { certificate: profile.clientCertificate.certificate, private_key: profile.clientCertificate.privateKey };
  if (profile.ca) options.ponte_ca = profile.ca;
  if (profile.webirc) options.webirc = { ...profile.webirc, options: {} };
  return options;
}

/** Why SASL failed, in words, from irc-framework's 'sasl failed' event. */
export function saslFailureText(event: { reason: string; message?: string }): string {
  switch (event.reason) {
    case 'capability_missing':
      return 'the server offers no SASL, so the account cannot be used';
    case 'unsupported_mechanism':
      return 'the server does not offer the chosen SASL mechanism';
    case 'nick_locked':
      return `SASL refused: the nickname is locked${event.message ? ` (${event.message})` : ''}`;
    default:
      return `SASL authentication failed${event.message ? `: ${event.message}` : ''}`;
  }
}

/**
 * Watches one connection attempt: SASL failures and a refused server
 * password fail it (registered before the connection's own handlers, so
 * these conditions win), and the socket is known to identd while open.
 */
export function watchConnection(client: Client, profile: ConnectionProfile, fail: (condition: ErrorCondition, detail: string) => void): void {
  const identd = profile.identd;
  client.on('sasl failed', (event: { reason: string; message?: string }) => fail('not-authorized', saslFailureText(event)));
  // A server that closes the link before 001 when we sent PASS refused the password (InspIRCd: "Access denied by configuration").
  // `fail` only acts on a registration in flight, so an ERROR later (a kill) is not taken for one.
  client.on('irc error', (event: { error: string; reason?: string }) => {
    if (profile.password && event.error === 'irc') fail('not-authorized', `the server refused the connection, probably the server password${event.reason ? ` (${event.reason})` : ''}`);
  });
  if (!identd) return;
  let forget: (() => void) | undefined;
  client.on('raw socket connected', (socket: import('node:net').Socket) => {
    forget?.();
    forget = identd.register(socket, profile.identUsername ?? profile.username);
  });
  client.on('socket close', () => {
    forget?.();
    forget = undefined;
  });
}

/** What runs after 001: NickServ IDENTIFY (without SASL), then the user's commands. Never throws. */
export async function afterRegistration(client: Client, profile: ConnectionProfile, log: Logger): Promise<void> {
  if (profile.nickservPassword && !profile.sasl) {
    const loggedIn = new Promise<void>((resolve) => {
      const timer = setTimeout(done, NICKSERV_WAIT_MS);
      function done() {
        clearTimeout(timer);
        client.removeListener('loggedin', done);
        client.removeListener('socket close', done);
        resolve();
      }
      client.on('loggedin', done);
      client.on('socket close', done);
    });
    // Checked in clientOptions before connecting.
    client.raw(ircLine('PRIVMSG', ['NickServ', `IDENTIFY ${profile.nickservPassword}`]));
    await loggedIn;
  }
  for (const line of profile.afterConnect) {
    // Checked when saved; checked again here, as the stored settings are data.
    try {
      client.raw(rawLine(line, 'command after connecting'));
    } catch (err) {
      log.warn({ server: profile.server, err: (err as Error).message }, 'IRC: an after-connect command was not sent');
    }
  }
  if (profile.afterConnect.length > 0) log.debug({ server: profile.server, count: profile.afterConnect.length }, 'IRC: sent the after-connect commands');
}
