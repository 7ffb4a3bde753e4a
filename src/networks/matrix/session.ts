// One XMPP user's Matrix session in the mode where ponte logs in as the user
// (as matridge does): one /sync loop per user, its position persisted after
// every batch, rooms joined from XMPP as MUC rooms, m.direct rooms as
// one-to-one chats with contacts.
//
// Decisions:
// - First login (no stored position): the first sync only learns the state
//   (rooms, m.direct); old messages are not replayed as new ones: joining a
//   room fills its history from /messages instead.
// - After a restart the loop resumes from the stored position: what was said
//   in direct chats meanwhile arrives once; rooms get their recent history
//   when the user's client joins them again.
// - Rooms the user is in on Matrix are offered as MUC invitations once, at
//   the first sync of a new login; then they are followed silently until
//   joined from XMPP. Invitations become MUC invitations, except direct-chat
//   invitations (is_direct), which are accepted: the first message of a new
//   Matrix contact then arrives from their JID with a subscription request.
// - The nick in a room is the user's Matrix display name (the join's
//   answer carries it, so the client learns it as XEP-0045 status 210); a
//   nick change sets the room-specific display name.
// - A direct chat with a user reuses the first joined room of m.direct for
//   them, else creates one (trusted_private_chat, is_direct) and records it
//   in m.direct, as Element does: at the first message, or as soon as the
//   user adds the contact to their roster (the profile then names it; a
//   user id without a profile is item-not-found).
// - A revoked or expired access token (M_UNKNOWN_TOKEN, soft logout or not)
//   stops the loop and tells the user, as the session state and as a
//   message from the gateway, how to log in again (registration).
// - The user's XMPP presence is their Matrix presence: available or chat ->
//   online, away/xa/dnd -> unavailable (the spec's "idle"), with the status
//   as status_msg; no resource left -> offline. The sync loop polls with
//   set_presence of the same state, so polling never shows online a user
//   whose XMPP clients are all gone; until the XMPP side tells the
//   presence, polling marks nothing (offline).
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../../core/errors.js';
import type { ChatState, IncomingMessage, OutgoingMessage, SentReceipt } from '../../core/message.js';
import type { Logger } from '../../log.js';
import type {
  ContactInfo,
  EventSink,
  UserPresence,
  HistoryQuery,
  JoinedRoom,
  NetworkAddress,
  NetworkContext,
  NetworkSession,
  RoomInfo,
  RoomListing,
} from '../types.js';
import { contactAddress, roomAddress, splitMatrixId } from './addresses.js';
import { isUnknownToken, MatrixApi, toGatewayError, type MatrixCredentials, type MatrixPresence, type RawEvent, type SyncResponse } from './client.js';
import { contentFor, correctionFor, encryptedNotice, EventMapper, incomingFrom, noteThread, RoomView, type Conversation } from './events.js';
import { fetchFile, mayFetch, msgtypeFor } from './media.js';
import { txnIdFor } from './txn.js';

/** Long-poll time of /sync. */
export const SYNC_TIMEOUT_MS = 30_000;
/** The largest avatar put into a vCard. */
export const AVATAR_MAX_BYTES = 1024 * 1024;
/** Messages fetched from /messages when a room is joined. */
export const JOIN_HISTORY = 20;
/** History on demand: at most this many messages per call, from at most HISTORY_PAGES pages of HISTORY_PAGE events. */
export const HISTORY_MAX = 250;
const HISTORY_PAGE = 100;
const HISTORY_PAGES = 5;
const FILTER = JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 50 } } });
const BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

export interface MatrixSessionOptions {
  userJid: string;
  accountKey: string;
  credentials: MatrixCredentials;
  since?: string;
  sink: EventSink;
  context: NetworkContext;
  /** Hosts whose file URLs may be moved into the Matrix media repository (networks.matrix.mediaHosts). */
  mediaHosts: readonly string[];
}

