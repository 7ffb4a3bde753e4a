// A small in-process chat network behind the same Network interface as IRC
// and Matrix, for testing the XMPP side and the core where no real network is
// needed. The test plays the other users through TestWorld (remoteJoin,
// remoteSay, ...) and reads what ponte did on the network in `world.calls`.
//
// Addresses (JID localparts, unescaped):
//   #name         a room (case-insensitive)
//   !Handle       a room with a case-sensitive id, kept in JIDs through the store's handles
//   bob           a contact (remote user); letters, digits, . _ -
//   server.test   the network's server (anything with a dot and no #)
import { GatewayError } from '../../src/core/errors.js';
import type { IncomingMessage, OutgoingMessage, SentReceipt, ChatState } from '../../src/core/message.js';
import type {
  Affiliation,
  Capability,
  EventSink,
  JoinedRoom,
  Network,
  NetworkAddress,
  NetworkSession,
  Participant,
  Role,
  RoomListing,
} from '../../src/networks/types.js';

export const ALL_CAPABILITIES: readonly Capability[] = [
  'rooms',
  'contacts',
  'private-messages',
  'room-password',
  'topic',
  'nick-change',
  'kick',
  'ban',
  'roles',
  'invites',
  'room-list',
  'corrections',
  'retractions',
  'reactions',
  'replies',
  'chat-states',
  'displayed-markers',
  'attachments',
  'history',
  'avatars',
];

/** The password the test network accepts at registration. */
export const TEST_PASSWORD = 'correct horse';

interface Member {
  nick: string;
  role: Role;
  affiliation: Affiliation;
  /** The ponte session this member is, or undefined for a remote user played by the test. */
  session?: TestSession;
}

export interface WorldRoom {
  id: string;
  name?: string;
  password?: string;
  subject?: { text: string; by?: string };
  /** What roomInfo tells besides the above (for disco#info and vCards of rooms). */
  description?: string;
  avatar?: { data: Buffer; type: string };
  members: Map<string, Member>;
  banned: Set<string>;
  history: Array<{ nick: string; message: IncomingMessage }>;
}

export interface Call {
  user: string;
  method: string;
  args: unknown[];
}

const key = (nick: string) => nick.toLowerCase();

export class TestWorld {
  readonly rooms = new Map<string, WorldRoom>();
  readonly sessions = new Set<TestSession>();
  /** Everything ponte asked the network to do, in order. */
  readonly calls: Call[] = [];
  /** The network ids of what ponte sent (send, sendPrivate, correct), by the message's xmppId. */
  readonly sentIds = new Map<string, string[]>();
  /** Whether joining a room that does not exist creates it (else not-allowed). */
  creationAllowed = true;
  /** The nick the network gives on join, if not the one asked for (MUC status 210). */
  assignNick: ((requested: string) => string) | undefined;
  /** Read by the network at each login: whether a user must register first. */
  registrationRequired = false;
  private seq = 0;

  nextId(): string {
    return `t${++this.seq}`;
  }

  room(id: string, init: Partial<Pick<WorldRoom, 'name' | 'password' | 'subject' | 'description' | 'avatar'>> = {}): WorldRoom {
    const roomId = id.startsWith('!') ? id : id.toLowerCase();
    let room = this.rooms.get(roomId);
    if (!room) {
      room = { id: roomId, members: new Map(), banned: new Set(), history: [], ...init };
      this.rooms.set(roomId, room);
    }
    return room;
  }

  sessionOf(userJid: string): TestSession | undefined {
    return [...this.sessions].find((s) => s.userJid === userJid);
  }

