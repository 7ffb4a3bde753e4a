// One irc-framework connection of one XMPP user to one IRC server: connect and
// register, join/part with the server's answers turned into results or
// GatewayErrors, and what happens on the server pushed into the EventSink.
//
// Decisions:
// - irc-framework parses every line; every line ponte writes is built by
//   safety.ts (ircLine), which refuses CR, LF and NUL in any parameter and a
//   space in a middle one, so no input can smuggle a second command. Names
//   (channel, nick, key) are refused with a text naming them; free text
//   (topic, reasons) goes out as one line (line breaks become spaces).
// - Nick in use while registering: the alternatives of nicks.ts (nick_,
//   nick__, ... by default; networks.irc.nickSuffix), 5 tries, then failure.
// - Roles from channel prefixes: q (~) owner, a (&) admin, o (@) and h (%)
//   moderator, v (+) and none participant; in a moderated (+m) channel,
//   none is visitor (they cannot speak). channel-ops.ts tracks +m.
// - A connection lost after registration is re-established with backoff
//   (reconnect.ts), through the per-server gate; the channels are rejoined
//   with their keys and the difference in members shown as joins and leaves.
//   The user stays in the rooms meanwhile (a "reconnecting" state, no
//   unavailable presence). Only when every attempt failed are the rooms left
//   (roomLeft) and the state "failed". The first connection is not retried:
//   the join that opened it fails at once with the reason.
// - Every line ponte writes goes through one SendQueue per connection, paced
//   by a TokenBucket. While the connection is down, messages wait, in order;
//   after the rejoin they are written exactly once, or bounced with
//   remote-server-timeout when the reconnect finally fails (or the channel
//   could not be rejoined). A line counts as sent once written to the socket.
// - IRC has no message ids (without message-tags): every line gets a UUID.
import { randomUUID } from 'node:crypto';
import { Client } from 'irc-framework';
import { GatewayError, type ErrorCondition } from '../../core/errors.js';
import type { ChatState, IncomingMessage, OutgoingMessage } from '../../core/message.js';
import type { Logger } from '../../log.js';
import type { Affiliation, EventSink, NetworkAddress, Participant, Role, Subject } from '../types.js';
import { contactAddress, ircLower, roomAddress } from './addresses.js';
import { afterRegistration, clientOptions, watchConnection } from './auth.js';
import { ircToStyling, stylingToIrc } from './format.js';
import { chatStateOf, EchoWaiters, EXTRA_CAPS, ReactionBook, typingOf, TypingThrottle } from './ircv3.js';
import { isNetsplit, SplitHold, splitSummary } from './netsplit.js';
import { backoffDelay, type BackoffOptions, type ConnectGate } from './reconnect.js';
import type { ConnectionProfile } from './settings.js';
import { IRC_LINE_MAX_BYTES, lineBudget, splitLine, splitMessage, utf8Bytes } from './split.js';
import { SendQueue, TokenBucket } from './throttle.js';
import { ChannelOps } from './channel-ops.js';
import { answerCtcp } from './ctcp.js';
import { alternativeNick, DEFAULT_NICK_SUFFIX } from './nicks.js';
import { Ircv3Batches } from './multiline-and-history.js';
import { assertIrcParam, ircLine, ircSafe } from './safety.js';

/** How connections to IRC servers behave: the same for every user (from networks.irc). */
export interface ConnectionPolicy {
  reconnect: BackoffOptions & { attempts: number };
  throttle: { burst: number; linesPerSecond: number };
  gate: ConnectGate;
  /** How long members who left in a netsplit stay out of sight, waiting for the netjoin. */
  netsplitHoldMs: number;
}

/** A message (one or more lines) waiting to be written. */
interface Outgoing {
  line: string;
  /** Lowercased channel the line goes to, if any: a channel not rejoined bounces it. */
  channel?: string;
  /** Lowercased target whose echo (echo-message) completes this line, and its label. */
  echo?: { target: string; label?: string };
  echoTimer?: NodeJS.Timeout;
  /** Position of the line in its message (ids come back in line order). */
  index: number;
  message: { remaining: number; settled: boolean; ids: string[]; resolve(ids: string[]): void; reject(err: GatewayError): void };
}

/** A line to send: text built by irc-framework, and whether its echo is awaited. */
type OutLine = string | { line: string; echoTarget?: string; label?: string };

/** How long an echo may take before the line counts as sent anyway. */
const ECHO_TIMEOUT_MS = 20_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- irc-framework events carry untyped payloads
type Listener = (...args: any[]) => void;

export interface ChannelMember {
  nick: string;
  /** Prefix mode letters: q, a, o, h, v. */
  modes: Set<string>;
  /** The away message (away-notify), when the member is away. */
  away?: string;
  /** The services account (extended-join, account-notify); undefined when not logged in or not told. */
  account?: string;
  /** The real name (extended-join's gecos); NAMES does not tell it. */
  realname?: string;
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
  /** The key it was joined with, for rejoins. */
  key?: string | undefined;
}

interface PendingJoin {
  resolve(): void;
  reject(err: GatewayError): void;
}

