// Channel operations on one IRC connection: bans, roles and invitations from
// the XMPP user, and what the channel's modes and invitations mean on the
// XMPP side. docs/irc.md "Channel operations" says what users see.
//
// Decisions:
// - Ban from XMPP (affiliation outcast): MODE +b with the member's mask,
//   then KICK if they are in the channel. The mask is `*!user@host` when the
//   connection knows the member's user and host (from their JOIN, a message,
//   or a USERHOST query), else `nick!*@*`. `*!*@host` is not used: behind a
//   gateway or a shared host it would ban everyone there. IRCv3 chghost
//   keeps the known user and host current when a member gets a cloak.
// - A KICK of someone a known ban (+b) matches is shown as a ban (status
//   301), not a kick (307). A +b alone names a mask, not a user: it is a
//   room notice ("bob sets mode +b *!*@example.org"), not a presence.
// - The outcast list is the channel's ban list (MODE #chan b: 367/368);
//   items carry the mask as their nick (a mask is no JID). Setting such a
//   "nick" (or the nick of a banned user) to affiliation none lifts the ban.
// - Roles: moderator = +o; participant takes o/h (and q/a) away from a
//   moderator, or gives +v (voice) to anyone else; visitor takes every prefix
//   mode away (-v too). From IRC, voice is participant; no prefix is
//   participant too, except in a moderated (+m) channel: visitor, as they
//   cannot speak. The gateway asks for the channel's modes (MODE #chan) on
//   every join to know; +m/-m later re-announce the voiceless members.
// - Other affiliations (member, admin, owner) have no IRC meaning without
//   services: feature-not-implemented, with a text that says to use roles.
// - Channel mode changes other than the prefix modes (which become presence
//   changes) are room notices from the room itself, as IRC clients show them.
// - Every command ends with a PING barrier: the server answers commands in
//   order, so its PONG means "done"; an error numeric for the channel or
//   nick before it fails the command with its condition (482: forbidden). A
//   change the server accepts silently (an op who is already op) is success.
//   The lines go through the connection's flood-controlled queue; the wait
//   for the answer starts once they are written.
// - INVITE from IRC to the user: an invitation to the room, from the
//   inviter's contact address. INVITE from XMPP: IRC carries no reason; the
//   reason is not sent.
import { randomUUID } from 'node:crypto';
import type { Client } from 'irc-framework';
import { GatewayError } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import type { Affiliation, EventSink, NetworkAddress, Role } from '../types.js';
import { chanTypesOf, contactAddress, ircLower, isChannelName, roomAddress } from './addresses.js';
import { participantIn, roleOf, type ChannelMember } from './connection.js';
import { ircLine } from './safety.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- irc-framework events carry untyped payloads
type Listener = (...args: any[]) => void;

const COMMAND_TIMEOUT_MS = 10_000;
const MODERATOR_MODES = ['q', 'a', 'o', 'h'];
const MAX_KNOWN_HOSTS = 10_000;

export interface BanEntry {
  mask: string;
  by?: string;
  at?: Date;
}

/** What the channel operations need of their connection (IrcConnection has it). */
export interface OpsHost {
  readonly client: Client;
  readonly server: string;
  readonly nick: string;
  readonly open: boolean;
  readonly channels: ReadonlyMap<string, { name: string; address: NetworkAddress; members: Map<string, ChannelMember>; ownModes: Set<string>; joined: boolean }>;
  kick(channel: string, nick: string, reason?: string): Promise<void>;
  /** Writes lines (built with ircLine of safety.ts) through the connection's flood-controlled queue; resolves once written. */
  sendLines(lines: string[]): Promise<void>;
}

// ---------------------------------------------------------------------------
// Pure pieces