  callsOf(method: string): Call[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Sessions present in a room, except `except`. */
  private present(room: WorldRoom, except?: TestSession): TestSession[] {
    const out = new Set<TestSession>();
    for (const member of room.members.values()) if (member.session && member.session !== except) out.add(member.session);
    return [...out];
  }

  broadcast(room: WorldRoom, except: TestSession | undefined, deliver: (sink: EventSink, address: NetworkAddress) => void): void {
    for (const session of this.present(room, except)) deliver(session.sink, { kind: 'room', id: room.id });
  }

  // --- the test plays remote users -------------------------------------------------

  remoteJoin(roomId: string, nick: string, role: Role = 'participant', affiliation: Affiliation = 'none'): void {
    const room = this.room(roomId);
    const member: Member = { nick, role, affiliation };
    room.members.set(key(nick), member);
    this.broadcast(room, undefined, (sink, address) => sink.participantJoined(address, { nick, role, affiliation }));
  }

  remotePart(roomId: string, nick: string, reason?: string): void {
    const room = this.room(roomId);
    room.members.delete(key(nick));
    this.broadcast(room, undefined, (sink, address) => sink.participantLeft(address, nick, reason));
  }

  /** Many remote users leave at once (a netsplit). */
  remoteMassPart(roomId: string, nicks: string[], reason: string): void {
    const room = this.room(roomId);
    for (const nick of nicks) room.members.delete(key(nick));
    this.broadcast(room, undefined, (sink, address) =>
      sink.participantsLeft ? sink.participantsLeft(address, nicks, reason) : nicks.forEach((n) => sink.participantLeft(address, n, reason)),
    );
  }

  remoteSay(roomId: string, nick: string, body: string, extra: Partial<IncomingMessage> = {}): string {
    const room = this.room(roomId);
    const message: IncomingMessage = { id: this.nextId(), body, timestamp: new Date(), ...extra };
    room.history.push({ nick, message });
    this.broadcast(room, undefined, (sink, address) => sink.roomMessage(address, nick, message));
    return message.id;
  }

  remoteNick(roomId: string, oldNick: string, newNick: string): void {
    const room = this.room(roomId);
    const member = room.members.get(key(oldNick));
    if (member) {
      room.members.delete(key(oldNick));
      room.members.set(key(newNick), { ...member, nick: newNick });
    }
    this.broadcast(room, undefined, (sink, address) => sink.nickChanged(address, oldNick, newNick));
  }

  remoteSubject(roomId: string, nick: string, text: string): void {
    const room = this.room(roomId);
    room.subject = { text, by: nick };
    this.broadcast(room, undefined, (sink, address) => sink.subjectChanged(address, { text, by: nick, at: new Date() }));
  }

  remoteKick(roomId: string, nick: string, by: string, reason?: string): void {
    const room = this.room(roomId);
    this.broadcast(room, undefined, (sink, address) => sink.kicked(address, nick, by, reason));
    room.members.delete(key(nick));
  }

  remoteBan(roomId: string, nick: string, by: string, reason?: string): void {
    const room = this.room(roomId);
    room.banned.add(key(nick));
    this.broadcast(room, undefined, (sink, address) => sink.banned(address, nick, by, reason));
    room.members.delete(key(nick));
  }

  remoteRole(roomId: string, nick: string, role: Role, affiliation?: Affiliation): void {
    const room = this.room(roomId);
    const member = room.members.get(key(nick));
    if (!member) throw new Error(`${nick} is not in ${roomId}`);
    member.role = role;
    if (affiliation) member.affiliation = affiliation;
    const participant: Participant = { nick: member.nick, role: member.role, affiliation: member.affiliation };
    this.broadcast(room, undefined, (sink, address) => sink.participantChanged(address, participant));
  }

  /** The network puts a ponte user out of a room for its own reasons (a forced part, the channel closed). */
  remoteRoomLeft(roomId: string, userJid: string, reason: string): void {
    const room = this.room(roomId);
    const session = this.sessionOf(userJid);
    if (!session) throw new Error(`${userJid} has no session on the test network`);
    for (const [nick, member] of room.members) if (member.session === session) room.members.delete(nick);
    session.sink.roomLeft({ kind: 'room', id: room.id }, reason);
  }

  /** A remote user (contact id) writes to a ponte user directly. */
  remoteDirect(fromContact: string, toUserJid: string, body: string, extra: Partial<IncomingMessage> = {}): string {
    const session = this.sessionOf(toUserJid);
    if (!session) throw new Error(`${toUserJid} has no session on the test network`);
    const message: IncomingMessage = { id: this.nextId(), body, timestamp: new Date(), ...extra };
    session.sink.directMessage({ kind: 'contact', id: fromContact }, message);
    return message.id;
  }

  remotePrivate(roomId: string, fromNick: string, toUserJid: string, body: string): string {
    const session = this.sessionOf(toUserJid);
    if (!session) throw new Error(`${toUserJid} has no session on the test network`);
    const message: IncomingMessage = { id: this.nextId(), body, timestamp: new Date() };
    session.sink.directMessage({ kind: 'contact', id: fromNick.toLowerCase() }, message, { room: { kind: 'room', id: roomId }, nick: fromNick });
    return message.id;
  }

  remoteInvite(roomId: string, byContact: string, toUserJid: string, reason?: string, password?: string): void {
    const session = this.sessionOf(toUserJid);
    if (!session) throw new Error(`${toUserJid} has no session on the test network`);
    session.sink.invited({ kind: 'room', id: roomId }, { kind: 'contact', id: byContact }, reason, password);
  }

  remoteChatState(conversation: NetworkAddress, from: string, toUserJid: string, state: ChatState): void {
    this.sessionOf(toUserJid)?.sink.chatState(conversation, from, state);
  }

  remoteReact(conversation: NetworkAddress, from: string, toUserJid: string, targetId: string, emojis: string[]): void {
    this.sessionOf(toUserJid)?.sink.reacted(conversation, from, targetId, emojis);
  }

  remoteCorrect(conversation: NetworkAddress, from: string, toUserJid: string, targetId: string, body: string): string {
    const message: IncomingMessage = { id: this.nextId(), body, timestamp: new Date() };
    this.sessionOf(toUserJid)?.sink.corrected(conversation, from, targetId, message);
    return message.id;
  }

  remoteRetract(conversation: NetworkAddress, from: string, toUserJid: string, targetId: string): void {
    this.sessionOf(toUserJid)?.sink.retracted(conversation, from, targetId);
  }

  remotePresence(contact: string, toUserJid: string, show: 'available' | 'away' | 'xa' | 'dnd' | 'offline', status?: string): void {
    this.sessionOf(toUserJid)?.sink.contactPresence({ kind: 'contact', id: contact }, show, status);
  }

  remoteNotice(toUserJid: string, text: string, from: NetworkAddress | null = null): void {
    this.sessionOf(toUserJid)?.sink.notice(from, text);
  }

  /** The network drops the user's connection (then comes back after `reconnect()`). */
  disconnect(userJid: string, detail: string): void {
    this.sessionOf(userJid)?.sink.connectionState('reconnecting', detail);
  }
}

export class TestSession implements NetworkSession {
  constructor(
    readonly world: TestWorld,
    readonly userJid: string,
    readonly sink: EventSink,
  ) {}