export class MatrixSession implements NetworkSession {
  private readonly api: MatrixApi;
  private readonly log: Logger;
  private readonly sink: EventSink;
  private readonly mapper: EventMapper;
  private readonly views = new Map<string, RoomView>();
  /** Rooms joined from XMPP: room id -> the address XMPP knows it by. */
  private readonly xmppRooms = new Map<string, NetworkAddress>();
  /** m.direct: user id -> room ids. */
  private direct: Record<string, string[]> = {};
  /** Direct chats whose encryption state was looked up (once each). */
  private readonly encryptionChecked = new Set<string>();
  /** Contacts whose presence was reported (a first DM offers the contact once). */
  private readonly announced = new Set<string>();
  private since: string | undefined;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private online = false;
  /** The user's presence as the XMPP side last told it (what /sync's set_presence says). */
  private presence: MatrixPresence = 'offline';
  readonly userId: string;

  constructor(private readonly options: MatrixSessionOptions) {
    this.userId = options.credentials.userId;
    this.log = options.context.log.child({ user: options.userJid });
    this.api = new MatrixApi(options.credentials.baseUrl, this.log, options.credentials);
    this.sink = options.sink;
    this.since = options.since;
    this.mapper = new EventMapper({ sink: this.sink, ownUserId: this.userId, mediaUrl: (mxc, name) => this.mediaUrl(mxc, name) });
  }

  /** Checks the token, reads m.direct, does the first sync, then keeps syncing in the background. */
  async start(): Promise<void> {
    this.sink.connectionState('connecting');
    try {
      const me = await this.api.whoami();
      if (me.user_id !== this.userId) throw new GatewayError('not-authorized', `The access token belongs to ${me.user_id}, not ${this.userId}; register again.`);
      this.direct = await this.api.accountData<Record<string, string[]>>(this.userId, 'm.direct').catch(() => ({}));
      await this.syncOnce(0);
    } catch (err) {
      const error = toGatewayError(err, 'logging in to Matrix');
      this.sink.connectionState('failed', error.message);
      throw error;
    }
    this.online = true;
    this.sink.connectionState('online');
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      try {
        // After a failure, an immediate sync tells at once whether the homeserver is back.
        await this.syncOnce(this.online ? SYNC_TIMEOUT_MS : 0);
        if (!this.online) {
          this.online = true;
          this.sink.connectionState('online');
        }
        failures = 0;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (isUnknownToken(err)) {
          this.loggedOut(err.data.soft_logout === true);
          return;
        }
        const wait = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]!;
        failures += 1;
        const text = toGatewayError(err, 'syncing with the homeserver').message;
        this.log.warn({ err: text, wait }, 'sync failed; retrying');
        if (this.online) {
          this.online = false;
          this.sink.connectionState('reconnecting', text);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.abort.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
    }
  }

  private loggedOut(soft: boolean): void {
    const text = soft
      ? 'Your Matrix session expired (the homeserver signed this device out, "soft logout"). To log in again, register with the Matrix gateway again (your password or a new access token), then run its "Reconnect" command; your Matrix rooms stay as they are.'
      : 'Your Matrix access token was revoked or is no longer valid. To log in again, register with the Matrix gateway again (your password or a new access token), then run its "Reconnect" command.';
    this.online = false;
    this.sink.connectionState('failed', text);
    this.sink.notice(null, text);
  }

  private async syncOnce(timeoutMs: number): Promise<void> {
    const response = await this.api.sync(this.since, FILTER, timeoutMs, this.abort.signal, this.presence);
    if (this.abort.signal.aborted) return;
    const catchUp = this.since === undefined;
    this.handle(response, catchUp);
    this.since = response.next_batch;
    const saved = await this.options.context.updateAccount?.(this.options.userJid, this.options.accountKey, { settings: { since: response.next_batch } });
    if (saved === false) this.log.info('the Matrix account is gone; the sync position is not kept');
  }

  // --- from Matrix --------------------------------------------------------------

