// One irc-framework connection of one XMPP user to one IRC server: connect and
// register, join/part with the server's answers turned into results or
// GatewayErrors, and what happens on the server pushed into the EventSink.
//
// Decisions:
// - irc-framework parses every line and builds every line; ponte only hands it
//   parameters it checked (no CR, LF or NUL anywhere; no space in a middle
//   parameter), so a body can never smuggle a second command.
// - Nick in use while registering: nick_, nick__, ... (5 tries), then failure.
// - Roles from channel prefixes: q (~) owner, a (&) admin, o (@) and h (%)
//   moderator, v (+) and none participant.
// - No automatic reconnect yet: a lost connection ends the user's channels
//   (roomLeft) and reports the state as failed.
// - IRC has no message ids (without message-tags): every line gets a UUID.
import { randomUUID } from 'node:crypto';
import { Client } from 'irc-framework';
import { GatewayError, type ErrorCondition } from '../../core/errors.js';
import type { IncomingMessage } from '../../core/message.js';
import type { Logger } from '../../log.js';
import type { Affiliation, EventSink, NetworkAddress, Participant, Role, Subject } from '../types.js';
import { contactAddress, ircLower, roomAddress } from './addresses.js';
import { afterRegistration, clientOptions, watchConnection } from './auth.js';
import { ircToStyling, stylingToIrc } from './format.js';
import type { ConnectionProfile } from './settings.js';
import { lineBudget, splitMessage } from './split.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- irc-framework events carry untyped payloads
type Listener = (...args: any[]) => void;

export interface ChannelMember {
  nick: string;
  /** Prefix mode letters: q, a, o, h, v. */
  modes: Set<string>;
}

interface ChannelState {
  name: string;
  address: NetworkAddress;
  /** Everyone but the user, by lowercased nick. */
  members: Map<string, ChannelMember>;
  ownModes: Set<string>;
  joined: boolean;
  /** Set by our own PART: its echo is not a forced leave. */
  leaving: boolean;
}

interface PendingJoin {
  topic?: string;
  resolve(): void;
  reject(err: GatewayError): void;
}

export interface JoinResult {
  nick: string;
  members: ChannelMember[];
  ownModes: Set<string>;
  subject?: Subject;
}

const CONNECT_TIMEOUT_MS = 30_000;
const JOIN_TIMEOUT_MS = 20_000;
const COMMAND_TIMEOUT_MS = 10_000;
const NICK_RETRIES = 5;

const JOIN_ERRORS: Record<string, { condition: ErrorCondition; text: string }> = {
  bad_channel_key: { condition: 'not-authorized', text: 'wrong or missing channel key (password)' },
  banned_from_channel: { condition: 'forbidden', text: 'you are banned from this channel' },
  invite_only_channel: { condition: 'registration-required', text: 'the channel is invite-only' },
  channel_is_full: { condition: 'service-unavailable', text: 'the channel is full' },
  too_many_channels: { condition: 'resource-constraint', text: 'you are in too many channels' },
};
const JOIN_NUMERICS: Record<string, { condition: ErrorCondition; text: string }> = {
  '403': { condition: 'item-not-found', text: 'no such channel' },
  '405': { condition: 'resource-constraint', text: 'you are in too many channels' },
  '476': { condition: 'jid-malformed', text: 'bad channel name' },
  '479': { condition: 'jid-malformed', text: 'illegal channel name' },
};

/** Characters XML cannot carry; IRC formatting codes among them (until they are converted). */
const NOT_XML = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

export function roleOf(modes: Set<string>): { role: Role; affiliation: Affiliation } {
  if (modes.has('q')) return { role: 'moderator', affiliation: 'owner' };
  if (modes.has('a')) return { role: 'moderator', affiliation: 'admin' };
  if (modes.has('o') || modes.has('h')) return { role: 'moderator', affiliation: 'none' };
  return { role: 'participant', affiliation: 'none' };
}