  private record(method: string, ...args: unknown[]): void {
    this.world.calls.push({ user: this.userJid, method, args });
  }

  private member(room: WorldRoom): Member | undefined {
    return [...room.members.values()].find((m) => m.session === this);
  }

  private joined(address: NetworkAddress): { room: WorldRoom; me: Member } {
    const room = this.world.rooms.get(address.id);
    const me = room && this.member(room);
    if (!room || !me) throw new GatewayError('not-acceptable', `You are not in ${address.id}.`);
    return { room, me };
  }

  async joinRoom(address: NetworkAddress, nick: string, options: { password?: string }): Promise<JoinedRoom> {
    this.record('joinRoom', address, nick, options);
    const created = !this.world.rooms.has(address.id);
    if (created && !this.world.creationAllowed) throw new GatewayError('not-allowed', `${address.id} does not exist, and this network does not let you create it.`);
    nick = this.world.assignNick?.(nick) ?? nick;
    const room = this.world.room(address.id);
    if (room.password !== undefined && room.password !== options.password) {
      throw new GatewayError('not-authorized', `Wrong or missing password for ${room.id}.`);
    }
    if (room.banned.has(key(nick))) throw new GatewayError('forbidden', `You are banned from ${room.id}.`);
    const existing = room.members.get(key(nick));
    if (existing && existing.session !== this) throw new GatewayError('conflict', `The nick ${nick} is in use in ${room.id}.`);
    const role: Role = created ? 'moderator' : 'participant';
    const affiliation: Affiliation = created ? 'owner' : 'none';
    room.members.set(key(nick), { nick, role, affiliation, session: this });
    this.world.broadcast(room, this, (sink, a) => sink.participantJoined(a, { nick, role, affiliation }));
    return {
      nick,
      role,
      affiliation,
      created,
      participants: [...room.members.values()]
        .filter((m) => m.session !== this)
        .map((m) => ({ nick: m.nick, role: m.role, affiliation: m.affiliation })),
      subject: room.subject,
      history: room.history.slice(-20),
      name: room.name,
    };
  }