  private view(roomId: string): RoomView {
    let view = this.views.get(roomId);
    if (!view) {
      view = new RoomView(roomId, this.userId);
      this.views.set(roomId, view);
    }
    return view;
  }

  /** The direct-chat partner of a room, from m.direct. */
  private partnerOf(roomId: string): string | undefined {
    for (const [userId, rooms] of Object.entries(this.direct)) if (rooms.includes(roomId)) return userId;
    return undefined;
  }

  private conversationOf(roomId: string): Conversation | null {
    const address = this.xmppRooms.get(roomId);
    if (address) return { kind: 'room', address };
    const partner = this.partnerOf(roomId);
    return partner ? { kind: 'direct', contact: contactAddress(partner) } : null;
  }

  private handle(response: SyncResponse, catchUp: boolean): void {
    for (const event of response.account_data?.events ?? []) {
      if (event.type === 'm.direct') this.direct = event.content as Record<string, string[]>;
    }
    for (const [roomId, room] of Object.entries(response.rooms?.join ?? {})) {
      const view = this.view(roomId);
      for (const event of room.state?.events ?? []) view.applyState(event);
      const conversation = catchUp ? null : this.conversationOf(roomId);
      for (const event of room.timeline?.events ?? []) {
        if (!conversation) {
          if (event.state_key !== undefined) view.applyState(event);
          continue;
        }
        try {
          if (conversation.kind === 'direct') this.announce(conversation.contact, event);
          this.mapper.timeline(view, conversation, event);
        } catch (err) {
          this.log.warn({ err: (err as Error).message, roomId, type: event.type }, 'a Matrix event could not be mapped');
        }
      }
      if (conversation) for (const event of room.ephemeral?.events ?? []) this.mapper.ephemeral(view, conversation, event);
    }
    for (const [roomId, room] of Object.entries(response.rooms?.leave ?? {})) {
      const view = this.view(roomId);
      const conversation = catchUp ? null : this.conversationOf(roomId);
      for (const event of room.timeline?.events ?? []) {
        if (conversation) this.mapper.timeline(view, conversation, event);
        else if (event.state_key !== undefined) view.applyState(event);
      }
      this.xmppRooms.delete(roomId);
    }
    for (const [roomId, room] of Object.entries(response.rooms?.invite ?? {})) {
      void this.invited(roomId, room.invite_state?.events ?? []);
    }
    // A new login: the rooms the user is already in on Matrix are offered as invitations, once.
    if (catchUp) {
      for (const roomId of Object.keys(response.rooms?.join ?? {})) {
        if (this.partnerOf(roomId)) continue;
        const alias = this.views.get(roomId)?.canonicalAlias;
        this.sink.invited(roomAddress(alias ?? roomId), undefined, 'You are in this room on Matrix.');
      }
    }
    for (const event of response.presence?.events ?? []) {
      if (!this.direct[event.sender]) continue;
      const show = presenceShow(event.content.presence);
      this.announced.add(event.sender);
      this.sink.contactPresence(contactAddress(event.sender), show, event.content.status_msg);
    }
  }

  /** A first message in a direct chat offers the contact (its presence makes the XMPP side ask for a subscription). */
  private announce(contact: NetworkAddress, event: RawEvent): void {
    if (this.announced.has(contact.id) || event.sender !== contact.id || event.state_key !== undefined) return;
    this.announced.add(contact.id);
    this.sink.contactPresence(contact, 'available');
  }

