// What the IRC end-to-end tests share: the JIDs of channels on the test IRC
// server, a MUC join as an XMPP client does it, an IRC user in a channel, and
// a bounded poll, and the IRC lines a user's connection in ponte sends.
import type { TestGateway } from './gateway.js';
import { connectIrc, type IrcConnection, type IrcServer } from './irc-server.js';
import { xml, type TestXmppClient, type XmlElement } from './xmpp-client.js';

export const MUC = 'http://jabber.org/protocol/muc';
export const MUC_USER = 'http://jabber.org/protocol/muc#user';
export const IRC_DOMAIN = 'irc.localhost';
/** The IRC server as users name it (every test server listens on loopback). */
export const SERVER = '127.0.0.1';

export const roomJid = (channel: string) => `${channel}%${SERVER}@${IRC_DOMAIN}`;
export const bareOf = (jid: string | undefined) => (jid ?? '').split('/')[0]!;
/** The MUC status codes of a presence. */
export const codes = (el: XmlElement) => (el.getChild('x', MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code));
/** The lowercased nick of an IRC prefix `nick!user@host`. */
export const nickOfPrefix = (prefix: string | undefined) => (prefix ?? '').split('!')[0]!.toLowerCase();

/** Joins `channel` as `nick`; resolves with every stanza from the room up to the subject (the end of the join). */
export async function joinRoom(client: TestXmppClient, channel: string, nick: string): Promise<XmlElement[]> {
  await client.send(xml('presence', { to: `${roomJid(channel)}/${nick}` }, xml('x', { xmlns: MUC })));
  const out: XmlElement[] = [];
  for (;;) {
    const el = await client.waitFor((s) => bareOf(s.attrs.from) === roomJid(channel), 20_000);
    out.push(el);
    if (el.attrs.type === 'error') throw new Error(`join of ${channel} failed: ${el.toString()}`);
    if (el.is('message') && el.getChild('subject') && !el.getChild('body')) return out;
  }
}

/** An IRC client in `channel`, its JOIN confirmed by the end of NAMES. */
export async function ircUser(irc: IrcServer, nick: string, channel: string): Promise<IrcConnection> {
  const conn = await connectIrc(irc, nick);
  conn.send(`JOIN ${channel}`);
  await conn.waitFor((m) => m.command === '366', 10_000, `end of NAMES for ${channel}`);
  return conn;
}

/** Polls `check` until it holds (bounded). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Records the lines the user's IRC connection to `server` writes from now on
 * (irc-framework's outgoing 'raw' events): to show what ponte did not ask the
 * server, which no IRC client on the other side can see.
 */
export function linesSent(t: TestGateway, user: string, server = SERVER): string[] {
  const session = t.gateway.ponte.core.list({ network: 'irc', userJid: user })[0];
  if (!session) throw new Error(`${user} has no IRC session`);
  // The session's connections are its own business; a test reaches in only to watch.
  const connections = (session.remote as unknown as { connections: Map<string, { client: { on(name: 'raw', fn: (e: { line: string; from_server: boolean }) => void): void } }> }).connections;
  const connection = connections.get(server);
  if (!connection) throw new Error(`${user} has no IRC connection to ${server}`);
  const lines: string[] = [];
  connection.client.on('raw', (event) => {
    if (!event.from_server) lines.push(event.line);
  });
  return lines;
}
