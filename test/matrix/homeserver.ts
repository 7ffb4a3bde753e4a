// A Matrix homeserver stand-in for the tests: a real HTTP server on 127.0.0.1
// implementing the subset of the Client-Server API (spec v1.13) that ponte
// uses, with the spec's paths, JSON shapes and error codes. No homeserver can
// be installed on the build machines; ponte talks to this one exactly as to
// Synapse or Conduit, and nothing in src/ knows the difference.
//
// The test acts as the other Matrix users through `homeserver.as(userId)`
// (create rooms, send, react, invite, ...), which runs the same code as the
// HTTP handlers, and steers failures with `failNext` (rate limits, ...),
// `expireTokens`, and slowness with `holdNext`.
//
// Simplifications (not used by ponte, or not observable by it):
// - One server name; no federation, no room versions beyond "10" (redactions
//   carry `redacts` at the top level), no event signing or hashes.
// - History visibility is "shared": a member sees the whole room history.
// - One global stream counter orders everything; since tokens are "s<n>".
// - Filters: only `room.timeline.limit`, `room.state.lazy_load_members` and
//   `room.rooms` are honoured (inline JSON or a stored filter id).
// - Presence: PUT /presence sets it; /sync's set_presence (default online)
//   marks the polling user; nobody goes offline by a timeout.
// - Upload is only on /_matrix/media/v3/upload (the spec has no v1 upload).
//   Download behaves as a current homeserver that froze unauthenticated
//   media (spec v1.11, as Synapse does): /_matrix/client/v1/media needs the
//   access token (401 M_MISSING_TOKEN without), and /_matrix/media/v3 answers
//   404 M_NOT_FOUND for every file uploaded here (all of them came after the
//   freeze). `startHomeserver({ legacyMedia: true })` is a server from before
//   v1.11 instead: /versions lists up to v1.10, v1/media is unknown
//   (M_UNRECOGNIZED) and v3 serves files without a token.
import { createServer, type IncomingMessage as HttpRequest, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';

export const SPEC_VERSIONS = ['v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11', 'v1.12', 'v1.13'];

export interface ClientEvent {
  type: string;
  content: Record<string, unknown>;
  sender: string;
  event_id: string;
  origin_server_ts: number;
  room_id: string;
  state_key?: string;
  redacts?: string;
  unsigned?: Record<string, unknown>;
}

interface StoredEvent {
  event: ClientEvent;
  /** Position in the global stream. */
  pos: number;
  /** The device whose request created it (for unsigned.transaction_id). */
  txn?: { token: string; txnId: string };
}

interface Room {
  id: string;
  events: StoredEvent[];
  state: Map<string, StoredEvent>;
  /** user -> typing until (ms epoch). */
  typing: Map<string, number>;
  typingPos: number;
  receipts: Array<{ pos: number; eventId: string; userId: string; type: string; ts: number }>;
}

interface User {
  id: string;
  password: string;
  displayname?: string;
  avatar_url?: string;
  presence: { presence: string; status_msg?: string; last_active: number; pos: number };
  accountData: Map<string, { content: Record<string, unknown>; pos: number }>;
  filters: Map<string, Record<string, unknown>>;
}

interface Token {
  userId: string;
  deviceId: string;
  /** Set when the server expired the token: M_UNKNOWN_TOKEN with this soft_logout. */
  invalid?: { softLogout: boolean };
}

interface Media {
  data: Buffer;
  contentType: string;
  fileName?: string;
}

/** An error as the spec's standard error response. */
export class MatrixHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const forbidden = (why: string) => new MatrixHttpError(403, 'M_FORBIDDEN', why);
const notFound = (why: string) => new MatrixHttpError(404, 'M_NOT_FOUND', why);

/** A request held back until the test releases it (a slow homeserver, deterministically). */
interface Hold {
  method?: string;
  path: RegExp;
  /** Called when a matching request arrived. */
  arrived(): void;
  released: Promise<void>;
}

/** What a test injects: the next request matching gets this error instead of its answer. */
interface Failure {
  method?: string;
  path: RegExp;
  error: MatrixHttpError;
  times: number;
  /** Handle the request, then answer with the error (the answer was lost on the way). */
  afterHandling?: boolean;
}

/** Letters of both cases: ids must stay case-sensitive, as real ones are. */
function opaque(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}

const stateKey = (type: string, key: string) => `${type}\u0000${key}`;

/** The spec's redaction algorithm (room version 10): which content keys survive. */
const KEPT_CONTENT: Record<string, string[]> = {
  'm.room.member': ['membership', 'join_authorised_via_users_server'],
  'm.room.create': ['creator'],
  'm.room.join_rules': ['join_rule', 'allow'],
  'm.room.power_levels': ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'],
  'm.room.history_visibility': ['history_visibility'],
};

export interface HomeserverOptions {
  serverName?: string;
  /** A homeserver from before spec v1.11: no authenticated media, files on /_matrix/media/v3 without a token. */
  legacyMedia?: boolean;
}

/** The versions of a homeserver from before authenticated media (v1.11). */
export const LEGACY_SPEC_VERSIONS = SPEC_VERSIONS.slice(0, SPEC_VERSIONS.indexOf('v1.11'));

export class Homeserver {
  readonly serverName: string;
  readonly legacyMedia: boolean;
  private server: Server | null = null;
  private portValue = 0;
  private pos = 0;
  private readonly changed = new EventEmitter();
  readonly users = new Map<string, User>();
  readonly rooms = new Map<string, Room>();
  private readonly aliases = new Map<string, string>();
  private readonly tokens = new Map<string, Token>();
  private readonly txns = new Map<string, unknown>();
  private readonly media = new Map<string, Media>();
  private readonly failures: Failure[] = [];
  private readonly holds: Hold[] = [];
  /** Every request as "METHOD path" (no query), for assertions. */
  readonly requests: string[] = [];
  /** The body of every login request, for assertions (device names). */
  readonly logins: Array<Record<string, unknown>> = [];

  constructor(options: HomeserverOptions = {}) {
    this.serverName = options.serverName ?? 'localhost';
    this.legacyMedia = options.legacyMedia === true;
    this.changed.setMaxListeners(1000);
  }

  get port(): number {
    return this.portValue;
  }

  /** The client base URL, e.g. http://127.0.0.1:41234. */
  get url(): string {
    return `http://127.0.0.1:${this.portValue}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.portValue = (server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.changed.emit('change');
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // --- test controls -----------------------------------------------------------

  /** Creates a user (localpart) with a password; returns the user id. */
  registerUser(localpart: string, password: string, displayname?: string): string {
    const id = `@${localpart}:${this.serverName}`;
    if (this.users.has(id)) throw new Error(`${id} exists`);
    this.users.set(id, {
      id,
      password,
      ...(displayname ? { displayname } : {}),
      presence: { presence: 'offline', last_active: Date.now(), pos: 0 },
      accountData: new Map(),
      filters: new Map(),
    });
    return id;
  }

  /** An access token for a user, as if they logged in elsewhere. */
  issueToken(userId: string, deviceId = opaque(10)): string {
    const token = `syt_${opaque(32)}`;
    this.tokens.set(token, { userId, deviceId });
    return token;
  }

  /** Every token of the user becomes invalid: M_UNKNOWN_TOKEN with soft_logout as given. */
  expireTokens(userId: string, softLogout: boolean): void {
    for (const token of this.tokens.values()) if (token.userId === userId) token.invalid = { softLogout };
    this.changed.emit('change');
  }

  /** The next `times` requests matching get `error` (e.g. M_LIMIT_EXCEEDED). */
  failNext(match: { method?: string; path: RegExp; afterHandling?: boolean }, error: MatrixHttpError, times = 1): void {
    this.failures.push({ ...match, error, times });
  }

  /**
   * The next request matching waits (before it is handled) until the
   * returned function is called; `held()` resolves once one is waiting.
   */
  holdNext(match: { method?: string; path: RegExp }): { held: Promise<void>; release(): void } {
    let release!: () => void;
    let arrived!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = new Promise<void>((resolve) => (arrived = resolve));
    this.holds.push({ ...match, arrived, released });
    return { held, release };
  }

  /** Acts as a Matrix user, through the same code as the HTTP API. */
  as(userId: string): Actor {
    if (!this.users.has(userId)) throw new Error(`no user ${userId}`);
    return new Actor(this, userId);
  }

  room(roomId: string): Room {
    const room = this.rooms.get(roomId);
    if (!room) throw notFound(`Unknown room ${roomId}`);
    return room;
  }

  /** The room's events of a type, oldest first (for assertions). */
  eventsOf(roomId: string, type?: string): ClientEvent[] {
    return this.room(roomId)
      .events.filter((e) => !type || e.event.type === type)
      .map((e) => e.event);
  }

  /** Resolves when an event matching `match` is in the room (bounded). */
  async waitForEvent(roomId: string, match: (event: ClientEvent) => boolean, timeoutMs = 10_000, what = 'event'): Promise<ClientEvent> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.rooms.get(roomId)?.events.find((e) => match(e.event));
      if (found) return found.event;
      if (Date.now() > end) {
        const seen = (this.rooms.get(roomId)?.events ?? []).map((e) => `${e.event.type} ${JSON.stringify(e.event.content)}`).join('\n');
        throw new Error(`no ${what} in ${roomId} within ${timeoutMs} ms; events:\n${seen}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.changed.once('change', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  resolveAlias(alias: string): string | undefined {
    return this.aliases.get(alias);
  }

  membership(roomId: string, userId: string): string | undefined {
    const member = this.rooms.get(roomId)?.state.get(stateKey('m.room.member', userId));
    return member?.event.content.membership as string | undefined;
  }

  // --- the model ---------------------------------------------------------------

  private bump(): number {
    this.pos += 1;
    setImmediate(() => this.changed.emit('change'));
    return this.pos;
  }

  powerLevel(room: Room, userId: string): number {
    const levels = room.state.get(stateKey('m.room.power_levels', ''))?.event.content as
      | { users?: Record<string, number>; users_default?: number }
      | undefined;
    return levels?.users?.[userId] ?? levels?.users_default ?? 0;
  }

  private requiredLevel(room: Room, type: string, isState: boolean): number {
    const levels = room.state.get(stateKey('m.room.power_levels', ''))?.event.content as
      | { events?: Record<string, number>; state_default?: number; events_default?: number }
      | undefined;
    if (!levels) return 0;
    return levels.events?.[type] ?? (isState ? (levels.state_default ?? 50) : (levels.events_default ?? 0));
  }

  /** Appends an event after the authorization checks of its kind. */
  addEvent(
    roomId: string,
    sender: string,
    type: string,
    content: Record<string, unknown>,
    options: { stateKey?: string; redacts?: string; txn?: { token: string; txnId: string }; skipAuth?: boolean } = {},
  ): ClientEvent {
    const room = this.room(roomId);
    const isState = options.stateKey !== undefined;
    if (!options.skipAuth) {
      const membership = this.membership(roomId, sender);
      if (type === 'm.room.member') {
        this.authorizeMembership(room, sender, options.stateKey!, content);
      } else {
        if (membership !== 'join') throw forbidden(`User ${sender} not in room ${roomId}`);
        if (this.powerLevel(room, sender) < this.requiredLevel(room, type, isState)) {
          throw forbidden(`You don't have permission to post that to the room. user_level (${this.powerLevel(room, sender)}) < send_level (${this.requiredLevel(room, type, isState)})`);
        }
      }
    }
    const event: ClientEvent = {
      type,
      content,
      sender,
      event_id: `$${randomBytes(32).toString('base64url')}`,
      origin_server_ts: Date.now(),
      room_id: roomId,
      ...(isState ? { state_key: options.stateKey } : {}),
      ...(options.redacts ? { redacts: options.redacts } : {}),
      unsigned: {},
    };
    if (isState) {
      const previous = room.state.get(stateKey(type, options.stateKey!));
      if (previous) {
        event.unsigned = { prev_content: previous.event.content, replaces_state: previous.event.event_id };
      }
    }
    const stored: StoredEvent = { event, pos: this.bump(), ...(options.txn ? { txn: options.txn } : {}) };
    room.events.push(stored);
    if (isState) room.state.set(stateKey(type, options.stateKey!), stored);
    if (type === 'm.room.redaction' && options.redacts) this.applyRedaction(room, options.redacts, event);
    if (type === 'm.room.canonical_alias' && typeof content.alias === 'string') this.aliases.set(content.alias, roomId);
    return event;
  }

  private applyRedaction(room: Room, targetId: string, redaction: ClientEvent): void {
    const target = room.events.find((e) => e.event.event_id === targetId);
    if (!target) return;
    const kept = KEPT_CONTENT[target.event.type] ?? [];
    target.event.content = Object.fromEntries(Object.entries(target.event.content).filter(([key]) => kept.includes(key)));
    target.event.unsigned = { ...target.event.unsigned, redacted_because: redaction };
  }

  private authorizeMembership(room: Room, sender: string, target: string, content: Record<string, unknown>): void {
    const membership = content.membership;
    const current = this.membership(room.id, target);
    const senderMembership = this.membership(room.id, sender);
    const joinRule = room.state.get(stateKey('m.room.join_rules', ''))?.event.content.join_rule ?? 'invite';
    switch (membership) {
      case 'join':
        if (sender !== target) throw forbidden('Cannot force another user to join.');
        if (current === 'ban') throw forbidden(`You are banned from this room`);
        if (current !== 'join' && current !== 'invite' && joinRule !== 'public') throw forbidden('You are not invited to this room.');
        return;
      case 'invite':
        if (senderMembership !== 'join') throw forbidden(`${sender} is not in the room`);
        if (current === 'join') throw forbidden(`${target} is already in the room.`);
        if (current === 'ban') throw forbidden(`${target} is banned from the room`);
        return;
      case 'leave':
        if (sender === target) {
          if (current !== 'join' && current !== 'invite') throw forbidden(`${sender} is not in the room`);
          return;
        }
        if (this.powerLevel(room, sender) < 50) throw forbidden('You do not have permission to kick.');
        return;
      case 'ban':
        if (this.powerLevel(room, sender) < 50) throw forbidden('You do not have permission to ban.');
        return;
      default:
        throw new MatrixHttpError(400, 'M_BAD_JSON', `Unknown membership ${String(membership)}`);
    }
  }

  createRoom(creator: string, body: Record<string, unknown>): string {
    const roomId = `!${opaque(18)}:${this.serverName}`;
    const aliasName = typeof body.room_alias_name === 'string' ? body.room_alias_name : undefined;
    const alias = aliasName ? `#${aliasName}:${this.serverName}` : undefined;
    if (alias && this.aliases.has(alias)) throw new MatrixHttpError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
    this.rooms.set(roomId, { id: roomId, events: [], state: new Map(), typing: new Map(), typingPos: 0, receipts: [] });
    const add = (type: string, content: Record<string, unknown>, key = '') => this.addEvent(roomId, creator, type, content, { stateKey: key, skipAuth: true });
    const preset = body.preset ?? (body.visibility === 'public' ? 'public_chat' : 'private_chat');
    add('m.room.create', { creator, room_version: '10' });
    add('m.room.member', { membership: 'join', ...this.profileContent(creator) }, creator);
    add('m.room.power_levels', {
      users: { [creator]: 100 },
      users_default: 0,
      events: { 'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.history_visibility': 100, 'm.room.canonical_alias': 50, 'm.room.avatar': 50 },
      events_default: 0,
      state_default: 50,
      ban: 50,
      kick: 50,
      redact: 50,
      invite: 0,
    });
    add('m.room.join_rules', { join_rule: preset === 'public_chat' ? 'public' : 'invite' });
    add('m.room.history_visibility', { history_visibility: 'shared' });
    if (alias) {
      this.aliases.set(alias, roomId);
      add('m.room.canonical_alias', { alias });
    }
    if (typeof body.name === 'string') add('m.room.name', { name: body.name });
    if (typeof body.topic === 'string') add('m.room.topic', { topic: body.topic });
    for (const state of (body.initial_state as Array<{ type: string; state_key?: string; content: Record<string, unknown> }> | undefined) ?? []) {
      add(state.type, state.content, state.state_key ?? '');
    }
    for (const invitee of (body.invite as string[] | undefined) ?? []) {
      this.addEvent(roomId, creator, 'm.room.member', { membership: 'invite', ...(body.is_direct ? { is_direct: true } : {}), ...this.profileContent(invitee) }, { stateKey: invitee });
    }
    return roomId;
  }

  profileContent(userId: string): Record<string, unknown> {
    const user = this.users.get(userId);
    return {
      ...(user?.displayname ? { displayname: user.displayname } : {}),
      ...(user?.avatar_url ? { avatar_url: user.avatar_url } : {}),
    };
  }

  join(userId: string, roomIdOrAlias: string): string {
    let roomId = roomIdOrAlias;
    if (roomIdOrAlias.startsWith('#')) {
      const found = this.aliases.get(roomIdOrAlias);
      if (!found) throw notFound(`Room alias ${roomIdOrAlias} not found`);
      roomId = found;
    }
    if (!this.rooms.has(roomId)) throw notFound(`No known servers for room ${roomId}`);
    if (this.membership(roomId, userId) === 'join') return roomId;
    this.addEvent(roomId, userId, 'm.room.member', { membership: 'join', ...this.profileContent(userId) }, { stateKey: userId });
    return roomId;
  }

  setAccountData(userId: string, type: string, content: Record<string, unknown>): void {
    this.users.get(userId)!.accountData.set(type, { content, pos: this.bump() });
  }

  setPresence(userId: string, presence: string, statusMsg?: string): void {
    const user = this.users.get(userId)!;
    user.presence = { presence, ...(statusMsg ? { status_msg: statusMsg } : {}), last_active: Date.now(), pos: this.bump() };
  }

  setTyping(roomId: string, userId: string, typing: boolean, timeoutMs = 30_000): void {
    const room = this.room(roomId);
    if (this.membership(roomId, userId) !== 'join') throw forbidden(`User ${userId} not in room ${roomId}`);
    if (typing) room.typing.set(userId, Date.now() + timeoutMs);
    else room.typing.delete(userId);
    room.typingPos = this.bump();
  }

  addReceipt(roomId: string, userId: string, type: string, eventId: string): void {
    const room = this.room(roomId);
    if (this.membership(roomId, userId) !== 'join') throw forbidden(`User ${userId} not in room ${roomId}`);
    if (!room.events.some((e) => e.event.event_id === eventId)) throw notFound(`Unknown event ${eventId}`);
    room.receipts.push({ pos: this.bump(), eventId, userId, type, ts: Date.now() });
  }

  storeMedia(data: Buffer, contentType: string, fileName?: string): string {
    const id = opaque(24);
    this.media.set(id, { data, contentType, ...(fileName ? { fileName } : {}) });
    return `mxc://${this.serverName}/${id}`;
  }

  /** A stored file by its mxc:// URI, for assertions. */
  storedMedia(mxc: string): { data: Buffer; contentType: string } | undefined {
    const m = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc);
    return m && m[1] === this.serverName ? this.media.get(m[2]!) : undefined;
  }

  // --- HTTP --------------------------------------------------------------------

  private async handle(req: HttpRequest, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    this.requests.push(`${req.method} ${path}`);
    res.setHeader('Access-Control-Allow-Origin', '*');
    try {
      const hold = this.holds.find((h) => h.path.test(path) && (!h.method || h.method === req.method));
      if (hold) {
        this.holds.splice(this.holds.indexOf(hold), 1);
        hold.arrived();
        await hold.released;
      }
      const failure = this.failures.find((f) => f.path.test(path) && (!f.method || f.method === req.method));
      if (failure) {
        failure.times -= 1;
        if (failure.times <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
        if (!failure.afterHandling) throw failure.error;
      }
      const raw = await readBody(req);
      const answer = await this.route(req, url, raw, res);
      if (failure?.afterHandling) throw failure.error;
      if (answer === undefined) return; // already written (media)
      sendJson(res, 200, answer);
    } catch (err) {
      if (err instanceof MatrixHttpError) {
        if (err.errcode === 'M_LIMIT_EXCEEDED' && typeof err.extra.retry_after_ms === 'number') {
          res.setHeader('Retry-After', String(Math.ceil(err.extra.retry_after_ms / 1000)));
        }
        sendJson(res, err.status, { errcode: err.errcode, error: err.message, ...err.extra });
      } else {
        sendJson(res, 500, { errcode: 'M_UNKNOWN', error: (err as Error).message });
      }
    }
  }

  private auth(req: HttpRequest, url: URL): { token: string } & Token {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('access_token');
    if (!token) throw new MatrixHttpError(401, 'M_MISSING_TOKEN', 'Missing access token');
    const found = this.tokens.get(token);
    if (!found) throw new MatrixHttpError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token', { soft_logout: false });
    if (found.invalid) throw new MatrixHttpError(401, 'M_UNKNOWN_TOKEN', 'Access token has expired', { soft_logout: found.invalid.softLogout });
    return { token, ...found };
  }

  private async route(req: HttpRequest, url: URL, raw: Buffer, res: ServerResponse): Promise<unknown> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const json = (): Record<string, unknown> => {
      if (raw.length === 0) return {};
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        return parsed as Record<string, unknown>;
      } catch {
        throw new MatrixHttpError(400, 'M_NOT_JSON', 'Content not JSON.');
      }
    };
    const seg = (s: string) => decodeURIComponent(s);

    if (method === 'GET' && path === '/.well-known/matrix/client') return { 'm.homeserver': { base_url: this.url } };
    if (method === 'GET' && path === '/_matrix/client/versions') {
      return { versions: this.legacyMedia ? LEGACY_SPEC_VERSIONS : SPEC_VERSIONS, unstable_features: {} };
    }

    // Media: authenticated on v1 (since v1.11); the legacy v3 path serves only what came before the freeze.
    let m = /^\/_matrix\/(?:media\/v3|client\/v1\/media)\/download\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (m && method === 'GET') {
      const authenticated = path.startsWith('/_matrix/client/v1/');
      if (authenticated && this.legacyMedia) throw new MatrixHttpError(404, 'M_UNRECOGNIZED', 'Unrecognized request');
      if (authenticated) this.auth(req, url);
      if (seg(m[1]!) !== this.serverName) throw notFound('Remote media is not available');
      const media = this.media.get(seg(m[2]!));
      if (!media) throw notFound('Not found');
      // Every file here was uploaded after the freeze of unauthenticated media.
      if (!authenticated && !this.legacyMedia) throw notFound('Not found');
      const fileName = m[3] ? seg(m[3]) : media.fileName;
      res.writeHead(200, {
        'Content-Type': media.contentType,
        'Content-Length': String(media.data.length),
        ...(fileName ? { 'Content-Disposition': `inline; filename*=utf-8''${encodeURIComponent(fileName)}` } : {}),
      });
      res.end(media.data);
      return undefined;
    }
    if (method === 'GET' && path === '/_matrix/client/v1/media/config' && this.legacyMedia) throw new MatrixHttpError(404, 'M_UNRECOGNIZED', 'Unrecognized request');
    if (method === 'GET' && (path === '/_matrix/client/v1/media/config' || path === '/_matrix/media/v3/config')) {
      this.auth(req, url);
      return { 'm.upload.size': 50 * 1024 * 1024 };
    }
    if (method === 'POST' && path === '/_matrix/media/v3/upload') {
      this.auth(req, url);
      const contentType = String(req.headers['content-type'] ?? 'application/octet-stream');
      const fileName = url.searchParams.get('filename') ?? undefined;
      return { content_uri: this.storeMedia(raw, contentType, fileName) };
    }

    const prefix = '/_matrix/client/v3';
    if (!path.startsWith(prefix + '/')) throw new MatrixHttpError(404, 'M_UNRECOGNIZED', 'Unrecognized request');
    const rest = path.slice(prefix.length);

    if (rest === '/login' && method === 'GET') return { flows: [{ type: 'm.login.password' }] };
    if (rest === '/login' && method === 'POST') return this.login(json());

    const who = this.auth(req, url);
    const me = who.userId;

    if (rest === '/account/whoami' && method === 'GET') return { user_id: me, device_id: who.deviceId };
    if (rest === '/logout' && method === 'POST') {
      this.tokens.delete(who.token);
      return {};
    }
    if (rest === '/sync' && method === 'GET') return this.sync(me, who.token, url);
    if ((m = /^\/user\/([^/]+)\/filter$/.exec(rest)) && method === 'POST') {
      if (seg(m[1]!) !== me) throw forbidden('Cannot create filters for other users');
      const id = String(this.users.get(me)!.filters.size);
      this.users.get(me)!.filters.set(id, json());
      return { filter_id: id };
    }
    if ((m = /^\/user\/([^/]+)\/filter\/([^/]+)$/.exec(rest)) && method === 'GET') {
      const filter = this.users.get(me)!.filters.get(seg(m[2]!));
      if (!filter) throw notFound('No such filter');
      return filter;
    }
    if ((m = /^\/user\/([^/]+)\/account_data\/([^/]+)$/.exec(rest))) {
      if (seg(m[1]!) !== me) throw forbidden('Cannot access account data of other users');
      const type = seg(m[2]!);
      if (method === 'PUT') {
        this.setAccountData(me, type, json());
        return {};
      }
      const data = this.users.get(me)!.accountData.get(type);
      if (!data) throw notFound('Account data not found');
      return data.content;
    }
    if (rest === '/publicRooms' && method === 'GET') {
      const server = url.searchParams.get('server');
      if (server && server !== this.serverName) throw notFound(`Unknown server ${server}`);
      const limit = Math.max(1, Number(url.searchParams.get('limit') ?? '100') || 100);
      const since = url.searchParams.get('since');
      const offset = since ? Number(/^p(\d+)$/.exec(since)?.[1] ?? NaN) : 0;
      if (Number.isNaN(offset)) throw new MatrixHttpError(400, 'M_INVALID_PARAM', 'Invalid since token');
      const published = [...this.rooms.values()].filter((r) => r.state.get(stateKey('m.room.join_rules', ''))?.event.content.join_rule === 'public');
      const chunk = published.slice(offset, offset + limit).map((r) => {
        const content = (type: string) => r.state.get(stateKey(type, ''))?.event.content;
        return {
          room_id: r.id,
          num_joined_members: [...r.state.values()].filter((st) => st.event.type === 'm.room.member' && st.event.content.membership === 'join').length,
          world_readable: false,
          guest_can_join: false,
          join_rule: 'public',
          ...(content('m.room.name')?.name ? { name: content('m.room.name')!.name } : {}),
          ...(content('m.room.topic')?.topic ? { topic: content('m.room.topic')!.topic } : {}),
          ...(content('m.room.canonical_alias')?.alias ? { canonical_alias: content('m.room.canonical_alias')!.alias } : {}),
        };
      });
      return {
        chunk,
        total_room_count_estimate: published.length,
        ...(offset + limit < published.length ? { next_batch: `p${offset + limit}` } : {}),
        ...(offset > 0 ? { prev_batch: `p${Math.max(0, offset - limit)}` } : {}),
      };
    }
    if (rest === '/createRoom' && method === 'POST') return { room_id: this.createRoom(me, json()) };
    if ((m = /^\/directory\/room\/([^/]+)$/.exec(rest)) && method === 'GET') {
      const alias = seg(m[1]!);
      const roomId = this.aliases.get(alias);
      if (!roomId) throw notFound(`Room alias ${alias} not found.`);
      return { room_id: roomId, servers: [this.serverName] };
    }
    if ((m = /^\/join\/([^/]+)$/.exec(rest)) && method === 'POST') return { room_id: this.join(me, seg(m[1]!)) };
    if ((m = /^\/profile\/([^/]+)(?:\/(displayname|avatar_url))?$/.exec(rest))) {
      const userId = seg(m[1]!);
      const user = this.users.get(userId);
      if (!user) throw notFound('Profile was not found');
      if (method === 'PUT') {
        if (userId !== me) throw forbidden('Cannot set the profile of other users');
        const body = json();
        if (m[2] === 'displayname') user.displayname = String(body.displayname ?? '');
        if (m[2] === 'avatar_url') user.avatar_url = String(body.avatar_url ?? '');
        for (const room of this.rooms.values()) {
          if (this.membership(room.id, me) === 'join') {
            this.addEvent(room.id, me, 'm.room.member', { membership: 'join', ...this.profileContent(me) }, { stateKey: me });
          }
        }
        return {};
      }
      const profile = this.profileContent(userId);
      if (m[2]) {
        if (profile[m[2]] === undefined) throw notFound('Profile field not found');
        return { [m[2]]: profile[m[2]] };
      }
      return profile;
    }
    if ((m = /^\/presence\/([^/]+)\/status$/.exec(rest))) {
      const userId = seg(m[1]!);
      const user = this.users.get(userId);
      if (!user) throw notFound('Unknown user');
      if (method === 'PUT') {
        if (userId !== me) throw forbidden('Cannot set the presence of other users');
        const body = json();
        this.setPresence(me, String(body.presence ?? 'online'), typeof body.status_msg === 'string' ? body.status_msg : undefined);
        return {};
      }
      return {
        presence: user.presence.presence,
        last_active_ago: Date.now() - user.presence.last_active,
        ...(user.presence.status_msg ? { status_msg: user.presence.status_msg } : {}),
      };
    }

    m = /^\/rooms\/([^/]+)\/(.*)$/.exec(rest);
    if (!m) throw new MatrixHttpError(404, 'M_UNRECOGNIZED', 'Unrecognized request');
    const roomId = seg(m[1]!);
    const action = m[2]!;
    let a: RegExpExecArray | null;
    if (action === 'join' && method === 'POST') return { room_id: this.join(me, roomId) };
    const room = this.room(roomId);
    if (action === 'leave' && method === 'POST') {
      this.addEvent(roomId, me, 'm.room.member', { membership: 'leave' }, { stateKey: me });
      return {};
    }
    if ((action === 'invite' || action === 'kick' || action === 'ban') && method === 'POST') {
      const body = json();
      const target = String(body.user_id ?? '');
      if (!this.users.has(target)) throw notFound(`Unknown user ${target}`);
      const membership = action === 'kick' ? 'leave' : action;
      this.addEvent(roomId, me, 'm.room.member', {
        membership,
        ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
        ...(action === 'invite' ? this.profileContent(target) : {}),
      }, { stateKey: target });
      return {};
    }
    if ((a = /^send\/([^/]+)\/([^/]+)$/.exec(action)) && method === 'PUT') {
      const txnKey = `${who.deviceId}\n${path}`;
      if (this.txns.has(txnKey)) return this.txns.get(txnKey);
      const event = this.addEvent(roomId, me, seg(a[1]!), json(), { txn: { token: who.token, txnId: seg(a[2]!) } });
      const answer = { event_id: event.event_id };
      this.txns.set(txnKey, answer);
      return answer;
    }
    if ((a = /^redact\/([^/]+)\/([^/]+)$/.exec(action)) && method === 'PUT') {
      const txnKey = `${who.deviceId}\n${path}`;
      if (this.txns.has(txnKey)) return this.txns.get(txnKey);
      const targetId = seg(a[1]!);
      const target = room.events.find((e) => e.event.event_id === targetId);
      if (!target) throw notFound('Event not found');
      if (target.event.sender !== me && this.powerLevel(room, me) < 50) throw forbidden('You cannot redact events of other users');
      const body = json();
      const event = this.addEvent(roomId, me, 'm.room.redaction', typeof body.reason === 'string' ? { reason: body.reason } : {}, {
        redacts: targetId,
        txn: { token: who.token, txnId: seg(a[2]!) },
      });
      const answer = { event_id: event.event_id };
      this.txns.set(txnKey, answer);
      return answer;
    }
    if ((a = /^state\/([^/]+)(?:\/([^/]*))?$/.exec(action))) {
      const type = seg(a[1]!);
      const key = a[2] ? seg(a[2]) : '';
      if (method === 'PUT') {
        const event = this.addEvent(roomId, me, type, json(), { stateKey: key });
        return { event_id: event.event_id };
      }
      if (this.membership(roomId, me) !== 'join') throw forbidden(`User ${me} not in room ${roomId}`);
      const found = room.state.get(stateKey(type, key));
      if (!found) throw notFound('Event not found.');
      return found.event.content;
    }
    if (action === 'state' && method === 'GET') {
      if (this.membership(roomId, me) !== 'join') throw forbidden(`User ${me} not in room ${roomId}`);
      return [...room.state.values()].map((s) => s.event);
    }
    if (action === 'members' && method === 'GET') {
      if (this.membership(roomId, me) !== 'join') throw forbidden(`User ${me} not in room ${roomId}`);
      return { chunk: [...room.state.values()].filter((s) => s.event.type === 'm.room.member').map((s) => s.event) };
    }
    if (action === 'joined_members' && method === 'GET') {
      if (this.membership(roomId, me) !== 'join') throw forbidden(`User ${me} not in room ${roomId}`);
      const joined: Record<string, unknown> = {};
      for (const s of room.state.values()) {
        if (s.event.type === 'm.room.member' && s.event.content.membership === 'join') {
          joined[s.event.state_key!] = { display_name: s.event.content.displayname ?? null, avatar_url: s.event.content.avatar_url ?? null };
        }
      }
      return { joined };
    }
    if (action === 'messages' && method === 'GET') return this.messages(room, me, who.token, url);
    if ((a = /^context\/([^/]+)$/.exec(action)) && method === 'GET') return this.context(room, me, who.token, seg(a[1]!), url);
    if ((a = /^typing\/([^/]+)$/.exec(action)) && method === 'PUT') {
      if (seg(a[1]!) !== me) throw forbidden('Cannot set typing for other users');
      const body = json();
      this.setTyping(roomId, me, body.typing === true, typeof body.timeout === 'number' ? body.timeout : 30_000);
      return {};
    }
    if ((a = /^receipt\/([^/]+)\/([^/]+)$/.exec(action)) && method === 'POST') {
      const type = seg(a[1]!);
      if (!['m.read', 'm.read.private', 'm.fully_read'].includes(type)) throw new MatrixHttpError(400, 'M_INVALID_PARAM', 'Unknown receipt type');
      this.addReceipt(roomId, me, type, seg(a[2]!));
      return {};
    }
    if (action === 'read_markers' && method === 'POST') {
      const body = json();
      if (typeof body['m.read'] === 'string') this.addReceipt(roomId, me, 'm.read', body['m.read']);
      return {};
    }
    throw new MatrixHttpError(404, 'M_UNRECOGNIZED', 'Unrecognized request');
  }

  private login(body: Record<string, unknown>): Record<string, unknown> {
    this.logins.push(body);
    if (body.type !== 'm.login.password') throw new MatrixHttpError(400, 'M_UNKNOWN', 'Unknown login type');
    const identifier = body.identifier as { type?: string; user?: string } | undefined;
    const given = identifier?.type === 'm.id.user' ? identifier.user : (body.user as string | undefined);
    if (!given) throw new MatrixHttpError(400, 'M_INVALID_PARAM', 'Invalid login submission');
    const userId = given.startsWith('@') ? given : `@${given}:${this.serverName}`;
    const user = this.users.get(userId);
    if (!user || user.password !== body.password) throw forbidden('Invalid username or password');
    const deviceId = typeof body.device_id === 'string' ? body.device_id : opaque(10);
    const token = this.issueToken(userId, deviceId);
    return { user_id: userId, access_token: token, device_id: deviceId, home_server: this.serverName };
  }

  // --- /sync -------------------------------------------------------------------

  private filterOf(userId: string, url: URL): { limit: number; lazy: boolean; rooms?: string[] } {
    const raw = url.searchParams.get('filter');
    let filter: Record<string, unknown> = {};
    if (raw) {
      if (raw.startsWith('{')) {
        try {
          filter = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          throw new MatrixHttpError(400, 'M_INVALID_PARAM', 'filter is not valid JSON');
        }
      } else {
        const stored = this.users.get(userId)!.filters.get(raw);
        if (!stored) throw new MatrixHttpError(400, 'M_INVALID_PARAM', 'Unknown filter id');
        filter = stored;
      }
    }
    const room = (filter.room ?? {}) as { timeline?: { limit?: number }; state?: { lazy_load_members?: boolean }; rooms?: string[] };
    return { limit: room.timeline?.limit ?? 10, lazy: room.state?.lazy_load_members === true, ...(room.rooms ? { rooms: room.rooms } : {}) };
  }

  private async sync(userId: string, token: string, url: URL): Promise<unknown> {
    const sinceRaw = url.searchParams.get('since');
    let since = 0;
    if (sinceRaw !== null) {
      const m = /^s(\d+)$/.exec(sinceRaw);
      if (!m || Number(m[1]) > this.pos) throw new MatrixHttpError(400, 'M_INVALID_PARAM', 'Invalid since token');
      since = Number(m[1]);
    }
    const timeout = Math.min(Number(url.searchParams.get('timeout') ?? '0') || 0, 30_000);
    const filter = this.filterOf(userId, url);
    // Polling marks the user online unless set_presence says otherwise ("offline": not marked at all).
    const setPresence = url.searchParams.get('set_presence') ?? 'online';
    if (!['online', 'offline', 'unavailable'].includes(setPresence)) throw new MatrixHttpError(400, 'M_INVALID_PARAM', 'set_presence must be online, offline or unavailable');
    const user = this.users.get(userId)!;
    if (setPresence !== 'offline' && user.presence.presence !== setPresence) this.setPresence(userId, setPresence, user.presence.status_msg);
    const end = Date.now() + timeout;
    for (;;) {
      // The token may have been expired while waiting.
      const current = this.tokens.get(token);
      if (!current) throw new MatrixHttpError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token', { soft_logout: false });
      if (current.invalid) throw new MatrixHttpError(401, 'M_UNKNOWN_TOKEN', 'Access token has expired', { soft_logout: current.invalid.softLogout });
      const response = this.syncResponse(userId, token, since, sinceRaw === null, filter);
      if (response.hasData || Date.now() >= end || !this.server) return response.body;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, end - Date.now()));
        this.changed.once('change', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private clientEvent(stored: StoredEvent, token: string, withRoomId = false): Record<string, unknown> {
    const { room_id: roomId, ...event } = stored.event;
    const unsigned: Record<string, unknown> = { ...event.unsigned, age: Date.now() - event.origin_server_ts };
    if (stored.txn && stored.txn.token === token) unsigned.transaction_id = stored.txn.txnId;
    return { ...event, unsigned, ...(withRoomId ? { room_id: roomId } : {}) };
  }

  private syncResponse(
    userId: string,
    token: string,
    since: number,
    initial: boolean,
    filter: { limit: number; lazy: boolean; rooms?: string[] },
  ): { hasData: boolean; body: Record<string, unknown> } {
    const join: Record<string, unknown> = {};
    const invite: Record<string, unknown> = {};
    const leave: Record<string, unknown> = {};
    let hasData = false;
    const user = this.users.get(userId)!;
    const sharesRoomWith = new Set<string>();
    for (const room of this.rooms.values()) {
      if (filter.rooms && !filter.rooms.includes(room.id)) continue;
      const member = room.state.get(stateKey('m.room.member', userId));
      if (!member) continue;
      const membership = member.event.content.membership;
      if (membership === 'join') {
        for (const s of room.state.values()) {
          if (s.event.type === 'm.room.member' && s.event.content.membership === 'join') sharesRoomWith.add(s.event.state_key!);
        }
      }
      // Where the user's current membership began: a room joined after `since` is new to this sync.
      const joinedAt = member.pos;
      const isNew = initial || joinedAt > since;
      if (membership === 'invite') {
        if (!isNew) continue;
        const stripped = ['m.room.create', 'm.room.name', 'm.room.canonical_alias', 'm.room.join_rules', 'm.room.topic', 'm.room.avatar']
          .map((type) => room.state.get(stateKey(type, '')))
          .filter((s): s is StoredEvent => s !== undefined)
          .concat(member)
          .map((s) => ({ type: s.event.type, state_key: s.event.state_key, content: s.event.content, sender: s.event.sender }));
        invite[room.id] = { invite_state: { events: stripped } };
        hasData = true;
        continue;
      }
      if (membership === 'leave' || membership === 'ban') {
        if (initial || joinedAt <= since) continue;
        const events = room.events.filter((e) => e.pos > since && e.pos <= joinedAt).map((e) => this.clientEvent(e, token));
        leave[room.id] = { timeline: { events, limited: false }, state: { events: [] } };
        hasData = true;
        continue;
      }
      if (membership !== 'join') continue;

      const newEvents = room.events.filter((e) => e.pos > (isNew ? 0 : since));
      const limited = newEvents.length > filter.limit;
      const timelineEvents = newEvents.slice(-filter.limit);
      const firstTimelinePos = timelineEvents[0]?.pos ?? this.pos + 1;
      let stateEvents: StoredEvent[] = [];
      if (isNew || limited) {
        // State at the start of the timeline: the current state minus what the timeline itself changes.
        stateEvents = [...room.state.values()].filter((s) => s.pos < firstTimelinePos);
        if (filter.lazy) {
          const senders = new Set(timelineEvents.map((e) => e.event.sender));
          senders.add(userId);
          stateEvents = stateEvents.filter((s) => s.event.type !== 'm.room.member' || senders.has(s.event.state_key!));
        }
      }
      const ephemeral: Array<Record<string, unknown>> = [];
      if (room.typingPos > since || (isNew && room.typing.size > 0)) {
        const now = Date.now();
        ephemeral.push({ type: 'm.typing', content: { user_ids: [...room.typing].filter(([, until]) => until > now).map(([id]) => id) } });
      }
      const receipts = room.receipts.filter((r) => r.pos > since && (r.type !== 'm.read.private' || r.userId === userId));
      if (receipts.length > 0) {
        const content: Record<string, Record<string, Record<string, { ts: number }>>> = {};
        for (const r of receipts) ((content[r.eventId] ??= {})[r.type] ??= {})[r.userId] = { ts: r.ts };
        ephemeral.push({ type: 'm.receipt', content });
      }
      if (!isNew && timelineEvents.length === 0 && ephemeral.length === 0) continue;
      hasData = true;
      const joined = [...room.state.values()].filter((s) => s.event.type === 'm.room.member' && s.event.content.membership === 'join');
      const invited = [...room.state.values()].filter((s) => s.event.type === 'm.room.member' && s.event.content.membership === 'invite');
      join[room.id] = {
        timeline: {
          events: timelineEvents.map((e) => this.clientEvent(e, token)),
          limited,
          prev_batch: `t${(timelineEvents[0]?.pos ?? this.pos + 1) - 1}`,
        },
        state: { events: stateEvents.map((s) => this.clientEvent(s, token)) },
        ephemeral: { events: ephemeral },
        account_data: { events: [] },
        summary: {
          'm.heroes': joined.map((s) => s.event.state_key!).filter((id) => id !== userId).slice(0, 5),
          'm.joined_member_count': joined.length,
          'm.invited_member_count': invited.length,
        },
        unread_notifications: { highlight_count: 0, notification_count: 0 },
      };
    }
    const accountData = [...user.accountData].filter(([, d]) => d.pos > since).map(([type, d]) => ({ type, content: d.content }));
    if (accountData.length > 0) hasData = true;
    const presence = [...this.users.values()]
      .filter((u) => u.id !== userId && sharesRoomWith.has(u.id) && u.presence.pos > since)
      .map((u) => ({
        type: 'm.presence',
        sender: u.id,
        content: {
          presence: u.presence.presence,
          last_active_ago: Date.now() - u.presence.last_active,
          ...(u.presence.status_msg ? { status_msg: u.presence.status_msg } : {}),
        },
      }));
    if (presence.length > 0) hasData = true;
    return {
      hasData: hasData || initial,
      body: {
        next_batch: `s${this.pos}`,
        rooms: { join, invite, leave, knock: {} },
        presence: { events: presence },
        account_data: { events: accountData },
        to_device: { events: [] },
        device_lists: { changed: [], left: [] },
        device_one_time_keys_count: {},
      },
    };
  }

  // --- /messages ----------------------------------------------------------------

  /** /context: the event, up to limit/2 events either side, and tokens to page from them (start backwards, end forwards). */
  private context(room: Room, userId: string, token: string, eventId: string, url: URL): unknown {
    if (this.membership(room.id, userId) !== 'join') throw forbidden(`User ${userId} not in room ${room.id}`);
    const index = room.events.findIndex((e) => e.event.event_id === eventId);
    if (index < 0) throw notFound('Event not found.');
    const limit = Math.min(Number(url.searchParams.get('limit') ?? '10') || 0, 100);
    const beforeCount = Math.floor(limit / 2);
    const before = room.events.slice(Math.max(0, index - beforeCount), index).reverse();
    const after = room.events.slice(index + 1, index + 1 + (limit - beforeCount));
    const target = room.events[index]!;
    return {
      event: this.clientEvent(target, token, true),
      events_before: before.map((e) => this.clientEvent(e, token, true)),
      events_after: after.map((e) => this.clientEvent(e, token, true)),
      // Tokens as /messages reads them: dir=b from t<n> gives the events at n and before.
      start: `t${(before.at(-1) ?? target).pos - 1}`,
      end: `t${(after.at(-1) ?? target).pos}`,
      state: [],
    };
  }

  private messages(room: Room, userId: string, token: string, url: URL): unknown {
    if (this.membership(room.id, userId) !== 'join') throw forbidden(`User ${userId} not in room ${room.id}`);
    const dir = url.searchParams.get('dir');
    if (dir !== 'b' && dir !== 'f') throw new MatrixHttpError(400, 'M_INVALID_PARAM', 'dir must be b or f');
    const limit = Math.min(Number(url.searchParams.get('limit') ?? '10') || 10, 1000);
    const from = url.searchParams.get('from');
    const parse = (token: string | null): number | null => {
      if (token === null) return null;
      const m = /^[ts](\d+)$/.exec(token);
      if (!m) throw new MatrixHttpError(400, 'M_INVALID_PARAM', 'Invalid from token');
      return Number(m[1]);
    };
    const start = parse(from) ?? (dir === 'b' ? this.pos : 0);
    let chunk: StoredEvent[];
    let end: number;
    if (dir === 'b') {
      const older = room.events.filter((e) => e.pos <= start);
      chunk = older.slice(-limit).reverse();
      end = (chunk.at(-1)?.pos ?? 1) - 1;
    } else {
      chunk = room.events.filter((e) => e.pos > start).slice(0, limit);
      end = chunk.at(-1)?.pos ?? start;
    }
    const state = [...room.state.values()].filter((s) => s.event.type === 'm.room.member' && chunk.some((e) => e.event.sender === s.event.state_key));
    return {
      start: `t${start}`,
      chunk: chunk.map((e) => this.clientEvent(e, token, true)),
      state: state.map((s) => this.clientEvent(s, token, true)),
      ...(chunk.length === limit ? { end: `t${end}` } : {}),
    };
  }
}

/** A Matrix user played by the test. */
export class Actor {
  constructor(
    private readonly hs: Homeserver,
    readonly userId: string,
  ) {}

  createRoom(options: { alias?: string; name?: string; topic?: string; public?: boolean; invite?: string[]; direct?: boolean } = {}): string {
    return this.hs.createRoom(this.userId, {
      ...(options.alias ? { room_alias_name: options.alias } : {}),
      ...(options.name ? { name: options.name } : {}),
      ...(options.topic ? { topic: options.topic } : {}),
      preset: options.public === false ? 'private_chat' : 'public_chat',
      ...(options.invite ? { invite: options.invite } : {}),
      ...(options.direct ? { is_direct: true } : {}),
    });
  }

  join(roomIdOrAlias: string): string {
    return this.hs.join(this.userId, roomIdOrAlias);
  }

  leave(roomId: string): void {
    this.hs.addEvent(roomId, this.userId, 'm.room.member', { membership: 'leave' }, { stateKey: this.userId });
  }

  invite(roomId: string, userId: string): void {
    this.hs.addEvent(roomId, this.userId, 'm.room.member', { membership: 'invite', ...this.hs.profileContent(userId) }, { stateKey: userId });
  }

  kick(roomId: string, userId: string, reason?: string): void {
    this.hs.addEvent(roomId, this.userId, 'm.room.member', { membership: 'leave', ...(reason ? { reason } : {}) }, { stateKey: userId });
  }

  send(roomId: string, content: Record<string, unknown>, type = 'm.room.message'): string {
    return this.hs.addEvent(roomId, this.userId, type, content).event_id;
  }

  say(roomId: string, body: string, formatted?: string): string {
    return this.send(roomId, { msgtype: 'm.text', body, ...(formatted ? { format: 'org.matrix.custom.html', formatted_body: formatted } : {}) });
  }

  react(roomId: string, eventId: string, key: string): string {
    return this.send(roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: eventId, key } }, 'm.reaction');
  }

  edit(roomId: string, eventId: string, body: string): string {
    return this.send(roomId, {
      msgtype: 'm.text',
      body: `* ${body}`,
      'm.new_content': { msgtype: 'm.text', body },
      'm.relates_to': { rel_type: 'm.replace', event_id: eventId },
    });
  }

  reply(roomId: string, eventId: string, body: string): string {
    return this.send(roomId, { msgtype: 'm.text', body, 'm.relates_to': { 'm.in_reply_to': { event_id: eventId } } });
  }

  redact(roomId: string, eventId: string, reason?: string): string {
    return this.hs.addEvent(roomId, this.userId, 'm.room.redaction', reason ? { reason } : {}, { redacts: eventId }).event_id;
  }

  setState(roomId: string, type: string, content: Record<string, unknown>, key = ''): string {
    return this.hs.addEvent(roomId, this.userId, type, content, { stateKey: key }).event_id;
  }

  setDisplayName(name: string): void {
    this.hs.users.get(this.userId)!.displayname = name;
    for (const room of this.hs.rooms.values()) {
      if (this.hs.membership(room.id, this.userId) === 'join') {
        this.hs.addEvent(room.id, this.userId, 'm.room.member', { membership: 'join', ...this.hs.profileContent(this.userId) }, { stateKey: this.userId });
      }
    }
  }

  setAvatar(mxc: string): void {
    this.hs.users.get(this.userId)!.avatar_url = mxc;
  }

  typing(roomId: string, typing: boolean): void {
    this.hs.setTyping(roomId, this.userId, typing);
  }

  read(roomId: string, eventId: string): void {
    this.hs.addReceipt(roomId, this.userId, 'm.read', eventId);
  }

  presence(presence: 'online' | 'offline' | 'unavailable', statusMsg?: string): void {
    this.hs.setPresence(this.userId, presence, statusMsg);
  }

  /** Marks rooms as direct chats with users in m.direct (as Element does when it creates a DM). */
  setDirect(direct: Record<string, string[]>): void {
    this.hs.setAccountData(this.userId, 'm.direct', direct);
  }

  upload(data: Buffer, contentType: string, fileName?: string): string {
    return this.hs.storeMedia(data, contentType, fileName);
  }
}

function readBody(req: HttpRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/**
 * A delegating server: only /.well-known/matrix/client, pointing at `baseUrl`
 * (as example.org points at matrix.example.org). With `tls` it serves HTTPS,
 * as the spec requires for a server name's .well-known; `url` then names it
 * as https://localhost:PORT.
 */
export async function startWellKnown(baseUrl: string, options: { tls?: { key: Buffer; cert: Buffer } } = {}): Promise<{ url: string; stop(): Promise<void> }> {
  const answer = (req: HttpRequest, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/.well-known/matrix/client') sendJson(res, 200, { 'm.homeserver': { base_url: baseUrl } });
    else sendJson(res, 404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
  };
  const server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, answer) : createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: options.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startHomeserver(options: HomeserverOptions = {}): Promise<Homeserver> {
  return new Homeserver(options).start();
}