  private async invited(roomId: string, state: Array<Omit<RawEvent, 'event_id' | 'origin_server_ts'>>): Promise<void> {
    const own = state.find((e) => e.type === 'm.room.member' && e.state_key === this.userId);
    const inviter = own?.sender;
    const alias = state.find((e) => e.type === 'm.room.canonical_alias')?.content.alias;
    if (own?.content.is_direct === true && inviter) {
      try {
        await this.api.join(roomId);
        const rooms = [...(this.direct[inviter] ?? []), roomId];
        this.direct = { ...this.direct, [inviter]: rooms };
        await this.api.setAccountData(this.userId, 'm.direct', this.direct);
      } catch (err) {
        this.log.warn({ err: toGatewayError(err, 'accepting a direct chat').message, roomId }, 'direct chat invitation not accepted');
      }
      return;
    }
    const address = typeof alias === 'string' ? roomAddress(alias) : roomAddress(roomId);
    const reason = typeof own?.content.reason === 'string' ? own.content.reason : undefined;
    this.sink.invited(address, inviter ? contactAddress(inviter) : undefined, reason);
  }

  /**
   * ponte's own link to the file: homeservers that froze unauthenticated
   * media (spec v1.11) serve it only with the user's token, which must not
   * reach XMPP clients, so ponte fetches it when the link is opened.
   */
  private mediaUrl(mxc: string, name?: string): string | null {
    if (!/^mxc:\/\/[^/]+\/[A-Za-z0-9_-]+$/.test(mxc)) return null;
    return this.options.context.mediaUrl?.(this.options.userJid, mxc, name) ?? null;
  }

  // --- to Matrix ----------------------------------------------------------------

  private roomIdOf(address: NetworkAddress): string {
    for (const [roomId, known] of this.xmppRooms) if (known.id === address.id) return roomId;
    throw new GatewayError('not-acceptable', `You are not in ${address.id}; join it first.`);
  }

  /** The room a message to `to` goes to: the joined room, or the direct chat with a contact (created if needed). */
  private async targetRoom(to: NetworkAddress): Promise<string> {
    if (to.kind === 'room') return this.roomIdOf(to);
    if (to.kind !== 'contact') throw new GatewayError('service-unavailable', `${to.id} does not take messages.`);
    return this.directRoom(to.id);
  }

  /** The first joined room of m.direct for a user, if any. */
  private async existingDirectRoom(userId: string): Promise<string | undefined> {
    for (const roomId of this.direct[userId] ?? []) {
      const known = this.views.get(roomId)?.members.get(this.userId)?.membership;
      if (known === 'join') return roomId;
      if (known !== undefined) continue;
      // Not seen since this session started (after a restart the sync resumes without old state): ask.
      const member = await this.api.getState<{ membership?: string }>(roomId, 'm.room.member', this.userId).catch(() => null);
      if (member) {
        this.view(roomId).applyState({ type: 'm.room.member', state_key: this.userId, content: member, sender: this.userId, event_id: '', origin_server_ts: Date.now() });
        if (member.membership === 'join') return roomId;
      }
    }
    return undefined;
  }

  private async directRoom(userId: string): Promise<string> {
    const existing = await this.existingDirectRoom(userId);
    if (existing) return existing;
    try {
      const roomId = await this.api.createRoom({ preset: 'trusted_private_chat', is_direct: true, invite: [userId] });
      this.direct = { ...this.direct, [userId]: [...(this.direct[userId] ?? []), roomId] };
      await this.api.setAccountData(this.userId, 'm.direct', this.direct);
      const view = this.view(roomId);
      view.applyState({ type: 'm.room.member', state_key: this.userId, content: { membership: 'join' }, sender: this.userId, event_id: '', origin_server_ts: Date.now() });
      this.announced.add(userId);
      return roomId;
    } catch (err) {
      throw toGatewayError(err, `opening a direct chat with ${userId}`);
    }
  }

  /** Before the first message to a direct chat: tells the user once if the room is encrypted (read from its state if not seen yet). */
  private async checkEncrypted(roomId: string, contact: NetworkAddress): Promise<void> {
    const view = this.view(roomId);
    if (view.encryptionTold || this.encryptionChecked.has(roomId)) return;
    this.encryptionChecked.add(roomId);
    if (!view.encrypted) {
      const encryption = await this.api.getState<Record<string, unknown>>(roomId, 'm.room.encryption', '').catch(() => null);
      if (encryption) view.applyState({ type: 'm.room.encryption', state_key: '', content: encryption, sender: '', event_id: '', origin_server_ts: Date.now() });
    }
    this.mapper.tellEncrypted(view, { kind: 'direct', contact });
  }