export interface JoinResult {
  nick: string;
  members: ChannelMember[];
  ownModes: Set<string>;
  subject?: Subject;
  /** The server's recent history of the channel (IRCv3 chathistory), oldest first. */
  history?: Array<{ nick: string; message: IncomingMessage }>;
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

export function roleOf(modes: ReadonlySet<string>, moderated = false): { role: Role; affiliation: Affiliation } {
  if (modes.has('q')) return { role: 'moderator', affiliation: 'owner' };
  if (modes.has('a')) return { role: 'moderator', affiliation: 'admin' };
  if (modes.has('o') || modes.has('h')) return { role: 'moderator', affiliation: 'none' };
  if (moderated && !modes.has('v')) return { role: 'visitor', affiliation: 'none' };
  return { role: 'participant', affiliation: 'none' };
}

export function participantOf(member: ChannelMember): Participant {
  return { nick: member.nick, ...roleOf(member.modes), ...awayOf(member) };
}

/** Always both keys: an update without them would keep the show of before (the XMPP side merges). */
function awayOf(member: ChannelMember): Pick<Participant, 'show' | 'status'> {
  return member.away !== undefined ? { show: 'away', status: member.away } : { show: undefined, status: undefined };
}

/** The member as a participant of a channel that is moderated (+m) or not. */
export function participantIn(member: ChannelMember, moderated: boolean): Participant {
  return { nick: member.nick, ...roleOf(member.modes, moderated), ...awayOf(member) };
}

type Phase = 'new' | 'connecting' | 'online' | 'reconnecting' | 'quitting' | 'closed';

/** One registration attempt in flight. */
interface Attempt {
  resolve(): void;
  reject(err: GatewayError): void;
  release(): void;
  timer: NodeJS.Timeout;
  nickTries: number;
  /** The nick asked for: the user's current one (after a /nick, a reconnect keeps it). */
  nick: string;
}

export class IrcConnection {
  readonly client: Client;
  readonly channels = new Map<string, ChannelState>();
  nick: string;
  private readonly pendingJoins = new Map<string, PendingJoin>();
  private phase: Phase = 'new';
  private firstConnect: Promise<void> | null = null;
  private attempt: Attempt | null = null;
  private socketLive = false;
  private lastSocketError: (Error & { code?: string }) | undefined;
  private readonly outbox: SendQueue<Outgoing>;
  /** The flood control of this connection: the user's for this server, else the gateway's. */
  private readonly throttle: { burst: number; linesPerSecond: number };
  private readonly echoes = new EchoWaiters<Outgoing>();
  private readonly reactions = new ReactionBook();
  private readonly typing = new TypingThrottle();
  private labels = 0;
  private readonly splits: SplitHold<ChannelMember>;
  /** Lines accepted while the connection is down, in order. */
  private held: Outgoing[] = [];
  private wake: (() => void) | null = null;
  private closedPromise: Promise<void>;
  private markClosed!: () => void;
  private socketClosed: Array<() => void> = [];
  /** Told when the server took a channel from the user (KICK, a PART not asked for, a failed rejoin). */
  onChannelLost: (channel: string) => void = () => undefined;

  constructor(
    readonly server: string,
    readonly endpoint: ConnectionProfile,
    requestedNick: string,
    private readonly sink: EventSink,
    private readonly log: Logger,
    private readonly policy: ConnectionPolicy,
    private readonly onGone: (connection: IrcConnection) => void,
  ) {
    this.nick = requestedNick;
    this.client = new Client();
    this.closedPromise = new Promise((resolve) => {
      this.markClosed = resolve;
    });
    // The user's own flood control for this server (settings), else the gateway's.
    const throttle = endpoint.throttle ? { burst: endpoint.throttle.burst, linesPerSecond: endpoint.throttle.rate } : policy.throttle;
    this.throttle = throttle;
    const bucket = new TokenBucket({ capacity: throttle.burst, refillPerSecond: throttle.linesPerSecond });
    this.outbox = new SendQueue<Outgoing>(bucket, (item) => this.write(item), undefined, (err) =>
      this.log.warn({ server: this.server, err: (err as Error).message }, 'IRC line not written'),
    );
    this.splits = new SplitHold<ChannelMember>(policy.netsplitHoldMs, (channel, members, reason) => {
      const state = this.channels.get(channel);
      if (!state?.joined) return;
      const nicks = members.map((member) => member.nick);
      // One line that says what happened, and the presences (netsplit.ts).
      this.sink.notice(state.address, splitSummary(nicks, reason));
      if (this.sink.participantsLeft) this.sink.participantsLeft(state.address, nicks, reason);
      else for (const nick of nicks) this.sink.participantLeft(state.address, nick, reason);
    });
    this.client.requestCap([...EXTRA_CAPS]);
    this.ircv3 = new Ircv3Batches(this.client, ircLower, (text) => this.sink.notice({ kind: 'server', id: this.server }, text), this.log);
    this.listen();
    // Before listenForRegistration: SASL and PASS refusals get their own condition.
    watchConnection(this.client, endpoint, (condition, detail) => this.failAttempt(new GatewayError(condition, detail)));
    this.listenForRegistration();
  }

  /** Whether the server acknowledged an IRCv3 capability on this connection. */
  hasCap(name: string): boolean {
    return this.client.network.cap.isEnabled(name);
  }

  /** IRCv3 chathistory on join and draft/multiline (multiline-and-history.ts). */
  private readonly ircv3: Ircv3Batches;

  get where(): string {
    return `${this.endpoint.host}:${this.endpoint.port}${this.endpoint.tls ? ' (TLS)' : ' (plain text)'}`;
  }

  /** Usable: connected, or connecting, or re-establishing (messages then wait). */
  get open(): boolean {
    return this.phase !== 'closed' && this.phase !== 'quitting';
  }

  get online(): boolean {
    return this.phase === 'online';
  }

  /** Connects and registers (once; later callers share the attempt). Not retried: the caller hears why. */
  connect(): Promise<void> {
    this.firstConnect ??= (async () => {
      this.phase = 'connecting';
      this.sink.connectionState('connecting', `connecting to ${this.where}`);
      try {
        await this.register();
      } catch (err) {
        const error = err instanceof GatewayError ? err : new GatewayError('remote-server-not-found', String(err));
        this.sink.connectionState('failed', error.message);
        this.shutdown();
        throw new GatewayError(error.condition, `Cannot connect to ${this.server}: ${error.message}.`);
      }
      this.phase = 'online';
      this.sink.connectionState('online', `connected to ${this.where} as ${this.nick}`);
    })();
    return this.firstConnect;
  }