  async leaveRoom(address: NetworkAddress, reason?: string): Promise<void> {
    this.record('leaveRoom', address, reason);
    const { room, me } = this.joined(address);
    room.members.delete(key(me.nick));
    this.world.broadcast(room, this, (sink, a) => sink.participantLeft(a, me.nick, reason));
  }

  async send(to: NetworkAddress, message: OutgoingMessage): Promise<SentReceipt> {
    this.record('send', to, message);
    if (message.body.includes('REJECT')) throw new GatewayError('not-acceptable', 'The test network refuses messages saying REJECT.');
    const id = this.world.nextId();
    this.world.sentIds.set(message.xmppId, [id]);
    if (to.kind === 'room') {
      const { room, me } = this.joined(to);
      const incoming: IncomingMessage = { id, body: message.body, action: message.action, timestamp: new Date() };
      room.history.push({ nick: me.nick, message: incoming });
      this.world.broadcast(room, this, (sink, a) => sink.roomMessage(a, me.nick, incoming));
    }
    return { ids: [id], timestamp: new Date() };
  }

  async sendPrivate(room: NetworkAddress, nick: string, message: OutgoingMessage): Promise<SentReceipt> {
    this.record('sendPrivate', room, nick, message);
    const id = this.world.nextId();
    this.world.sentIds.set(message.xmppId, [id]);
    return { ids: [id] };
  }

  async setSubject(address: NetworkAddress, subject: string): Promise<void> {
    this.record('setSubject', address, subject);
    const { room, me } = this.joined(address);
    if (me.role !== 'moderator') throw new GatewayError('forbidden', 'Only moderators may change the subject here.');
    room.subject = { text: subject, by: me.nick };
    this.world.broadcast(room, undefined, (sink, a) => sink.subjectChanged(a, { text: subject, by: me.nick, at: new Date() }));
  }

  async changeNick(address: NetworkAddress, nick: string): Promise<string> {
    this.record('changeNick', address, nick);
    const { room, me } = this.joined(address);
    if (room.members.has(key(nick)) && room.members.get(key(nick)) !== me) throw new GatewayError('conflict', `The nick ${nick} is in use.`);
    const old = me.nick;
    room.members.delete(key(old));
    me.nick = nick;
    room.members.set(key(nick), me);
    this.world.broadcast(room, this, (sink, a) => sink.nickChanged(a, old, nick));
    return nick;
  }

  private moderate(address: NetworkAddress): { room: WorldRoom; me: Member } {
    const joined = this.joined(address);
    if (joined.me.role !== 'moderator') throw new GatewayError('forbidden', 'You are not a moderator of this room.');
    return joined;
  }

  async kick(address: NetworkAddress, nick: string, reason?: string): Promise<void> {
    this.record('kick', address, nick, reason);
    const { room, me } = this.moderate(address);
    if (!room.members.has(key(nick))) throw new GatewayError('item-not-found', `${nick} is not in the room.`);
    this.world.broadcast(room, undefined, (sink, a) => sink.kicked(a, nick, me.nick, reason));
    room.members.delete(key(nick));
  }