  private async call<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (isUnknownToken(err)) this.loggedOut(err.data.soft_logout === true);
      throw toGatewayError(err, what);
    }
  }

  async joinRoom(room: NetworkAddress, _nick: string): Promise<JoinedRoom> {
    if (room.kind !== 'room') throw new GatewayError('item-not-found', `${room.id} is not a Matrix room.`);
    const roomId = await this.call(`joining ${room.id}`, () => this.api.join(room.id));
    const state = await this.call(`reading the state of ${room.id}`, () => this.api.roomState(roomId));
    const view = new RoomView(roomId, this.userId);
    for (const event of state) view.applyState(event);
    this.views.set(roomId, view);
    const history = await this.recentHistory(roomId, view, JOIN_HISTORY).catch((err: Error) => {
      this.log.info({ err: err.message, roomId }, 'no history on join');
      return [];
    });
    this.xmppRooms.set(roomId, room);
    view.snapshotNicks();
    // Sent during the join: the XMPP side shows it once the join is done, after the history.
    this.mapper.tellEncrypted(view, { kind: 'room', address: room });
    return {
      nick: view.nick(this.userId),
      participants: view.joinedOthers().map((userId) => view.participant(userId)),
      ...view.roleOf(this.userId),
      ...(view.topic ? { subject: { text: view.topic.text, by: view.nick(view.topic.by ?? ''), ...(view.topic.at ? { at: view.topic.at } : {}) } } : {}),
      ...(view.name ? { name: view.name } : {}),
      history,
    };
  }

  /**
   * Recent messages of a room from /messages, oldest first: text and media
   * (stickers too), and a notice for each encrypted one, as live events give.
   */
  private async recentHistory(roomId: string, view: RoomView, limit: number, from?: string): Promise<Array<{ nick: string; message: IncomingMessage }>> {
    const page = await this.api.messages(roomId, { dir: 'b', limit, ...(from ? { from } : {}) });
    return this.historyOf(view, [...page.chunk].reverse());
  }

  /** The messages among history events (oldest first). */
  private historyOf(view: RoomView, events: RawEvent[]): Array<{ nick: string; message: IncomingMessage }> {
    const out: Array<{ nick: string; message: IncomingMessage }> = [];
    for (const event of events) {
      if (event.type === 'm.room.encrypted') {
        out.push({ nick: view.nick(event.sender), message: encryptedNotice(event, this.userId) });
        continue;
      }
      if ((event.type !== 'm.room.message' && event.type !== 'm.sticker') || Object.keys(event.content).length === 0) continue;
      const relates = event.content['m.relates_to'] as { rel_type?: string } | undefined;
      if (relates?.rel_type === 'm.replace') continue;
      view.senders.set(event.event_id, event.sender);
      noteThread(view, event);
      out.push({ nick: view.nick(event.sender), message: incomingFrom(event, event.content, { sink: this.sink, ownUserId: this.userId, mediaUrl: (mxc, name) => this.mediaUrl(mxc, name) }) });
    }
    return out;
  }

  async leaveRoom(room: NetworkAddress, reason?: string): Promise<void> {
    const roomId = this.roomIdOf(room);
    this.xmppRooms.delete(roomId);
    await this.call(`leaving ${room.id}`, () => this.api.leave(roomId, reason));
  }

  async send(to: NetworkAddress, message: OutgoingMessage): Promise<SentReceipt> {
    const roomId = await this.targetRoom(to);
    if (to.kind === 'contact') await this.checkEncrypted(roomId, to);
    const files = (message.attachments ?? []).filter((a) => mayFetch(a.url, this.options.mediaHosts));
    const links = (message.attachments ?? []).filter((a) => !files.includes(a)).map((a) => a.url);
    // Fetched and uploaded before anything is sent: a file that cannot be moved fails the whole message.
    const uploads: Array<Record<string, unknown>> = [];
    for (const file of files) {
      const fetched = await fetchFile(file);
      const mxc = await this.call('uploading a file', () => this.api.upload(fetched.data, fetched.name, fetched.mediaType));
      uploads.push({
        msgtype: msgtypeFor(fetched.mediaType),
        body: fetched.name,
        filename: fetched.name,
        url: mxc,
        info: { mimetype: fetched.mediaType, size: fetched.data.length },
      });
    }
    const text = [message.body, ...links.filter((url) => !message.body.includes(url))].filter((part) => part.trim() !== '').join('\n');
    const ids: string[] = [];
    if (text !== '' || uploads.length === 0) {
      const threadRoot = message.replyTo ? this.view(roomId).threads.get(message.replyTo.id) : undefined;
      const content = contentFor({ ...message, body: text }, threadRoot);
      ids.push(await this.call('sending', () => this.api.send(roomId, 'm.room.message', content, txnIdFor(roomId, message.xmppId))));
    }
    for (const [index, content] of uploads.entries()) {
      ids.push(await this.call('sending a file', () => this.api.send(roomId, 'm.room.message', content, txnIdFor(roomId, message.xmppId, `f${index}`))));
    }
    return { ids };
  }

  async sendPrivate(_room: NetworkAddress, nick: string, message: OutgoingMessage): Promise<SentReceipt> {
    const roomId = this.roomIdOf(_room);
    const userId = this.views.get(roomId)?.userOfNick(nick);
    if (!userId) throw new GatewayError('item-not-found', `Nobody is called ${nick} in this room.`);
    return this.send(contactAddress(userId), message);
  }

  async correct(to: NetworkAddress, targetIds: string[], message: OutgoingMessage): Promise<SentReceipt> {
    const roomId = await this.targetRoom(to);
    const target = targetIds[0];
    if (!target) throw new GatewayError('item-not-found', 'There is no message to correct.');
    const eventId = await this.call('correcting', () => this.api.send(roomId, 'm.room.message', correctionFor(target, message), txnIdFor(roomId, message.xmppId)));
    return { ids: [eventId] };
  }

  async retract(to: NetworkAddress, targetIds: string[]): Promise<void> {
    const roomId = await this.targetRoom(to);
    for (const id of targetIds) await this.call('retracting', () => this.api.redact(roomId, id, txnIdFor(roomId, id, 'r')));
  }

  async react(to: NetworkAddress, targetId: string, emojis: string[], xmppId?: string): Promise<void> {
    const roomId = await this.targetRoom(to);
    const view = this.view(roomId);
    const current = view.ownReactions(targetId);
    const wanted = new Set(emojis);
    for (const key of wanted) {
      if (current.has(key)) continue;
      const content = { 'm.relates_to': { rel_type: 'm.annotation', event_id: targetId, key } };
      // From the stanza's id and the emoji: a client's resend of the same reactions reuses the txn id, so it does not react twice.
      const txnId = txnIdFor(roomId, `${xmppId ?? randomUUID()}\n${key}`, 'a');
      const eventId = await this.call('reacting', () => this.api.send(roomId, 'm.reaction', content, txnId));
      view.addReaction(eventId, targetId, this.userId, key);
    }
    for (const [key, eventId] of current) {
      if (wanted.has(key)) continue;
      await this.call('removing a reaction', () => this.api.redact(roomId, eventId, txnIdFor(roomId, eventId, 'r')));
      view.removeReaction(eventId);
    }
  }

  async setChatState(to: NetworkAddress, state: ChatState): Promise<void> {
    if (to.kind === 'contact' && !(this.direct[to.id]?.length)) return; // no room yet: nothing to type in
    const roomId = await this.targetRoom(to);
    await this.call('sending typing', () => this.api.typing(roomId, this.userId, state === 'composing'));
  }

  async markDisplayed(to: NetworkAddress, upToId: string): Promise<void> {
    const roomId = await this.targetRoom(to);
    await this.call('sending a read receipt', () => this.api.receipt(roomId, upToId));
  }

  async addContact(contact: NetworkAddress): Promise<{ name?: string }> {
    if (contact.kind !== 'contact') throw new GatewayError('item-not-found', `${contact.id} is not a Matrix user.`);
    let profile: { displayname?: string } = {};
    try {
      profile = await this.api.profile(contact.id);
    } catch (err) {
      const error = toGatewayError(err, `reading the profile of ${contact.id}`);
      if (error instanceof GatewayError && error.condition === 'item-not-found') throw new GatewayError('item-not-found', `There is no Matrix user ${contact.id} (the homeserver knows no profile for it).`);
      // Another server's profile may be out of reach for a while: the direct chat can still be opened.
      this.log.info({ err: error.message, contact: contact.id }, 'no profile for a new contact');
    }
    await this.directRoom(contact.id);
    return profile.displayname ? { name: profile.displayname } : {};
  }

  async setPresence(presence: UserPresence | null): Promise<void> {
    const state: MatrixPresence = presence === null ? 'offline' : presence.show === undefined || presence.show === 'chat' ? 'online' : 'unavailable';
    this.presence = state;
    await this.call('setting your presence', () => this.api.setPresence(this.userId, state, presence?.status));
  }

  async setSubject(room: NetworkAddress, subject: string): Promise<void> {
    const roomId = this.roomIdOf(room);
    await this.call('setting the topic', () => this.api.setState(roomId, 'm.room.topic', '', { topic: subject }));
  }

  async changeNick(room: NetworkAddress, nick: string): Promise<string> {
    const roomId = this.roomIdOf(room);
    const view = this.view(roomId);
    await this.call('changing the display name', () =>
      this.api.setState(roomId, 'm.room.member', this.userId, { membership: 'join', displayname: nick }),
    );
    view.applyState({ type: 'm.room.member', state_key: this.userId, content: { membership: 'join', displayname: nick }, sender: this.userId, event_id: '', origin_server_ts: Date.now() });
    return view.nick(this.userId);
  }

  private memberOf(room: NetworkAddress, nick: string): { roomId: string; userId: string } {
    const roomId = this.roomIdOf(room);
    const userId = this.views.get(roomId)?.userOfNick(nick);
    if (!userId) throw new GatewayError('item-not-found', `Nobody is called ${nick} in this room.`);
    return { roomId, userId };
  }

  async kick(room: NetworkAddress, nick: string, reason?: string): Promise<void> {
    const { roomId, userId } = this.memberOf(room, nick);
    await this.call(`kicking ${nick}`, () => this.api.kick(roomId, userId, reason));
  }

  async ban(room: NetworkAddress, nick: string, reason?: string): Promise<void> {
    const { roomId, userId } = this.memberOf(room, nick);
    await this.call(`banning ${nick}`, () => this.api.ban(roomId, userId, reason));
  }

  async invite(room: NetworkAddress, contact: NetworkAddress, reason?: string): Promise<void> {
    const roomId = this.roomIdOf(room);
    await this.call(`inviting ${contact.id}`, () => this.api.invite(roomId, contact.id, reason));
  }

  /**
   * History on demand (MAM paging back past the archive): the messages of a
   * joined room or of the direct chat with a contact (never created for
   * this: no direct room, no history) before the event `query.before` (a
   * token to page from it comes from /context), else the most recent ones;
   * oldest first, at most query.limit.
   */
  async history(conversation: NetworkAddress, query: HistoryQuery): Promise<Array<{ nick: string; message: IncomingMessage }>> {
    const limit = Math.max(0, Math.min(query.limit, HISTORY_MAX));
    if (limit === 0) return [];
    const roomId = conversation.kind === 'contact' ? await this.call('finding the direct chat', () => this.existingDirectRoom(conversation.id)) : this.roomIdOf(conversation);
    if (!roomId) return [];
    const view = this.view(roomId);
    const before = query.before;
    return this.call('reading the history', async () => {
      // No `from`: /messages starts at the latest event.
      let from = before ? (await this.api.eventContext(roomId, before)).start : undefined;
      let more = !before || from !== undefined;
      const events: RawEvent[] = []; // newest first
      let messages: Array<{ nick: string; message: IncomingMessage }> = [];
      // Pages until enough messages came (state events, reactions and edits do not count), bounded.
      for (let pages = 0; more && pages < HISTORY_PAGES && messages.length < limit; pages++) {
        const page = await this.api.messages(roomId, { dir: 'b', limit: Math.min(HISTORY_PAGE, limit), ...(from ? { from } : {}) });
        events.push(...page.chunk);
        messages = this.historyOf(view, [...events].reverse());
        from = page.end;
        more = page.chunk.length > 0 && from !== undefined;
      }
      return messages.slice(-limit);
    });
  }

  /** The public room directory of the user's homeserver, or of another server through it. */
  async listRooms(server: NetworkAddress | null, page: { limit: number; after?: string }): Promise<RoomListing> {
    const own = splitMatrixId(this.userId)?.server;
    const name = server && server.id !== own ? server.id : undefined;
    const answer = await this.call('listing the public rooms', () =>
      this.api.publicRooms({ limit: page.limit, ...(name ? { server: name } : {}), ...(page.after ? { since: page.after } : {}) }),
    );
    return {
      items: answer.chunk.map((room) => ({
        address: roomAddress(room.canonical_alias ?? room.room_id),
        ...(room.name ? { name: room.name } : {}),
        occupants: room.num_joined_members,
        ...(room.topic ? { topic: room.topic } : {}),
      })),
      ...(answer.next_batch ? { next: answer.next_batch } : {}),
      ...(answer.total_room_count_estimate !== undefined ? { total: answer.total_room_count_estimate } : {}),
    };
  }

  async roomInfo(room: NetworkAddress): Promise<RoomInfo> {
    const roomId = [...this.xmppRooms].find(([, known]) => known.id === room.id)?.[0];
    const view = roomId ? this.views.get(roomId) : undefined;
    if (!view) return {};
    const avatar = view.avatarUrl ? await this.avatar(view.avatarUrl) : null;
    return {
      ...(view.name ? { name: view.name } : {}),
      ...(view.topic ? { subject: view.topic.text } : {}),
      occupants: view.joinedOthers().length + 1,
      ...(avatar ? { avatar } : {}),
    };
  }

  async contactInfo(contact: NetworkAddress): Promise<ContactInfo> {
    const profile = await this.call(`reading the profile of ${contact.id}`, () => this.api.profile(contact.id));
    const avatar = profile.avatar_url ? await this.avatar(profile.avatar_url) : null;
    return {
      ...(profile.displayname ? { name: profile.displayname, nick: profile.displayname } : {}),
      url: `https://matrix.to/#/${contact.id}`,
      ...(avatar ? { avatar } : {}),
    };
  }

  /** An avatar image for a vCard (at most AVATAR_MAX_BYTES; none if it cannot be had). */
  private avatar(mxc: string): Promise<{ data: Buffer; type: string } | null> {
    return this.api.download(mxc, AVATAR_MAX_BYTES, this.options.credentials.accessToken).catch(() => null);
  }

  async close(_reason: string): Promise<void> {
    this.abort.abort();
    this.api.stop();
    await this.running?.catch(() => undefined);
  }

  connectionCount(): number {
    return this.online ? 1 : 0;
  }
}

function presenceShow(presence: string | undefined): 'available' | 'away' | 'offline' {
  if (presence === 'online') return 'available';
  if (presence === 'unavailable') return 'away';
  return 'offline';
}