export function participantOf(member: ChannelMember): Participant {
  return { nick: member.nick, ...roleOf(member.modes) };
}

/** Throws unless `value` can be one IRC parameter (a middle one: no spaces either). */
export function checkParam(value: string, what: string, middle: boolean): string {
  if (/[\r\n\0]/.test(value) || (middle && (/\s/.test(value) || value.startsWith(':') || value === ''))) {
    throw new GatewayError('bad-request', `The ${what} cannot contain line breaks${middle ? ' or spaces' : ''}.`);
  }
  return value;
}

export class IrcConnection {
  readonly client: Client;
  readonly channels = new Map<string, ChannelState>();
  nick: string;
  private readonly pendingJoins = new Map<string, PendingJoin>();
  private readyPromise: Promise<void> | null = null;
  private registered = false;
  private closed = false;
  private closedPromise: Promise<void>;
  private markClosed!: () => void;

  constructor(
    readonly server: string,
    readonly endpoint: ConnectionProfile,
    requestedNick: string,
    private readonly sink: EventSink,
    private readonly log: Logger,
    private readonly onGone: (connection: IrcConnection) => void,
  ) {
    this.nick = requestedNick;
    this.client = new Client();
    this.closedPromise = new Promise((resolve) => {
      this.markClosed = resolve;
    });
    this.listen();
  }

  get where(): string {
    return `${this.endpoint.host}:${this.endpoint.port}${this.endpoint.tls ? ' (TLS)' : ' (plain text)'}`;
  }

  get open(): boolean {
    return !this.closed;
  }