  async ban(address: NetworkAddress, nick: string, reason?: string): Promise<void> {
    this.record('ban', address, nick, reason);
    const { room, me } = this.moderate(address);
    room.banned.add(key(nick));
    this.world.broadcast(room, undefined, (sink, a) => sink.banned(a, nick, me.nick, reason));
    room.members.delete(key(nick));
  }

  async setRole(address: NetworkAddress, nick: string, role: Role): Promise<void> {
    this.record('setRole', address, nick, role);
    const { room } = this.moderate(address);
    const member = room.members.get(key(nick));
    if (!member) throw new GatewayError('item-not-found', `${nick} is not in the room.`);
    member.role = role;
    const participant: Participant = { nick: member.nick, role, affiliation: member.affiliation };
    this.world.broadcast(room, undefined, (sink, a) => sink.participantChanged(a, participant));
  }

  async setAffiliation(address: NetworkAddress, nick: string, affiliation: Affiliation): Promise<void> {
    this.record('setAffiliation', address, nick, affiliation);
    const { room } = this.moderate(address);
    const member = room.members.get(key(nick));
    if (!member) throw new GatewayError('item-not-found', `${nick} is not in the room.`);
    member.affiliation = affiliation;
    const participant: Participant = { nick: member.nick, role: member.role, affiliation };
    this.world.broadcast(room, undefined, (sink, a) => sink.participantChanged(a, participant));
  }

  async invite(room: NetworkAddress, contact: NetworkAddress, reason?: string): Promise<void> {
    this.record('invite', room, contact, reason);
  }

  async correct(to: NetworkAddress, targetIds: string[], message: OutgoingMessage): Promise<SentReceipt> {
    this.record('correct', to, targetIds, message);
    const id = this.world.nextId();
    this.world.sentIds.set(message.xmppId, [id]);
    return { ids: [id] };
  }

  async retract(to: NetworkAddress, targetIds: string[]): Promise<void> {
    this.record('retract', to, targetIds);
  }

  async react(to: NetworkAddress, targetId: string, emojis: string[]): Promise<void> {
    this.record('react', to, targetId, emojis);
  }

  async setChatState(to: NetworkAddress, state: ChatState): Promise<void> {
    this.record('setChatState', to, state);
  }

  async markDisplayed(to: NetworkAddress, upToId: string): Promise<void> {
    this.record('markDisplayed', to, upToId);
  }

  async roomInfo(address: NetworkAddress) {
    const room = this.world.rooms.get(address.id);
    if (!room) throw new GatewayError('item-not-found', `No room ${address.id} on the test network.`);
    return {
      name: room.name,
      description: room.description,
      avatar: room.avatar,
      subject: room.subject?.text,
      occupants: room.members.size,
      passwordProtected: room.password !== undefined,
      public: true,
    };
  }

  async contactInfo(contact: NetworkAddress) {
    // A 1x1 PNG as everyone's avatar.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
    return { name: `${contact.id} (test user)`, nick: contact.id, avatar: { data: png, type: 'image/png' } };
  }

  async listRooms(_server: NetworkAddress | null, page: { limit: number; after?: string }): Promise<RoomListing> {
    const all = [...this.world.rooms.values()].sort((a, b) => a.id.localeCompare(b.id));
    const start = page.after ? all.findIndex((r) => r.id === page.after) + 1 : 0;
    const slice = all.slice(start, start + page.limit);
    const next = start + page.limit < all.length ? slice[slice.length - 1]?.id : undefined;
    return {
      items: slice.map((r) => ({ address: { kind: 'room', id: r.id }, name: r.name, occupants: r.members.size, topic: r.subject?.text })),
      ...(next ? { next } : {}),
      total: all.length,
    };
  }

  async history(conversation: NetworkAddress, query: { limit: number; before?: string }) {
    const room = this.world.rooms.get(conversation.id);
    if (!room) return [];
    // Older than the message `before` names (none when the network does not know it).
    const end = query.before === undefined ? room.history.length : room.history.findIndex((entry) => entry.message.id === query.before);
    return end <= 0 ? [] : room.history.slice(Math.max(0, end - query.limit), end);
  }