/** An IRC glob (`*`, `?`) matched with RFC 1459 casemapping. */
export function globMatches(pattern: string, text: string): boolean {
  const source = [...ircLower(pattern)].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`, 's').test(ircLower(text));
}

/** The parts of a ban mask; parts it leaves out are `*`. */
export function maskParts(mask: string): { nick: string; user: string; host: string } {
  const bang = mask.indexOf('!');
  const at = mask.indexOf('@', bang < 0 ? 0 : bang);
  const nick = bang >= 0 ? mask.slice(0, bang) : at >= 0 ? mask.slice(0, at) : mask;
  const user = bang >= 0 ? mask.slice(bang + 1, at >= 0 ? at : undefined) : '*';
  const host = at >= 0 ? mask.slice(at + 1) : '*';
  return { nick: nick || '*', user: user || '*', host: host || '*' };
}

/**
 * Whether `mask` matches the user. An unknown user or host matches only a
 * part that is all wildcards: a mask on a host is never guessed to match.
 */
export function maskMatches(mask: string, who: { nick: string; user?: string | undefined; host?: string | undefined }): boolean {
  const parts = maskParts(mask);
  const anything = (part: string) => /^\*+$/.test(part);
  const partMatches = (part: string, value: string | undefined) => (value === undefined ? anything(part) : globMatches(part, value));
  return globMatches(parts.nick, who.nick) && partMatches(parts.user, who.user) && partMatches(parts.host, who.host);
}

/** The mask a ban from XMPP sets. */
export function banMask(who: { nick: string; user?: string | undefined; host?: string | undefined }): string {
  return who.user && who.host ? `*!${who.user}@${who.host}` : `${who.nick}!*@*`;
}

/** Whether an outcast "nick" from XMPP is a ban mask rather than a nick. */
export function isMask(text: string): boolean {
  return /[!@*?]/.test(text);
}

/** The MODE change that gives a member with prefix modes `held` the XMPP role `role`; null: nothing to change. */
export function roleModes(held: ReadonlySet<string>, role: Exclude<Role, 'none'>): string | null {
  const moderator = MODERATOR_MODES.filter((m) => held.has(m));
  switch (role) {
    case 'moderator':
      return moderator.length > 0 ? null : '+o';
    case 'participant':
      if (moderator.length > 0) return `-${moderator.join('')}`;
      return held.has('v') ? null : '+v';
    case 'visitor': {
      const drop = [...moderator, ...(held.has('v') ? ['v'] : [])];
      return drop.length > 0 ? `-${drop.join('')}` : null;
    }
  }
}

/** Mode changes as IRC clients write them: "+bm-k *!*@host key". */
export function describeModes(changes: ReadonlyArray<{ mode: string; param?: string | null | undefined }>): string {
  let letters = '';
  let sign = '';
  const params: string[] = [];
  for (const change of changes) {
    const s = change.mode[0]!;
    if (s !== sign) {
      letters += s;
      sign = s;
    }
    letters += change.mode.slice(1);
    // irc-framework gives null for a mode without a parameter.
    if (change.param) params.push(change.param);
  }
  return [letters, ...params].join(' ');
}

/** Parses a 302 (USERHOST) reply: "nick*=+user@host nick2=-user@host". */
export function parseUserhost(text: string): Array<{ nick: string; user: string; host: string }> {
  const out: Array<{ nick: string; user: string; host: string }> = [];
  for (const entry of text.trim().split(/\s+/)) {
    const match = /^([^=*]+)\*?=[+-]([^@]+)@(.+)$/.exec(entry);
    if (match) out.push({ nick: match[1]!, user: match[2]!, host: match[3]! });
  }
  return out;
}

// ---------------------------------------------------------------------------

interface Outcome<T> {
  /** Extra listeners (to collect replies); they may settle early. */
  listeners?: (settle: (value: T | GatewayError) => void) => Record<string, Listener>;
  /** The result when the barrier comes back without an error. */
  done: () => T;
}

export class ChannelOps {
  /** Known bans per channel (lowercased): from MODE changes and ban list queries. */
  private readonly bans = new Map<string, Map<string, BanEntry>>();
  /** Channels (lowercased) that are moderated (+m). */
  private readonly moderated = new Set<string>();
  /** user@host of nicks seen (lowercased nick). */
  private readonly hosts = new Map<string, { user: string; host: string }>();

  constructor(
    private readonly host: OpsHost,
    private readonly sink: EventSink,
    private readonly log: Logger,
  ) {}

  private isMe(nick: string | undefined): boolean {
    return nick !== undefined && ircLower(nick) === ircLower(this.host.nick);
  }

  private prefixModes(): Set<string> {
    const prefix = this.host.client.network.options.PREFIX as Array<{ mode: string }> | undefined;
    return new Set((prefix ?? [{ mode: 'o' }, { mode: 'v' }]).map((p) => p.mode));
  }

  private bansOf(channel: string): Map<string, BanEntry> {
    const lower = ircLower(channel);
    let bans = this.bans.get(lower);
    if (!bans) {
      bans = new Map();
      this.bans.set(lower, bans);
    }
    return bans;
  }

  private seen(nick: string | undefined, user: string | undefined, host: string | undefined): void {
    if (!nick || !user || !host) return;
    const lower = ircLower(nick);
    this.hosts.delete(lower);
    this.hosts.set(lower, { user, host });
    // Bounded: the least recently seen go first (a Map iterates in insertion order).
    if (this.hosts.size > MAX_KNOWN_HOSTS) this.hosts.delete(this.hosts.keys().next().value!);
  }

  private who(nick: string): { nick: string; user?: string; host?: string } {
    return { nick, ...this.hosts.get(ircLower(nick)) };
  }

  /** Registers the listeners; called once by the connection. */
  listen(): void {
    const client = this.host.client;
    const remember = (event: { nick?: string; ident?: string; hostname?: string }) => this.seen(event.nick, event.ident, event.hostname);
    for (const name of ['join', 'privmsg', 'action', 'notice']) client.on(name, remember);
    client.on('join', (event: { nick: string; channel: string }) => {
      // A (re)join starts from what the server says now, not from bans seen in an earlier stay.
      if (!this.isMe(event.nick)) return;
      this.bans.delete(ircLower(event.channel));
      this.moderated.delete(ircLower(event.channel));
      // Whether the channel is moderated decides who is a visitor: ask (answered with 324).
      if (isChannelName(event.channel, chanTypesOf(client.network.supports('CHANTYPES')))) {
        this.host.sendLines([ircLine('MODE', [event.channel])]).catch(() => undefined);
      }
    });
    client.on('channel info', (event: { channel: string; modes?: Array<{ mode: string }> }) => {
      if (!event.modes) return;
      this.setModerated(event.channel, event.modes.some((change) => change.mode === '+m'));
    });
    client.on('userlist', (event: { users: Array<{ nick: string; ident?: string; hostname?: string }> }) => {
      for (const user of event.users) this.seen(user.nick, user.ident, user.hostname);
    });
    client.on('nick', (event: { nick: string; new_nick: string }) => {
      const known = this.hosts.get(ircLower(event.nick));
      this.hosts.delete(ircLower(event.nick));
      if (known) this.hosts.set(ircLower(event.new_nick), known);
    });
    client.on('quit', (event: { nick: string }) => this.hosts.delete(ircLower(event.nick)));
    // IRCv3 chghost: the member's user or host changed (a cloak, a vhost); a ban from now on names the new one.
    client.on('user updated', (event: { nick: string; ident?: string; hostname?: string; new_ident?: string; new_hostname?: string }) => {
      if (!event.new_ident && !event.new_hostname) return;
      const known = this.hosts.get(ircLower(event.nick));
      this.seen(event.nick, event.new_ident ?? known?.user ?? event.ident, event.new_hostname ?? known?.host ?? event.hostname);
    });

    client.on('mode', (event: { target: string; nick: string; modes: Array<{ mode: string; param?: string }>; time?: number }) => {
      const state = this.host.channels.get(ircLower(event.target));
      if (!state?.joined) return;
      const prefixModes = this.prefixModes();
      const shown = event.modes.filter((change) => !prefixModes.has(change.mode[1] ?? ''));
      for (const change of shown) {
        if (change.mode[1] === 'm') this.setModerated(state.name, change.mode[0] === '+');
        if (change.mode[1] !== 'b' || !change.param) continue;
        const bans = this.bansOf(state.name);
        if (change.mode[0] === '+') bans.set(ircLower(change.param), { mask: change.param, by: event.nick, at: new Date(event.time ?? Date.now()) });
        else bans.delete(ircLower(change.param));
      }
      if (shown.length > 0) this.sink.notice(state.address, `${event.nick || this.host.server} sets mode ${describeModes(shown)}`);
    });

    client.on('invite', (event: { nick?: string; invited: string; channel: string }) => {
      if (!this.isMe(event.invited) || !isChannelName(event.channel, chanTypesOf(client.network.supports('CHANTYPES')))) return;
      const by = event.nick ? contactAddress(event.nick, this.host.server) : undefined;
      this.log.debug({ server: this.host.server, channel: event.channel, by: event.nick }, 'IRC invitation');
      this.sink.invited(roomAddress(event.channel, this.host.server), by);
    });
  }

  isModerated(channel: string): boolean {
    return this.moderated.has(ircLower(channel));
  }

  /** Records +m/-m; on a change, the members without a prefix (the user too) are shown in their new role. */
  private setModerated(channel: string, moderated: boolean): void {
    const lower = ircLower(channel);
    if (this.moderated.has(lower) === moderated) return;
    if (moderated) this.moderated.add(lower);
    else this.moderated.delete(lower);
    const state = this.host.channels.get(lower);
    if (!state?.joined) return;
    const voiceless = (modes: ReadonlySet<string>) => ![...MODERATOR_MODES, 'v'].some((m) => modes.has(m));
    if (voiceless(state.ownModes)) this.sink.participantChanged(state.address, { nick: this.host.nick, ...roleOf(state.ownModes, moderated) });
    for (const member of state.members.values()) {
      if (voiceless(member.modes)) this.sink.participantChanged(state.address, participantIn(member, moderated));
    }
  }

  /** Whether a KICK of `nick` from `channel` is the second half of a ban: a known ban matches them. */
  isBanKick(channel: string, nick: string): boolean {
    const bans = this.bans.get(ircLower(channel));
    if (!bans) return false;
    const who = this.who(nick);
    return [...bans.values()].some((ban) => maskMatches(ban.mask, who));
  }

  private joined(channel: string) {
    const state = this.host.channels.get(ircLower(channel));
    if (!state?.joined) throw new GatewayError('not-acceptable', `You are not in ${channel}; join it first.`);
    return state;
  }

  /**
   * Sends `lines` (argument lists for client.raw), then a PING; resolves at
   * its PONG unless an error about `channel` or `nick` came first (bounded).
   */
  private run<T>(lines: string[][], about: { channel?: string; nick?: string }, outcome: Outcome<T>): Promise<T> {
    const { client, server } = this.host;
    const token = `ponte-${randomUUID()}`;
    let wire: string[];
    try {
      // safety.ts: a parameter IRC cannot carry (a mask with a line break...) refuses the command.
      wire = [...lines.map(([command, ...params]) => ircLine(command!, params)), ircLine('PING', [token])];
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.host.open) return Promise.reject(new GatewayError('recipient-unavailable', `The connection to ${server} is closed.`));
    const channel = about.channel;
    const sameChannel = (name: string | undefined) => channel !== undefined && name !== undefined && ircLower(name) === ircLower(channel);
    const sameNick = (name: string | undefined) => about.nick !== undefined && name !== undefined && ircLower(name) === ircLower(about.nick);
    const said = (reason: string | undefined) => (reason ? ` (${server}: ${reason})` : '');
    return new Promise<T>((resolve, reject) => {
      // A list, not a record: the outcome's own listener of an event (USERHOST's 302 under
      // 'unknown command') must not replace the error listener of the same event, nor the reverse.
      let listeners: Array<[string, Listener]> = [];
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (value: T | GatewayError) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        for (const [name, fn] of listeners) client.removeListener(name, fn);
        if (value instanceof GatewayError) reject(value);
        else resolve(value);
      };
      const errors: Record<string, Listener> = {
        'irc error': (event: { error: string; channel?: string; nick?: string; reason?: string }) => {
          if (event.error === 'chanop_privs_needed' && sameChannel(event.channel)) {
            settle(new GatewayError('forbidden', `You are not a channel operator of ${channel}${said(event.reason)}.`));
          } else if (event.error === 'not_on_channel' && sameChannel(event.channel)) {
            settle(new GatewayError('not-acceptable', `You are not in ${channel}${said(event.reason)}.`));
          } else if (event.error === 'user_not_in_channel' && (sameNick(event.nick) || sameNick(event.channel))) {
            // irc-framework puts 441's nick parameter in `channel`.
            settle(new GatewayError('item-not-found', `${about.nick} is not in ${channel}.`));
          } else if (event.error === 'no_such_nick' && (sameNick(event.nick) || sameChannel(event.nick))) {
            settle(new GatewayError('item-not-found', `There is no ${event.nick} on ${server}.`));
          } else if (event.error === 'user_on_channel' && sameNick(event.nick)) {
            settle(new GatewayError('conflict', `${about.nick} is already in ${channel}.`));
          }
        },
        'unknown command': (command: { command: string; params: string[] }) => {
          const target = command.params[1];
          const reason = command.params.at(-1);
          if (command.command === '472') settle(new GatewayError('feature-not-implemented', `${server} does not know that channel mode${said(reason)}.`));
          else if (command.command === '478' && sameChannel(target)) settle(new GatewayError('resource-constraint', `The ban list of ${channel} is full${said(reason)}.`));
          else if (command.command === '403' && sameChannel(target)) settle(new GatewayError('item-not-found', `There is no channel ${channel} on ${server}.`));
        },
        pong: (event: { message?: string }) => {
          if (event.message === token) settle(outcome.done());
        },
      };
      listeners = [...Object.entries(outcome.listeners?.(settle) ?? {}), ...Object.entries(errors)];
      for (const [name, fn] of listeners) client.on(name, fn);
      this.host.sendLines(wire).then(
        () => {
          if (!settled) timer = setTimeout(() => settle(new GatewayError('remote-server-timeout', `${server} did not answer within ${COMMAND_TIMEOUT_MS / 1000} s.`)), COMMAND_TIMEOUT_MS);
        },
        (err: unknown) => settle(err instanceof GatewayError ? err : new GatewayError('recipient-unavailable', `The connection to ${server} is closed.`)),
      );
    });
  }

  /** user@host of `nick`: known, or asked for with USERHOST; undefined if the server does not say. */
  private async lookup(nick: string): Promise<{ nick: string; user?: string; host?: string }> {
    if (this.hosts.has(ircLower(nick))) return this.who(nick);
    const found: Array<{ nick: string; user: string; host: string }> = [];
    await this.run([['USERHOST', nick]], {}, {
      listeners: () => ({
        'unknown command': (command: { command: string; params: string[] }) => {
          if (command.command === '302') found.push(...parseUserhost(command.params.at(-1) ?? ''));
        },
      }),
      done: () => undefined,
    });
    for (const entry of found) this.seen(entry.nick, entry.user, entry.host);
    return this.who(nick);
  }

  /** Bans `nick` (MODE +b with their mask) and kicks them if they are in the channel. */
  async ban(channel: string, nick: string, reason?: string): Promise<void> {
    const state = this.joined(channel);
    if (this.isMe(nick)) throw new GatewayError('not-allowed', 'You cannot ban yourself.');
    const mask = banMask(await this.lookup(nick));
    await this.run([['MODE', state.name, '+b', mask]], { channel: state.name }, { done: () => undefined });
    // The server may have taken the mask silently (already set): the KICK still makes it a ban here.
    this.bansOf(state.name).set(ircLower(mask), { mask });
    if (state.members.has(ircLower(nick))) await this.host.kick(state.name, nick, reason);
  }

  /** The channel's ban list, from the server. */
  async banList(channel: string): Promise<BanEntry[]> {
    const state = this.joined(channel);
    let list: BanEntry[] | undefined;
    await this.run([['MODE', state.name, '+b']], { channel: state.name }, {
      listeners: () => ({
        banlist: (event: { channel: string; bans: Array<{ banned: string; banned_by?: string; banned_at?: string }> }) => {
          if (ircLower(event.channel) !== ircLower(state.name)) return;
          list = event.bans.map((ban) => ({
            mask: ban.banned,
            ...(ban.banned_by ? { by: ban.banned_by } : {}),
            ...(ban.banned_at && /^\d+$/.test(ban.banned_at) ? { at: new Date(Number(ban.banned_at) * 1000) } : {}),
          }));
        },
      }),
      done: () => undefined,
    });
    if (!list) throw new GatewayError('service-unavailable', `${this.host.server} did not send the ban list of ${state.name}.`);
    this.bans.set(ircLower(state.name), new Map(list.map((ban) => [ircLower(ban.mask), ban])));
    return list;
  }

  /** Lifts the ban `target` names: a mask, or a nick whose bans are looked up in the channel's list. */
  async unban(channel: string, target: string): Promise<void> {
    const state = this.joined(channel);
    let masks: string[];
    if (isMask(target)) {
      masks = [target];
    } else {
      const who = this.who(target);
      masks = (await this.banList(state.name)).map((ban) => ban.mask).filter((mask) => maskMatches(mask, who));
      if (masks.length === 0) throw new GatewayError('item-not-found', `No ban on ${target} is known in ${state.name}.`);
    }
    await this.run(masks.map((mask) => ['MODE', state.name, '-b', mask]), { channel: state.name }, { done: () => undefined });
    for (const mask of masks) this.bans.get(ircLower(state.name))?.delete(ircLower(mask));
  }

  async setAffiliation(channel: string, nick: string, affiliation: Affiliation): Promise<void> {
    if (affiliation === 'outcast') return this.ban(channel, nick);
    if (affiliation !== 'none') {
      throw new GatewayError('feature-not-implemented', `IRC channels have no ${affiliation}s; change the role instead (moderator is +o, participant +v).`);
    }
    const state = this.joined(channel);
    // A present member with no ban: nothing to do (they have no affiliation on IRC).
    if (!isMask(nick) && state.members.has(ircLower(nick)) && !this.isBanKick(state.name, nick)) return;
    await this.unban(state.name, nick);
  }

  async setRole(channel: string, nick: string, role: Role): Promise<void> {
    const state = this.joined(channel);
    if (role === 'none') return this.host.kick(state.name, nick);
    const held = this.isMe(nick) ? state.ownModes : state.members.get(ircLower(nick))?.modes;
    if (!held) throw new GatewayError('item-not-found', `${nick} is not in ${state.name}.`);
    const change = roleModes(held, role);
    if (!change) return;
    const letters = change.length - 1;
    await this.run([['MODE', state.name, change, ...Array<string>(letters).fill(nick)]], { channel: state.name, nick }, { done: () => undefined });
  }

  async invite(channel: string, nick: string): Promise<void> {
    const state = this.joined(channel);
    let confirmed = false;
    await this.run([['INVITE', nick, state.name]], { channel: state.name, nick }, {
      listeners: () => ({
        invited: (event: { nick: string; channel: string }) => {
          if (ircLower(event.nick) === ircLower(nick) && ircLower(event.channel) === ircLower(state.name)) confirmed = true;
        },
      }),
      done: () => undefined,
    });
    if (!confirmed) throw new GatewayError('service-unavailable', `${this.host.server} did not confirm the invitation of ${nick} to ${state.name}.`);
  }

  /** TOPIC, with the server's refusal (482 on a +t channel) as forbidden. */
  setTopic(channel: string, topic: string): Promise<void> {
    const state = this.joined(channel);
    // An empty trailing parameter keeps its colon (ircLine), or TOPIC would ask for the topic instead of clearing it.
    return this.run([['TOPIC', state.name, topic]], { channel: state.name }, { done: () => undefined });
  }
}