  /** Connects and registers (once; later callers share the attempt). */
  connect(): Promise<void> {
    this.readyPromise ??= new Promise<void>((resolve, reject) => {
      const baseNick = this.nick;
      let attempts = 0;
      let lastError: (Error & { code?: string }) | undefined;
      let settled = false;
      const timer = setTimeout(() => fail('remote-server-timeout', `no answer from ${this.where} within ${CONNECT_TIMEOUT_MS / 1000} s`), CONNECT_TIMEOUT_MS);
      const fail = (condition: ErrorCondition, detail: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.sink.connectionState('failed', detail);
        this.shutdown();
        reject(new GatewayError(condition, `Cannot connect to ${this.server}: ${detail}.`));
      };
      watchConnection(this.client, this.endpoint, fail);
      this.client.on('registered', (event: { nick: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.registered = true;
        this.nick = event.nick;
        void afterRegistration(this.client, this.endpoint, this.log).then(() => {
          this.sink.connectionState('online', `connected to ${this.where} as ${this.nick}`);
          resolve();
        });
      });
      this.client.on('nick in use', (event: { nick: string }) => {
        if (this.registered) return;
        attempts += 1;
        if (attempts > NICK_RETRIES) return fail('conflict', `the nickname ${baseNick} and ${NICK_RETRIES} alternatives are in use`);
        this.client.changeNick(`${baseNick}${'_'.repeat(attempts)}`);
        this.log.debug({ server: this.server, taken: event.nick }, 'IRC nick in use, trying another');
      });
      this.client.on('nick invalid', (event: { nick: string; reason: string }) => {
        if (!this.registered) fail('jid-malformed', `the server refused the nickname ${event.nick}: ${event.reason}`);
      });
      this.client.on('irc error', (event: { error: string; reason?: string }) => {
        if (this.registered) return;
        if (event.error === 'password_mismatch') fail('not-authorized', 'the server password was refused');
        else if (event.error === 'banned_from_network') fail('forbidden', `banned from the network: ${event.reason ?? ''}`);
        else if (event.error === 'irc') fail('remote-server-not-found', `the server closed the connection: ${event.reason ?? ''}`);
      });
      this.client.on('socket close', (err?: Error & { code?: string }) => {
        if (err) lastError = err;
      });
      this.client.on('close', () => {
        if (!settled) fail('remote-server-not-found', describeSocketError(lastError, this.where));
        this.shutdown();
      });
      this.sink.connectionState('connecting', `connecting to ${this.where}`);
      this.client.connect(clientOptions(this.endpoint));
    });
    return this.readyPromise;
  }

  private isMe(nick: string | undefined): boolean {
    return nick !== undefined && ircLower(nick) === ircLower(this.nick);
  }

  private prefixModes(): Set<string> {
    const prefix = this.client.network.options.PREFIX as Array<{ symbol: string; mode: string }> | undefined;
    return new Set((prefix ?? [{ mode: 'o' }, { mode: 'v' }]).map((p) => p.mode));
  }

  /** JOIN, then wait for our JOIN echo and the end of NAMES. */
  async join(channel: string, key?: string): Promise<JoinResult> {
    const lower = ircLower(channel);
    const existing = this.channels.get(lower);
    if (existing?.joined && !this.pendingJoins.has(lower)) return this.snapshot(existing);
    checkParam(channel, 'channel name', true);
    if (key !== undefined) checkParam(key, 'channel password', true);
    const state: ChannelState = existing ?? {
      name: channel,
      address: roomAddress(channel, this.server),
      members: new Map(),
      ownModes: new Set(),
      joined: false,
      leaving: false,
    };
    this.channels.set(lower, state);
    const pending = this.pendingJoins.get(lower);
    const done = pending
      ? new Promise<void>((resolve, reject) => {
          const { resolve: r0, reject: j0 } = pending;
          pending.resolve = () => (r0(), resolve());
          pending.reject = (err) => (j0(err), reject(err));
        })
      : new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => entry.reject(new GatewayError('remote-server-timeout', `${channel} on ${this.server} did not answer the join within ${JOIN_TIMEOUT_MS / 1000} s.`)), JOIN_TIMEOUT_MS);
          const entry: PendingJoin = {
            resolve: () => {
              clearTimeout(timer);
              this.pendingJoins.delete(lower);
              resolve();
            },
            reject: (err) => {
              clearTimeout(timer);
              this.pendingJoins.delete(lower);
              if (this.channels.get(lower) === state && !state.joined) this.channels.delete(lower);
              reject(err);
            },
          };
          this.pendingJoins.set(lower, entry);
          if (key) this.client.join(channel, key);
          else this.client.join(channel);
        });
    await done;
    const result = this.snapshot(state);
    const topic = this.pendingTopics.get(lower);
    this.pendingTopics.delete(lower);
    if (topic) result.subject = { text: topic };
    return result;
  }

  private readonly pendingTopics = new Map<string, string>();

  private snapshot(state: ChannelState): JoinResult {
    return { nick: this.nick, members: [...state.members.values()], ownModes: new Set(state.ownModes) };
  }

  /** PART; the channel is forgotten at once (the echo is not waited for). */
  part(channel: string, reason?: string): void {
    const lower = ircLower(channel);
    const state = this.channels.get(lower);
    if (!state) return;
    state.leaving = true;
    this.channels.delete(lower);
    if (this.closed) return;
    const why = reason ? oneLine(reason) : '';
    if (why) this.client.part(state.name, why);
    else this.client.part(state.name);
  }

  isIn(channel: string): boolean {
    return this.channels.get(ircLower(channel))?.joined === true;
  }

  /** PRIVMSG (or CTCP ACTION) lines to `target`; one id per line sent. */
  say(target: string, body: string, action: boolean): string[] {
    checkParam(target, 'recipient', true);
    if (this.closed) throw new GatewayError('recipient-unavailable', `The connection to ${this.server} is closed.`);
    const ids: string[] = [];
    const budget = lineBudget({ nick: this.nick, target, action });
    for (const piece of splitMessage(stylingToIrc(body), budget)) {
      if (action) this.client.raw('PRIVMSG', target, `\x01ACTION ${piece}\x01`);
      else this.client.raw('PRIVMSG', target, piece);
      ids.push(randomUUID());
    }
    if (ids.length === 0) throw new GatewayError('not-acceptable', 'An empty message cannot be sent to IRC.');
    return ids;
  }

  /** Lines typed to the server JID, sent as they are (one per line; this is the user's own connection). */
  rawLines(text: string): string[] {
    if (this.closed) throw new GatewayError('recipient-unavailable', `The connection to ${this.server} is closed.`);
    const ids: string[] = [];
    for (const line of text.split(/\r\n|\r|\n/)) {
      const clean = line.replace(/\0/g, '').trim();
      if (!clean) continue;
      this.client.raw(clean);
      ids.push(randomUUID());
    }
    return ids;
  }

  setTopic(channel: string, topic: string): void {
    this.client.setTopic(channel, oneLine(topic));
  }

  /** NICK; resolves with the nick the server confirmed. */
  changeNick(nick: string): Promise<string> {
    checkParam(nick, 'nickname', true);
    return this.command<string>(
      (settle) => ({
        nick: (event: { nick: string; new_nick: string }) => {
          if (this.isMe(event.nick) || ircLower(event.new_nick) === ircLower(nick)) settle(() => event.new_nick);
        },
        'nick in use': () => settle(new GatewayError('conflict', `The nickname ${nick} is in use on ${this.server}.`)),
        'nick invalid': (event: { reason: string }) => settle(new GatewayError('not-acceptable', `${nick} is not a valid nickname on ${this.server}: ${event.reason}`)),
      }),
      () => this.client.changeNick(nick),
    );
  }

  kick(channel: string, nick: string, reason?: string): Promise<void> {
    checkParam(nick, 'nickname', true);
    return this.command<void>(
      (settle) => ({
        kick: (event: { kicked: string; channel: string }) => {
          if (ircLower(event.kicked) === ircLower(nick) && ircLower(event.channel) === ircLower(channel)) settle(() => undefined);
        },
        'irc error': (event: { error: string; reason?: string }) => {
          if (event.error === 'chanop_privs_needed') settle(new GatewayError('forbidden', `You are not a channel operator of ${channel}.`));
          else if (event.error === 'user_not_in_channel' || event.error === 'no_such_nick') settle(new GatewayError('item-not-found', `${nick} is not in ${channel}.`));
        },
      }),
      () => {
        const why = reason ? oneLine(reason) : '';
        if (why) this.client.raw('KICK', channel, nick, why);
        else this.client.raw('KICK', channel, nick);
      },
    );
  }

  /** Runs `send`, then settles on the first matching event among `handlers` (bounded). */
  private command<T>(
    handlers: (settle: (outcome: (() => T) | GatewayError) => void) => Record<string, Listener>,
    send: () => void,
  ): Promise<T> {
    if (this.closed) return Promise.reject(new GatewayError('recipient-unavailable', `The connection to ${this.server} is closed.`));
    return new Promise<T>((resolve, reject) => {
      let listeners: Record<string, Listener> = {};
      const timer = setTimeout(() => settle(new GatewayError('remote-server-timeout', `${this.server} did not answer within ${COMMAND_TIMEOUT_MS / 1000} s.`)), COMMAND_TIMEOUT_MS);
      const settle = (outcome: (() => T) | GatewayError) => {
        clearTimeout(timer);
        for (const [name, fn] of Object.entries(listeners)) this.client.removeListener(name, fn);
        if (outcome instanceof GatewayError) reject(outcome);
        else resolve(outcome());
      };
      listeners = handlers(settle);
      for (const [name, fn] of Object.entries(listeners)) this.client.on(name, fn);
      send();
    });
  }

  /** QUIT with `reason`; resolves when the socket is closed (bounded). */
  async quit(reason: string): Promise<void> {
    if (this.closed) return;
    this.channels.clear();
    this.client.quit(oneLine(reason));
    const timer = setTimeout(() => this.shutdown(), 3_000);
    await this.closedPromise;
    clearTimeout(timer);
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.client.connection.end();
    } catch {
      /* already closed */
    }
    const left = [...this.channels.values()].filter((c) => c.joined);
    this.channels.clear();
    for (const [, pending] of this.pendingJoins) pending.reject(new GatewayError('remote-server-not-found', `The connection to ${this.server} was lost.`));
    for (const channel of left) this.sink.roomLeft(channel.address, `The connection to ${this.server} was lost.`);
    if (left.length > 0) this.sink.connectionState('failed', `the connection to ${this.where} was lost`);
    this.markClosed();
    this.onGone(this);
  }

  private message(event: { tags?: Record<string, string>; message: string; time?: number }, extra: Partial<IncomingMessage>): IncomingMessage {
    return {
      id: event.tags?.msgid ?? randomUUID(),
      body: fromIrc(event.message),
      ...(event.time ? { timestamp: new Date(event.time) } : {}),
      ...extra,
    };
  }

  private listen(): void {
    const client = this.client;
    const channelOf = (name: string | undefined) => (name ? this.channels.get(ircLower(name)) : undefined);

    client.on('join', (event: { nick: string; channel: string }) => {
      const state = channelOf(event.channel);
      if (!state) return;
      if (this.isMe(event.nick)) {
        state.joined = true;
        return;
      }
      const member: ChannelMember = { nick: event.nick, modes: new Set() };
      state.members.set(ircLower(event.nick), member);
      if (!this.pendingJoins.has(ircLower(state.name))) this.sink.participantJoined(state.address, participantOf(member));
    });

    client.on('userlist', (event: { channel: string; users: Array<{ nick: string; modes: string[] }> }) => {
      const lower = ircLower(event.channel);
      const state = this.channels.get(lower);
      if (!state) return;
      state.members.clear();
      for (const user of event.users) {
        if (this.isMe(user.nick)) state.ownModes = new Set(user.modes);
        else state.members.set(ircLower(user.nick), { nick: user.nick, modes: new Set(user.modes) });
      }
      if (state.joined) this.pendingJoins.get(lower)?.resolve();
    });

    client.on('topic', (event: { channel: string; topic: string; nick?: string; time?: number }) => {
      const lower = ircLower(event.channel);
      const state = this.channels.get(lower);
      if (!state) return;
      if (this.pendingJoins.has(lower)) {
        if (event.topic) this.pendingTopics.set(lower, fromIrc(event.topic));
        return;
      }
      // 332 outside a join answers a TOPIC query: not a change.
      if (event.nick === undefined) return;
      this.sink.subjectChanged(state.address, { text: fromIrc(event.topic), by: event.nick, ...(event.time ? { at: new Date(event.time) } : {}) });
    });

    client.on('irc error', (event: { error: string; channel?: string; reason?: string }) => {
      const pending = event.channel ? this.pendingJoins.get(ircLower(event.channel)) : undefined;
      const known = JOIN_ERRORS[event.error];
      if (pending && known) pending.reject(new GatewayError(known.condition, `Cannot join ${event.channel}: ${known.text}${event.reason ? ` (${event.reason})` : ''}.`));
    });

    client.on('unknown command', (command: { command: string; params: string[] }) => {
      const known = JOIN_NUMERICS[command.command];
      const channel = command.params[1];
      const pending = channel ? this.pendingJoins.get(ircLower(channel)) : undefined;
      if (known && pending) pending.reject(new GatewayError(known.condition, `Cannot join ${channel}: ${known.text}.`));
    });

    client.on('part', (event: { nick: string; channel: string; message: string }) => {
      const state = channelOf(event.channel);
      if (!state) return;
      if (this.isMe(event.nick)) {
        this.channels.delete(ircLower(event.channel));
        if (!state.leaving) this.sink.roomLeft(state.address, `You left ${state.name}${event.message ? `: ${event.message}` : ''}.`);
        return;
      }
      state.members.delete(ircLower(event.nick));
      this.sink.participantLeft(state.address, event.nick, event.message || undefined);
    });

    client.on('kick', (event: { kicked: string; nick: string; channel: string; message: string }) => {
      const state = channelOf(event.channel);
      if (!state) return;
      if (this.isMe(event.kicked)) this.channels.delete(ircLower(event.channel));
      else state.members.delete(ircLower(event.kicked));
      this.sink.kicked(state.address, event.kicked, event.nick, event.message || undefined);
    });

    client.on('quit', (event: { nick: string; message: string }) => {
      const lower = ircLower(event.nick);
      for (const state of this.channels.values()) {
        if (state.members.delete(lower)) this.sink.participantLeft(state.address, event.nick, event.message || undefined);
      }
    });

    client.on('nick', (event: { nick: string; new_nick: string }) => {
      const me = this.isMe(event.nick);
      if (me) this.nick = event.new_nick;
      const lower = ircLower(event.nick);
      for (const state of this.channels.values()) {
        if (!state.joined) continue;
        const member = state.members.get(lower);
        if (member) {
          state.members.delete(lower);
          member.nick = event.new_nick;
          state.members.set(ircLower(event.new_nick), member);
        }
        if (me || member) this.sink.nickChanged(state.address, event.nick, event.new_nick);
      }
    });

    client.on('mode', (event: { target: string; modes: Array<{ mode: string; param?: string }> }) => {
      const state = channelOf(event.target);
      if (!state?.joined) return;
      const prefixModes = this.prefixModes();
      for (const change of event.modes) {
        const letter = change.mode[1];
        if (!letter || !change.param || !prefixModes.has(letter)) continue;
        const adding = change.mode[0] === '+';
        if (this.isMe(change.param)) {
          if (adding) state.ownModes.add(letter);
          else state.ownModes.delete(letter);
          continue;
        }
        const member = state.members.get(ircLower(change.param));
        if (!member) continue;
        if (adding) member.modes.add(letter);
        else member.modes.delete(letter);
        this.sink.participantChanged(state.address, participantOf(member));
      }
    });

    const onMessage =
      (kind: 'privmsg' | 'action' | 'notice') =>
      (event: { nick: string; target: string; message: string; from_server?: boolean; tags?: Record<string, string>; time?: number }) => {
        const extra: Partial<IncomingMessage> = kind === 'action' ? { action: true } : kind === 'notice' ? { notice: true } : {};
        if (event.from_server || !event.nick) {
          this.sink.notice({ kind: 'server', id: this.server }, fromIrc(event.message));
          return;
        }
        const state = channelOf(event.target.replace(/^[~&@%+]+(?=[#&+!])/, ''));
        if (state?.joined) {
          this.sink.roomMessage(state.address, event.nick, this.message(event, extra));
        } else if (this.isMe(event.target)) {
          this.sink.directMessage(contactAddress(event.nick, this.server), this.message(event, extra));
        }
      };
    client.on('privmsg', onMessage('privmsg'));
    client.on('action', onMessage('action'));
    client.on('notice', onMessage('notice'));
  }
}

/** IRC text as the XMPP side shows it: formatting as XEP-0393, nothing XML cannot carry. */
function fromIrc(text: string): string {
  return ircToStyling(text).replace(NOT_XML, '');
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\0]+/g, ' ').trim();
}

function describeSocketError(err: (Error & { code?: string }) | undefined, where: string): string {
  if (!err) return `${where} closed the connection`;
  const code = err.code ?? '';
  if (/CERT|ERR_TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(code)) return `TLS certificate rejected: ${err.message}`;
  if (code === 'ECONNREFUSED') return `${where} refused the connection`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${where}: host not found`;
  return `${where}: ${err.message}`;
}