  async reconnect(): Promise<void> {
    this.record('reconnect');
    this.sink.connectionState('online');
  }

  async close(reason: string): Promise<void> {
    this.record('close', reason);
    for (const room of this.world.rooms.values()) {
      const me = this.member(room);
      if (me) {
        room.members.delete(key(me.nick));
        this.world.broadcast(room, this, (sink, a) => sink.participantLeft(a, me.nick, reason));
      }
    }
    this.world.sessions.delete(this);
  }

  connectionCount(): number {
    return 1;
  }
}

export interface TestNetworkOptions {
  name?: string;
  capabilities?: readonly Capability[];
  registrationRequired?: boolean;
  /** A network that asks for nothing: no registration fields (any registration is accepted), no jabber:iq:gateway prompt, no commands of its own. */
  minimal?: boolean;
}

/** A fresh test network and the world behind it. */
export function createTestNetwork(options: TestNetworkOptions = {}): { network: Network; world: TestWorld } {
  const world = new TestWorld();
  world.registrationRequired = options.registrationRequired ?? false;
  const network: Network = {
    name: options.name ?? 'test',
    identityType: 'test',
    displayName: 'Test network gateway',
    capabilities: new Set(options.capabilities ?? ALL_CAPABILITIES),
    get registrationRequired() {
      return world.registrationRequired;
    },
    addresses: {
      async parse(local, handles) {
        if (local.startsWith('#')) return /^#[^\s%@/]+$/.test(local) ? { kind: 'room', id: local.toLowerCase() } : null;
        if (local.startsWith('!')) {
          const id = await handles.roomForHandle(local.slice(1));
          return id ? { kind: 'room', id } : null;
        }
        if (/^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/i.test(local)) return { kind: 'server', id: local.toLowerCase() };
        if (/^[a-z0-9._-]+$/i.test(local)) return { kind: 'contact', id: local.toLowerCase() };
        return null;
      },
      async format(address, handles) {
        if (address.kind === 'room' && address.id.startsWith('!')) return `!${await handles.roomHandle(address.id)}`;
        return address.id;
      },
    },
    registrationForm: () => ({
      instructions: 'Enter your test network username and password.',
      fields: [
        { var: 'username', label: 'Username', type: 'text-single', required: true },
        { var: 'password', label: 'Password', type: 'text-private', required: true },
      ],
    }),
    async register(_userJid, values) {
      if (!values.username) throw new GatewayError('not-acceptable', 'A username is required.');
      if (values.password !== TEST_PASSWORD) throw new GatewayError('not-authorized', 'Login failed: wrong password.');
      return { accountKey: '', credentials: { username: values.username, password: values.password }, settings: {} };
    },
    async login(account, sink) {
      const session = new TestSession(world, account.userJid, sink);
      world.sessions.add(session);
      world.calls.push({ user: account.userJid, method: 'login', args: [account] });
      sink.connectionState('connecting', 'connecting to the test network');
      queueMicrotask(() => sink.connectionState('online'));
      return session;
    },
    contactFromPrompt(prompt) {
      const id = prompt.trim().toLowerCase();
      return /^[a-z0-9._-]+$/.test(id) ? { kind: 'contact', id } : null;
    },
    commands: [
      {
        node: 'test-echo',
        name: 'Echo (test network command)',
        async form() {
          return { title: 'Echo', fields: [{ var: 'text', label: 'Text', type: 'text-single', required: true }] };
        },
        async run(_user, values) {
          return `echo: ${values.text ?? ''}`;
        },
      },
    ],
  };
  if (options.minimal) {
    network.registrationForm = () => ({ instructions: 'Nothing to fill in.', fields: [] });
    network.register = async () => ({ accountKey: '', credentials: {} });
    delete network.contactFromPrompt;
    delete (network as { commands?: unknown }).commands;
  }
  return { network, world };
}