  /** One registration: waits for a slot at the gate, then for 001 (or the reason it failed). */
  private async register(): Promise<void> {
    await this.socketGone();
    // The user's profile (auth.ts), with the nick of now: a reconnection asks for the current one.
    // Built first: stored settings that IRC cannot carry fail here, before a slot is taken.
    const options = clientOptions({ ...this.endpoint, nick: this.nick });
    const release = await this.policy.gate.acquire(this.server);
    if (this.phase === 'closed' || this.phase === 'quitting') {
      release();
      throw new GatewayError('remote-server-not-found', 'the connection was closed');
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.failAttempt(new GatewayError('remote-server-timeout', `no answer from ${this.where} within ${CONNECT_TIMEOUT_MS / 1000} s`)),
        CONNECT_TIMEOUT_MS,
      );
      this.attempt = { resolve, reject, release, timer, nickTries: 0, nick: this.nick };
      this.lastSocketError = undefined;
      this.socketLive = true;
      this.client.connect(options);
    });
  }

  /** Ends the attempt in flight with an error and drops its socket. */
  private failAttempt(err: GatewayError): void {
    const attempt = this.attempt;
    if (!attempt) return;
    this.attempt = null;
    clearTimeout(attempt.timer);
    attempt.release();
    this.endSocket();
    attempt.reject(err);
  }

  private endSocket(): void {
    try {
      this.client.connection.end();
    } catch {
      /* already closed */
    }
  }

  /** Resolves once the previous socket is closed (bounded), so its late 'close' cannot end a new attempt. */
  private async socketGone(): Promise<void> {
    if (!this.socketLive) return;
    this.endSocket();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3_000);
      this.socketClosed.push(() => (clearTimeout(timer), resolve()));
    });
    this.socketLive = false;
  }

  private listenForRegistration(): void {
    this.client.on('registered', (event: { nick: string }) => {
      const attempt = this.attempt;
      if (!attempt) return;
      this.attempt = null;
      clearTimeout(attempt.timer);
      attempt.release();
      this.nick = event.nick;
      // NickServ, after-connect commands (auth.ts); on every (re)connection.
      void afterRegistration(this.client, this.endpoint, this.log).then(() =>
        this.socketLive ? attempt.resolve() : attempt.reject(new GatewayError('remote-server-not-found', `${this.where} closed the connection right after registering`)),
      );
    });
    this.client.on('nick in use', (event: { nick: string }) => {
      const attempt = this.attempt;
      if (!attempt) return;
      attempt.nickTries += 1;
      if (attempt.nickTries > NICK_RETRIES) {
        return this.failAttempt(new GatewayError('conflict', `the nickname ${attempt.nick} and ${NICK_RETRIES} alternatives are in use`));
      }
      try {
        this.client.raw(ircLine('NICK', [alternativeNick(attempt.nick, attempt.nickTries, this.nickSuffix)]));
      } catch (err) {
        return this.failAttempt(err as GatewayError);
      }
      this.log.debug({ server: this.server, taken: event.nick }, 'IRC nick in use, trying another');
    });
    this.client.on('nick invalid', (event: { nick: string; reason: string }) => {
      this.failAttempt(new GatewayError('jid-malformed', `the server refused the nickname ${event.nick}: ${event.reason}`));
    });
    this.client.on('irc error', (event: { error: string; reason?: string }) => {
      if (!this.attempt) return;
      if (event.error === 'password_mismatch') this.failAttempt(new GatewayError('not-authorized', 'the server password was refused'));
      else if (event.error === 'banned_from_network') this.failAttempt(new GatewayError('forbidden', `banned from the network: ${event.reason ?? ''}`));
      else if (event.error === 'irc') this.failAttempt(new GatewayError('remote-server-not-found', `the server closed the connection: ${event.reason ?? ''}`));
    });
    this.client.on('socket close', (err?: Error & { code?: string }) => {
      if (err) this.lastSocketError = err;
    });
    this.client.on('close', () => {
      this.socketLive = false;
      for (const notify of this.socketClosed.splice(0)) notify();
      if (this.attempt) return this.failAttempt(new GatewayError('remote-server-not-found', describeSocketError(this.lastSocketError, this.where)));
      if (this.phase === 'online') void this.reconnect(describeSocketError(this.lastSocketError, this.where));
      else if (this.phase === 'quitting') this.shutdown();
    });
  }

  /** The connection was lost: hold what is sent, try again with backoff, rejoin, then send what waited. */
  private async reconnect(why: string): Promise<void> {
    this.phase = 'reconnecting';
    this.held = [...this.outbox.clear(), ...this.held];
    // The rejoin's NAMES will tell who is there: splits held from before are moot.
    this.splits.forget();
    // Lines written but not echoed yet may or may not have reached the server: never sent twice.
    for (const item of this.echoes.all()) {
      this.echoes.drop(item);
      clearTimeout(item.echoTimer);
      lineDone(item, randomUUID());
    }
    for (const state of this.channels.values()) state.joined = false;
    for (const [, pending] of this.pendingJoins) pending.reject(new GatewayError('remote-server-not-found', `The connection to ${this.server} was lost.`));
    this.log.info({ server: this.server, why }, 'IRC connection lost, reconnecting');
    let lastError = why;
    const { attempts } = this.policy.reconnect;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const delay = backoffDelay(attempt, this.policy.reconnect);
      this.sink.connectionState('reconnecting', `${lastError}; reconnecting to ${this.server} in ${(delay / 1000).toFixed(1)} s (attempt ${attempt} of ${attempts})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => (clearTimeout(timer), resolve());
      });
      this.wake = null;
      if (this.phase !== 'reconnecting') return;
      const nickBefore = this.nick;
      try {
        await this.register();
      } catch (err) {
        if (this.phase !== 'reconnecting') return;
        lastError = err instanceof GatewayError ? err.message : String(err);
        // Refused credentials, a ban, or stored settings IRC cannot carry: trying again changes nothing.
        if (err instanceof GatewayError && ['not-authorized', 'forbidden', 'not-acceptable'].includes(err.condition)) break;
        continue;
      }
      if (this.phase !== 'reconnecting') return;
      this.phase = 'online';
      this.sink.connectionState('online', `reconnected to ${this.where} as ${this.nick}`);
      // The nick was taken meanwhile (a ghost of ours, say): the rooms learn the one we got.
      if (ircLower(nickBefore) !== ircLower(this.nick)) {
        for (const state of this.channels.values()) this.sink.nickChanged(state.address, nickBefore, this.nick);
      }
      await this.rejoinAll();
      this.release();
      return;
    }
    this.giveUp(`The connection to ${this.server} was lost and could not be re-established (${lastError})`);
  }

  /** After a reconnect: every channel again, with the change in members shown as joins and leaves. */
  private async rejoinAll(): Promise<void> {
    const states = [...this.channels.values()];
    await Promise.all(
      states.map(async (state) => {
        const before = new Map(state.members);
        const ownBefore = new Set(state.ownModes);
        try {
          await this.sendJoin(state, state.key);
        } catch (err) {
          if (this.channels.get(ircLower(state.name)) === state) this.channels.delete(ircLower(state.name));
          this.sink.roomLeft(state.address, `Could not rejoin ${state.name} after reconnecting: ${err instanceof GatewayError ? err.message : String(err)}`);
          this.onChannelLost(state.name);
          return;
        }
        this.pendingTopics.delete(ircLower(state.name));
        for (const [lower, member] of before) {
          if (!state.members.has(lower)) this.sink.participantLeft(state.address, member.nick, 'left while the connection was re-established');
        }
        for (const [lower, member] of state.members) {
          const old = before.get(lower);
          if (!old) this.sink.participantJoined(state.address, participantOf(member));
          else if (!sameModes(old.modes, member.modes)) this.sink.participantChanged(state.address, participantOf(member));
        }
        if (!sameModes(ownBefore, state.ownModes)) this.sink.participantJoined(state.address, { nick: this.nick, ...roleOf(state.ownModes) });
      }),
    );
  }

  /** Writes what waited during the reconnect; lines for channels no longer joined bounce. */
  private release(): void {
    const waiting = this.held;
    this.held = [];
    for (const item of waiting) {
      if (item.channel !== undefined && !this.channels.get(item.channel)?.joined) {
        failMessage(item, new GatewayError('remote-server-timeout', `Not delivered: ${item.channel} could not be rejoined on ${this.server}.`));
        continue;
      }
      this.outbox.push(item);
    }
  }

  /** Every attempt failed: the rooms are left, waiting messages bounce. */
  private giveUp(reason: string): void {
    this.log.warn({ server: this.server, reason }, 'IRC reconnect failed, giving up');
    this.sink.connectionState('failed', reason);
    this.shutdown(reason);
  }

  /**
   * Hands lines to the queue; they are written when the bucket and the
   * connection allow. Resolves with one id per line: the server's msgid from
   * the echo where echo-message is on, else a fresh UUID.
   */
  private enqueue(lines: OutLine[], channel?: string): Promise<string[]> {
    if (!this.open) return Promise.reject(new GatewayError('recipient-unavailable', `The connection to ${this.server} is closed.`));
    if (lines.length === 0) return Promise.resolve([]);
    try {
      for (const out of lines) for (const line of (typeof out === 'string' ? out : out.line).split('\r\n')) checkLineLength(line);
    } catch (err) {
      return Promise.reject(err as GatewayError);
    }
    return new Promise<string[]>((resolve, reject) => {
      const message = { remaining: lines.length, settled: false, ids: [] as string[], resolve, reject };
      lines.forEach((out, index) => {
        const item: Outgoing =
          typeof out === 'string'
            ? { line: out, message, index }
            : { line: out.line, message, index, ...(out.echoTarget !== undefined ? { echo: { target: out.echoTarget, ...(out.label ? { label: out.label } : {}) } } : {}) };
        if (channel !== undefined) item.channel = channel;
        if (this.phase === 'online') this.outbox.push(item);
        else this.held.push(item);
      });
    });
  }

  /** For lines nobody waits on (PART, KICK, NICK): a bounce only goes to the log. */
  private enqueueQuietly(lines: OutLine[]): void {
    this.enqueue(lines).catch((err: Error) => this.log.debug({ server: this.server, err: err.message }, 'IRC line not sent'));
  }

  /** The queue's writer: to the socket when online, else back to waiting (never lost, never twice). */
  private write(item: Outgoing): void {
    if (this.phase !== 'online' && this.phase !== 'quitting') {
      this.held.push(item);
      return;
    }
    this.client.raw(item.line);
    if (item.echo && this.hasCap('echo-message')) {
      // Sent, but done only when the server echoes it (or refuses it).
      this.echoes.add(item.echo.target, item, item.echo.label);
      item.echoTimer = setTimeout(() => {
        this.echoes.drop(item);
        lineDone(item, randomUUID());
      }, ECHO_TIMEOUT_MS);
      item.echoTimer.unref();
      return;
    }
    lineDone(item, randomUUID());
  }

  /** Our own line came back (echo-message): it is done, with the server's id. */
  private echoed(target: string, tags: Record<string, string> | undefined): boolean {
    // With labeled-response every line that waits for its echo is labelled, and the echo carries the
    // label: one without is of a line nobody waits for (typed as raw IRC, a CTCP answer), not the next in line.
    if (this.hasCap('labeled-response') && tags?.label === undefined) return false;
    const item = this.echoes.take(ircLower(target), tags?.label);
    if (!item) return false;
    clearTimeout(item.echoTimer);
    lineDone(item, tags?.msgid ?? randomUUID());
    return true;
  }

  /** The server refused a line to `target` (404, 401...): the message bounces with its words. */
  private refused(target: string, err: GatewayError): void {
    if (!this.hasCap('echo-message')) return;
    const item = this.echoes.take(ircLower(target));
    if (!item) return;
    clearTimeout(item.echoTimer);
    failMessage(item, err);
  }

  /** A line with IRCv3 tags (escaped by irc-framework), through the one guard of safety.ts. */
  private tagged(tags: Record<string, string>, command: string, ...params: string[]): string {
    return ircLine(command, params, tags);
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
    assertIrcParam(channel, 'channel name');
    if (key !== undefined) assertIrcParam(key, 'channel password');
    if (this.phase === 'reconnecting') {
      throw new GatewayError('remote-server-timeout', `The connection to ${this.server} is being re-established; join ${channel} again in a moment.`);
    }
    const state: ChannelState = existing ?? {
      name: channel,
      address: roomAddress(channel, this.server),
      members: new Map(),
      ownModes: new Set(),
      joined: false,
      leaving: false,
    };
    state.key = key;
    this.channels.set(lower, state);
    try {
      await this.sendJoin(state, key);
    } catch (err) {
      if (this.channels.get(lower) === state && !state.joined) this.channels.delete(lower);
      throw err;
    }
    const history = await this.ircv3.joinHistory(state.name, (line) => this.enqueue([line], lower).then(() => undefined));
    const result = this.snapshot(state);
    if (history.length > 0) result.history = history.map(({ kind, event }) => ({ nick: event.nick, message: this.message(event, kind === 'action' ? { action: true } : kind === 'notice' ? { notice: true } : {}) }));
    const topic = this.pendingTopics.get(lower);
    this.pendingTopics.delete(lower);
    if (topic) result.subject = { text: topic };
    return result;
  }

  /** Sends JOIN (or shares the one in flight) and resolves at the end of NAMES after our own JOIN. */
  private sendJoin(state: ChannelState, key: string | undefined): Promise<void> {
    const lower = ircLower(state.name);
    const pending = this.pendingJoins.get(lower);
    if (pending) {
      return new Promise<void>((resolve, reject) => {
        const { resolve: r0, reject: j0 } = pending;
        pending.resolve = () => (r0(), resolve());
        pending.reject = (err) => (j0(err), reject(err));
      });
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => entry.reject(new GatewayError('remote-server-timeout', `${state.name} on ${this.server} did not answer the join within ${JOIN_TIMEOUT_MS / 1000} s.`)),
        JOIN_TIMEOUT_MS,
      );
      const entry: PendingJoin = {
        resolve: () => {
          clearTimeout(timer);
          this.pendingJoins.delete(lower);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          this.pendingJoins.delete(lower);
          reject(err);
        },
      };
      this.pendingJoins.set(lower, entry);
      this.enqueue([ircLine('JOIN', key ? [state.name, key] : [state.name])]).catch((err: GatewayError) => entry.reject(err));
    });
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
    this.splits.forget(lower);
    if (this.phase !== 'online') return;
    // The user leaves whatever the reason's length: a reason over the line's budget is cut.
    const why = reason ? firstPiece(oneLine(reason), MAX_LINE_BYTES - utf8Bytes(`PART ${state.name} :`)) : '';
    this.enqueueQuietly([ircLine('PART', why ? [state.name, why] : [state.name])]);
  }

  /** What the channels shared with `nick` tell of them (the first that knows most), if any does. */
  memberProfile(nick: string): ChannelMember | undefined {
    const lower = ircLower(nick);
    let found: ChannelMember | undefined;
    for (const state of this.channels.values()) {
      const member = state.members.get(lower);
      if (member && (!found || (!found.account && member.account) || (!found.realname && member.realname))) found = member;
    }
    return found;
  }

  isIn(channel: string): boolean {
    const state = this.channels.get(ircLower(channel));
    // While reconnecting the user is still in the channel: messages wait for the rejoin.
    return state !== undefined && (state.joined || this.phase === 'reconnecting');
  }

  /**
   * PRIVMSG (or CTCP ACTION) lines to `target`; resolves with one id per line
   * once all are written (echoed, with echo-message). A reply carries
   * +draft/reply where the server has message-tags, else "nick: " in front.
   */
  async say(target: string, body: string, action: boolean, replyTo?: OutgoingMessage['replyTo']): Promise<string[]> {
    assertIrcParam(target, 'recipient');
    const tagsOk = this.hasCap('message-tags');
    let text = body;
    if (replyTo?.nick && !(tagsOk && replyTo.id) && !action && !text.startsWith(`${replyTo.nick}:`)) text = `${replyTo.nick}: ${text}`;
    const echo = this.hasCap('echo-message');
    const labelled = echo && this.hasCap('labeled-response');
    // Mentions kept: the nicks of the channel (or the person written to) are not read as styling.
    const nicks = [this.nick, target, ...[...(this.channels.get(ircLower(target))?.members.values() ?? [])].map((member) => member.nick)];
    const pieces = splitMessage(stylingToIrc(text, nicks), lineBudget({ nick: this.nick, target, action }));
    if (pieces.length === 0) throw new GatewayError('not-acceptable', 'An empty message cannot be sent to IRC.');
    const lines: OutLine[] = pieces.map((piece, i) => {
      const tags: Record<string, string> = {};
      const label = labelled ? `p${(this.labels = (this.labels + 1) % 1e9)}` : undefined;
      if (label) tags.label = label;
      if (i === 0 && tagsOk && replyTo?.id) tags['+draft/reply'] = replyTo.id;
      const line = this.tagged(tags, 'PRIVMSG', target, action ? `\x01ACTION ${piece}\x01` : piece);
      return { line, echoTarget: ircLower(target), ...(label ? { label } : {}) };
    });
    const channel = this.channels.has(ircLower(target)) ? ircLower(target) : undefined;
    // draft/multiline: one batch, written in one piece, one message on IRC (multiline.ts).
    const batchTags = { ...(labelled ? { label: `p${(this.labels = (this.labels + 1) % 1e9)}` } : {}), ...(tagsOk && replyTo?.id ? { '+draft/reply': replyTo.id } : {}) };
    const batch = this.ircv3.multilineBatch(target, stylingToIrc(text, nicks), { nick: this.nick, action }, batchTags);
    if (batch) return this.enqueue([{ line: batch.lines.join('\r\n'), echoTarget: ircLower(target), ...(batch.label ? { label: batch.label } : {}) }], channel);
    return this.enqueue(lines, channel);
  }

  /** XEP-0085 as IRCv3 +typing (a TAGMSG), where the server has message-tags; else nothing. */
  sendTyping(target: string, state: ChatState): void {
    if (!this.hasCap('message-tags') || this.phase !== 'online') return;
    assertIrcParam(target, 'recipient');
    const value = typingOf(state);
    if (!this.typing.allow(ircLower(target), value)) return;
    this.enqueueQuietly([this.tagged({ '+typing': value }, 'TAGMSG', target)]);
  }

  /** XEP-0444 as IRCv3 +draft/react: the emojis not sent yet, one TAGMSG each. */
  async react(target: string, messageId: string, emojis: string[]): Promise<void> {
    if (!this.hasCap('message-tags')) {
      throw new GatewayError('feature-not-implemented', `${this.server} does not carry reactions (no IRCv3 message-tags).`);
    }
    assertIrcParam(target, 'recipient');
    const fresh = this.reactions.toSend(messageId, this.nick, emojis);
    await this.enqueue(fresh.map((emoji) => this.tagged({ '+draft/react': emoji, '+draft/reply': messageId }, 'TAGMSG', target)));
  }

  /** Lines typed to the server JID, sent as they are (one per line; this is the user's own connection). */
  async rawLines(text: string): Promise<string[]> {
    const lines = text
      .split(/\r\n|\r|\n/)
      .map((line) => line.replace(/\0/g, '').trim())
      .filter((line) => line !== '');
    return this.enqueue(lines);
  }

  setTopic(channel: string, topic: string): Promise<unknown> {
    assertIrcParam(channel, 'channel name');
    const text = oneLine(topic);
    // Servers cut a topic over TOPICLEN without a word; refused here instead, so nothing is lost unseen.
    const limit = Math.min(this.isupportNumber('TOPICLEN') ?? Infinity, MAX_LINE_BYTES - Buffer.byteLength(`TOPIC ${channel} :`));
    const bytes = Buffer.byteLength(text);
    if (bytes > limit) throw new GatewayError('not-acceptable', `The topic is ${bytes} bytes; ${this.server} takes at most ${limit} bytes in ${channel}.`);
    return this.ops.setTopic(channel, text);
  }

  /** NICK; resolves with the nick the server confirmed. */
  changeNick(nick: string): Promise<string> {
    assertIrcParam(nick, 'nickname');
    return this.command<string>(
      (settle) => ({
        nick: (event: { nick: string; new_nick: string }) => {
          if (this.isMe(event.nick) || ircLower(event.new_nick) === ircLower(nick)) settle(() => event.new_nick);
        },
        'nick in use': () => settle(new GatewayError('conflict', `The nickname ${nick} is in use on ${this.server}.`)),
        'nick invalid': (event: { reason: string }) => settle(new GatewayError('not-acceptable', `${nick} is not a valid nickname on ${this.server}: ${event.reason}`)),
      }),
      () => this.enqueueQuietly([ircLine('NICK', [nick])]),
    );
  }

  kick(channel: string, nick: string, reason?: string): Promise<void> {
    assertIrcParam(channel, 'channel name');
    assertIrcParam(nick, 'nickname');
    const why = reason ? oneLine(reason) : '';
    const limit = Math.min(this.isupportNumber('KICKLEN') ?? Infinity, MAX_LINE_BYTES - Buffer.byteLength(`KICK ${channel} ${nick} :`));
    const bytes = Buffer.byteLength(why);
    if (bytes > limit) throw new GatewayError('not-acceptable', `The kick reason is ${bytes} bytes; ${this.server} takes at most ${limit} bytes.`);
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
        this.enqueueQuietly([ircLine('KICK', why ? [channel, nick, why] : [channel, nick])]);
      },
    );
  }

  /** Runs `send`, then settles on the first matching event among `handlers` (bounded). */
  private command<T>(
    handlers: (settle: (outcome: (() => T) | GatewayError) => void) => Record<string, Listener>,
    send: () => void,
  ): Promise<T> {
    if (this.phase !== 'online') {
      return Promise.reject(new GatewayError('recipient-unavailable', `The connection to ${this.server} is ${this.open ? 'being re-established; try again in a moment' : 'closed'}.`));
    }
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

  /** QUIT with `reason` (after what is queued); resolves when the socket is closed (bounded). */
  async quit(reason: string): Promise<void> {
    if (this.phase === 'closed') return;
    this.channels.clear();
    if (this.phase !== 'online') return this.shutdown(reason);
    this.phase = 'quitting';
    this.outbox.push({ line: ircLine('QUIT', [firstPiece(oneLine(reason), MAX_LINE_BYTES - 'QUIT :'.length) || 'bye']), index: 0, message: { remaining: 1, settled: false, ids: [], resolve() {}, reject() {} } });
    // Time for the lines queued before the QUIT to go out at the throttled pace, then 3 s for the server's answer.
    const drain = this.throttle.burst === -1 ? 0 : (this.outbox.pending() * 1000) / this.throttle.linesPerSecond;
    const timer = setTimeout(() => this.shutdown(reason), Math.min(drain, 60_000) + 3_000);
    await this.closedPromise;
    clearTimeout(timer);
  }

  /** The end: the socket is dropped, waiting messages bounce, channels still joined are left. */
  private shutdown(reason = `The connection to ${this.server} was closed.`): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.wake?.();
    if (this.attempt) this.failAttempt(new GatewayError('remote-server-not-found', reason));
    this.endSocket();
    const bounce = new GatewayError('remote-server-timeout', `Not delivered: ${reason}`);
    for (const item of [...this.outbox.clear(), ...this.held.splice(0)]) failMessage(item, bounce);
    const left = [...this.channels.values()];
    this.channels.clear();
    this.splits.forget();
    for (const [, pending] of this.pendingJoins) pending.reject(new GatewayError('remote-server-not-found', reason));
    for (const channel of left) this.sink.roomLeft(channel.address, reason);
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

    client.on('join', (event: { nick: string; channel: string; account?: string | false; gecos?: string }) => {
      const state = channelOf(event.channel);
      if (!state) return;
      if (this.isMe(event.nick)) {
        state.joined = true;
        return;
      }
      // extended-join: the account (false: none) and the real name come with the JOIN.
      const profile = this.hasCap('extended-join') ? { account: event.account || undefined, realname: event.gecos || undefined } : {};
      const back = this.splits.returned(ircLower(state.name), ircLower(event.nick));
      if (back) {
        // A netjoin: back from a split the user was never shown.
        state.members.set(ircLower(event.nick), Object.assign(back, profile));
        return;
      }
      const member: ChannelMember = { nick: event.nick, modes: new Set(), ...profile };
      state.members.set(ircLower(event.nick), member);
      if (!this.pendingJoins.has(ircLower(state.name))) this.sink.participantJoined(state.address, participantIn(member, this.ops.isModerated(state.name)));
    });

    client.on('userlist', (event: { channel: string; users: Array<{ nick: string; modes: string[] }> }) => {
      const lower = ircLower(event.channel);
      const state = this.channels.get(lower);
      if (!state) return;
      const before = new Map(state.members);
      state.members.clear();
      for (const user of event.users) {
        if (this.isMe(user.nick)) {
          state.ownModes = new Set(user.modes);
          continue;
        }
        // NAMES tells no account or real name: what a JOIN or ACCOUNT told stays.
        const known = before.get(ircLower(user.nick));
        const profile = known ? { account: known.account, realname: known.realname } : {};
        state.members.set(ircLower(user.nick), { nick: user.nick, modes: new Set(user.modes), ...profile });
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
        if (!state.leaving) {
          this.sink.roomLeft(state.address, `You left ${state.name}${event.message ? `: ${event.message}` : ''}.`);
          this.onChannelLost(state.name);
        }
        return;
      }
      state.members.delete(ircLower(event.nick));
      this.sink.participantLeft(state.address, event.nick, event.message || undefined);
    });

    client.on('kick', (event: { kicked: string; nick: string; channel: string; message: string }) => {
      const state = channelOf(event.channel);
      if (!state) return;
      const me = this.isMe(event.kicked);
      if (me) this.channels.delete(ircLower(event.channel));
      else state.members.delete(ircLower(event.kicked));
      const removed = this.ops.isBanKick(event.channel, event.kicked) ? this.sink.banned : this.sink.kicked;
      removed.call(this.sink, state.address, event.kicked, event.nick, event.message || undefined);
      if (me) this.onChannelLost(state.name);
    });

    client.on('quit', (event: { nick: string; message: string }) => {
      const lower = ircLower(event.nick);
      const split = isNetsplit(event.message);
      for (const [key, state] of this.channels) {
        const member = state.members.get(lower);
        if (!member) continue;
        state.members.delete(lower);
        // A netsplit: out of sight for a while, in case the link heals (netsplit.ts).
        if (split) this.splits.add(key, lower, member, event.message);
        else this.sink.participantLeft(state.address, event.nick, event.message || undefined);
      }
    });

    // account-notify: a member logged in (or out) of their services account.
    client.on('account', (event: { nick: string; account: string | false }) => {
      const lower = ircLower(event.nick);
      for (const state of this.channels.values()) {
        const member = state.members.get(lower);
        if (member) member.account = event.account || undefined;
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
          // The user's own role shows in their self-presence (and unlocks their client's moderation tools).
          this.sink.participantChanged(state.address, { nick: this.nick, ...roleOf(state.ownModes, this.ops.isModerated(state.name)) });
          continue;
        }
        const member = state.members.get(ircLower(change.param));
        if (!member) continue;
        if (adding) member.modes.add(letter);
        else member.modes.delete(letter);
        this.sink.participantChanged(state.address, participantIn(member, this.ops.isModerated(state.name)));
      }
    });

    const onMessage =
      (kind: 'privmsg' | 'action' | 'notice') =>
      (event: { nick: string; target: string; message: string; from_server?: boolean; tags?: Record<string, string>; time?: number }) => {
        if (this.ircv3.absorb(kind, event)) return;
        const extra: Partial<IncomingMessage> = kind === 'action' ? { action: true } : kind === 'notice' ? { notice: true } : {};
        if (event.from_server || !event.nick) {
          this.sink.notice({ kind: 'server', id: this.server }, fromIrc(event.message));
          return;
        }
        // Our own line echoed (echo-message): it completes what we sent, it is not news.
        if (this.isMe(event.nick) && this.hasCap('echo-message')) {
          this.echoed(event.target, event.tags);
          return;
        }
        const reply = event.tags?.['+draft/reply'];
        if (reply) extra.replyTo = { id: reply };
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

    // Client-only tags without a message: typing and reactions.
    client.on('tagmsg', (event: { nick?: string; target: string; tags?: Record<string, string> }) => {
      if (!event.nick || this.isMe(event.nick)) return;
      const state = channelOf(event.target);
      const conversation = state?.joined ? state.address : this.isMe(event.target) ? contactAddress(event.nick, this.server) : null;
      if (!conversation) return;
      const typing = chatStateOf(event.tags?.['+typing']);
      if (typing) this.sink.chatState(conversation, event.nick, typing);
      const emoji = event.tags?.['+draft/react'];
      const target = event.tags?.['+draft/reply'];
      if (emoji && target) this.sink.reacted(conversation, event.nick, target, this.reactions.add(target, event.nick, emoji));
    });

    // The server refused a line we sent: with echo-message its message bounces with the reason.
    client.on('irc error', (event: { error: string; channel?: string; nick?: string; reason?: string }) => {
      const reason = event.reason ? `: ${event.reason}` : '';
      if (event.error === 'cannot_send_to_channel' && event.channel) {
        this.refused(event.channel, new GatewayError('forbidden', `${event.channel} refused the message${reason}.`));
      } else if ((event.error === 'no_such_nick' || event.error === 'cannot_send_to_user') && event.nick) {
        this.refused(event.nick, new GatewayError(event.error === 'no_such_nick' ? 'item-not-found' : 'forbidden', `${event.nick} cannot receive the message${reason}.`));
      }
    });

    // away-notify (and 301 answers): members shown away with their message, or back.
    const setAway = (nick: string, away: string | undefined) => {
      const lower = ircLower(nick);
      for (const state of this.channels.values()) {
        const member = state.members.get(lower);
        if (!member || !state.joined || member.away === away) continue;
        if (away === undefined) delete member.away;
        else member.away = away;
        this.sink.participantChanged(state.address, participantOf(member));
      }
    };
    client.on('away', (event: { nick: string; message: string; self?: boolean }) => {
      if (!event.self && !this.isMe(event.nick)) setAway(event.nick, event.message || 'away');
    });
    client.on('back', (event: { nick: string; self?: boolean }) => {
      if (!event.self && !this.isMe(event.nick)) setAway(event.nick, undefined);
    });

    this.ops.listen();
    answerCtcp(client, () => this.nick, (a, b) => ircLower(a) === ircLower(b), (line) => this.sendLines([line]), this.log);
  }

  // Channel operations (bans, roles, invitations, mode notices): channel-ops.ts.
  private opsInstance: ChannelOps | undefined;
  get ops(): ChannelOps {
    return (this.opsInstance ??= new ChannelOps(this, this.sink, this.log));
  }

  /** A numeric ISUPPORT (005) value such as TOPICLEN, if the server gave one. */
  private isupportNumber(name: string): number | undefined {
    const value = Number((this.client.network.options as Record<string, unknown>)[name]);
    return Number.isInteger(value) && value > 0 ? value : undefined;
  }

  /** Lines (built with ircLine of safety.ts) through the flood-controlled queue; resolves once written. */
  sendLines(lines: string[]): Promise<void> {
    return this.enqueue(lines).then(() => undefined);
  }

  /** What is appended to a nick in use while registering (nicks.ts); the session sets it from the config. */
  nickSuffix = DEFAULT_NICK_SUFFIX;
}

/** IRC text as the XMPP side shows it: formatting as XEP-0393, nothing XML cannot carry. */
function fromIrc(text: string): string {
  return ircToStyling(text).replace(NOT_XML, '');
}

function lineDone(item: Outgoing, id: string): void {
  item.message.ids[item.index] = id;
  item.message.remaining -= 1;
  if (item.message.remaining === 0 && !item.message.settled) {
    item.message.settled = true;
    item.message.resolve(item.message.ids);
  }
}

function failMessage(item: Outgoing, err: GatewayError): void {
  if (item.message.settled) return;
  item.message.settled = true;
  item.message.reject(err);
}

function sameModes(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((mode) => b.has(mode));
}

/** Free text (a reason, a topic) as one IRC line: line breaks become spaces (safety.ts). */
function oneLine(text: string): string {
  return ircSafe(text).trim();
}

/**
 * The most bytes of one line ponte writes, without its IRCv3 tags and CR LF
 * (RFC 1459: 512 with CR LF). Over it a server cuts the line, or stops
 * reading the connection altogether (ngircd did): such a line is refused
 * before it is queued, never written.
 */
export const MAX_LINE_BYTES = IRC_LINE_MAX_BYTES - 2;

export function checkLineLength(line: string): void {
  const withoutTags = line.startsWith('@') ? line.slice(line.indexOf(' ') + 1) : line;
  const bytes = Buffer.byteLength(withoutTags);
  if (bytes > MAX_LINE_BYTES) {
    const command = withoutTags.split(' ', 1)[0]!.toUpperCase();
    throw new GatewayError('not-acceptable', `That ${command} would be ${bytes} bytes on the wire; IRC lines hold at most ${MAX_LINE_BYTES}.`);
  }
}

/** The part of `text` that fits in `bytes` UTF-8 bytes, cut as message bodies are (split.ts). */
function firstPiece(text: string, bytes: number): string {
  // Fewer than 4 bytes cannot be relied on to hold a code point: no reason then.
  return text === '' || bytes < 4 ? '' : (splitLine(text, bytes)[0]?.text ?? '');
}

function describeSocketError(err: (Error & { code?: string }) | undefined, where: string): string {
  if (!err) return `${where} closed the connection`;
  const code = err.code ?? '';
  if (/CERT|ERR_TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(code)) return `TLS certificate rejected: ${err.message}`;
  if (code === 'ECONNREFUSED') return `${where} refused the connection`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${where}: host not found`;
  return `${where}: ${err.message}`;
}
