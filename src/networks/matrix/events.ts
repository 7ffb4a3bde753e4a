// Matrix events -> the core's model and EventSink calls, and the core's
// outgoing messages -> Matrix event content. This module knows nothing of
// how the user is logged in (as the user, or later as an Application
// Service): it gets events and the user's id, and calls the sink.
//
// Decisions:
// - Nicks are display names, as Element shows them: a member's display name,
//   else the localpart of their user id; when two members share one, both
//   become "name (@user:server)". A member whose nick changes because of
//   someone else's join (disambiguation) gets a nick change too.
// - Power levels: 100 and more = owner/moderator, 50 and more =
//   admin/moderator, below the room's events_default = visitor, else
//   member/participant.
// - Reactions: XEP-0444 sends the whole set of a sender's reactions, Matrix
//   one event per emoji; the set per (target, sender) is kept here from the
//   events seen (and their redactions), and each change reports the new set.
// - Typing: a member who stops typing gets "paused" (XEP-0085), one who
//   starts "composing". Only m.read receipts of others become displayed
//   markers.
// - Encrypted events (m.room.encrypted) that ponte cannot read become a
//   notice in the conversation saying so, never silence. An encrypted room
//   (m.room.encryption) is told once per join, when it becomes encrypted,
//   or, for a direct chat, at the first message written there: the user's
//   messages go on, unencrypted (as Element shows them, with a warning;
//   refusing to send would make Element's encrypted-by-default DMs useless).
// - Threads (m.thread) become XEP-0461 replies to the thread's root (or to
//   the message a thread message really replies to).
// - Membership: join -> occupant, leave -> gone (kicked when someone else
//   set it), ban -> banned, invite of the user -> MUC invitation; a display
//   name change -> nick change.
// - Room name and avatar (m.room.name, m.room.avatar) that really change are
//   reported (roomInfoChanged): the XMPP side shows them as a configuration
//   change, and reads the name and avatar from the view.
import type { IncomingMessage, OutgoingMessage, Attachment } from '../../core/message.js';
import type { Affiliation, EventSink, NetworkAddress, Participant, Role } from '../types.js';
import { contactAddress, splitMatrixId } from './addresses.js';
import type { RawEvent } from './client.js';
import { htmlToStyling, stripReplyFallback, stylingToHtml } from './format.js';
import { isOurTxn, xmppIdOfTxn } from './txn.js';

/** Told once per joined room (or direct chat) that is encrypted: what goes on there and what does not. */
export const ENCRYPTED_ROOM_NOTICE =
  'This Matrix conversation is end-to-end encrypted, and ponte cannot encrypt: what you write here goes out unencrypted (Matrix clients show it with a warning), and the encrypted messages of others cannot be read through the gateway (each one shows up as a notice).';

export const ENCRYPTED_NOTICE =
  'ponte received an encrypted message here but cannot decrypt it (end-to-end encryption is not supported through the gateway). Read it in a Matrix client, or use an unencrypted room.';

interface Member {
  userId: string;
  membership: string;
  displayname?: string;
}

/** What ponte knows of one Matrix room: members, nicks, power levels, reactions, typing. */
export class RoomView {
  readonly members = new Map<string, Member>();
  private levels: { users: Record<string, number>; usersDefault: number; eventsDefault: number } = { users: {}, usersDefault: 0, eventsDefault: 0 };
  topic: { text: string; by?: string; at?: Date } | undefined;
  name: string | undefined;
  canonicalAlias: string | undefined;
  avatarUrl: string | undefined;
  encrypted = false;
  /** The user was told (ENCRYPTED_ROOM_NOTICE) that this room is encrypted. */
  encryptionTold = false;
  /** target event -> sender -> emoji -> reaction event id */
  private readonly reactions = new Map<string, Map<string, Map<string, string>>>();
  /** reaction event id -> where it counts */
  private readonly reactionIndex = new Map<string, { target: string; sender: string; key: string }>();
  /** Senders of messages seen, event id -> sender (for redactions of messages). */
  readonly senders = new Map<string, string>();
  /** Messages seen in a thread: event id -> the thread's root (a reply to one stays in the thread). */
  readonly threads = new Map<string, string>();
  typing = new Set<string>();
  /** Nicks as last reported, by user id. */
  private readonly shownNicks = new Map<string, string>();
  /** How many joined or invited members have each base name: nick() is then O(1), also in rooms of thousands. */
  private readonly nameCounts = new Map<string, number>();

  constructor(
    readonly roomId: string,
    readonly ownUserId: string,
  ) {}

  private baseName(member: Member): string {
    const name = member.displayname?.trim();
    return name || splitMatrixId(member.userId)?.localpart || member.userId;
  }

  present(userId: string): boolean {
    const membership = this.members.get(userId)?.membership;
    return membership === 'join';
  }

  /** The nick of a user id (disambiguated among present members). */
  nick(userId: string): string {
    const member = this.members.get(userId) ?? { userId, membership: 'leave' };
    const base = this.baseName(member);
    const clashes = (this.nameCounts.get(base) ?? 0) - (counts(member) ? 1 : 0);
    return clashes > 0 ? `${base} (${userId})` : base;
  }

  private countName(member: Member | undefined, delta: 1 | -1): void {
    if (!member || !counts(member)) return;
    const base = this.baseName(member);
    const count = (this.nameCounts.get(base) ?? 0) + delta;
    if (count > 0) this.nameCounts.set(base, count);
    else this.nameCounts.delete(base);
  }

  userOfNick(nick: string): string | undefined {
    for (const member of this.members.values()) if (member.membership === 'join' && this.nick(member.userId) === nick) return member.userId;
    return undefined;
  }

  level(userId: string): number {
    return this.levels.users[userId] ?? this.levels.usersDefault;
  }

  roleOf(userId: string): { role: Role; affiliation: Affiliation } {
    const level = this.level(userId);
    if (level >= 100) return { role: 'moderator', affiliation: 'owner' };
    if (level >= 50) return { role: 'moderator', affiliation: 'admin' };
    if (level < this.levels.eventsDefault) return { role: 'visitor', affiliation: 'member' };
    return { role: 'participant', affiliation: 'member' };
  }

  participant(userId: string): Participant {
    return { nick: this.nick(userId), ...this.roleOf(userId), contact: contactAddress(userId) };
  }

  joinedOthers(): string[] {
    return [...this.members.values()].filter((m) => m.membership === 'join' && m.userId !== this.ownUserId).map((m) => m.userId);
  }

  /** Applies a state event silently (initial state); returns true if it was one this view keeps. */
  applyState(event: RawEvent): void {
    const content = event.content;
    switch (event.type) {
      case 'm.room.member':
        if (event.state_key !== undefined) {
          const member: Member = {
            userId: event.state_key,
            membership: String(content.membership ?? 'leave'),
            ...(typeof content.displayname === 'string' ? { displayname: content.displayname } : {}),
          };
          this.countName(this.members.get(event.state_key), -1);
          this.members.set(event.state_key, member);
          this.countName(member, 1);
        }
        break;
      case 'm.room.power_levels':
        this.levels = {
          users: (content.users as Record<string, number> | undefined) ?? {},
          usersDefault: typeof content.users_default === 'number' ? content.users_default : 0,
          eventsDefault: typeof content.events_default === 'number' ? content.events_default : 0,
        };
        break;
      case 'm.room.topic':
        this.topic = { text: typeof content.topic === 'string' ? content.topic : '', by: event.sender, at: new Date(event.origin_server_ts) };
        break;
      case 'm.room.name':
        this.name = typeof content.name === 'string' ? content.name : undefined;
        break;
      case 'm.room.avatar':
        this.avatarUrl = typeof content.url === 'string' ? content.url : undefined;
        break;
      case 'm.room.canonical_alias':
        this.canonicalAlias = typeof content.alias === 'string' ? content.alias : undefined;
        break;
      case 'm.room.encryption':
        this.encrypted = true;
        break;
    }
  }

  /** Remembers the current nicks as shown (after a join's participant list). */
  snapshotNicks(): void {
    this.shownNicks.clear();
    for (const userId of this.joinedOthers()) this.shownNicks.set(userId, this.nick(userId));
    this.shownNicks.set(this.ownUserId, this.nick(this.ownUserId));
  }

  shownNick(userId: string): string | undefined {
    return this.shownNicks.get(userId);
  }

  setShownNick(userId: string, nick: string | undefined): void {
    if (nick === undefined) this.shownNicks.delete(userId);
    else this.shownNicks.set(userId, nick);
  }

  /** Records a reaction; returns the sender's new set for the target. */
  addReaction(eventId: string, target: string, sender: string, key: string): string[] {
    const bySender = this.reactions.get(target) ?? new Map<string, Map<string, string>>();
    this.reactions.set(target, bySender);
    const keys = bySender.get(sender) ?? new Map<string, string>();
    bySender.set(sender, keys);
    keys.set(key, eventId);
    this.reactionIndex.set(eventId, { target, sender, key });
    return [...keys.keys()];
  }

  /** Removes a redacted reaction; returns where it counted and the sender's remaining set, or null if it was no reaction. */
  removeReaction(eventId: string): { target: string; sender: string; keys: string[] } | null {
    const found = this.reactionIndex.get(eventId);
    if (!found) return null;
    this.reactionIndex.delete(eventId);
    const keys = this.reactions.get(found.target)?.get(found.sender);
    keys?.delete(found.key);
    return { target: found.target, sender: found.sender, keys: [...(keys?.keys() ?? [])] };
  }

  /** The user's own reactions on a target: emoji -> reaction event id. */
  ownReactions(target: string): Map<string, string> {
    return new Map(this.reactions.get(target)?.get(this.ownUserId) ?? []);
  }
}

/** Whether a member's name counts for disambiguation (as Element: joined and invited members). */
function counts(member: Member): boolean {
  return member.membership === 'join' || member.membership === 'invite';
}

/** Where events of a room go: a MUC room, or a one-to-one conversation with a contact (a DM room). */
export type Conversation = { kind: 'room'; address: NetworkAddress } | { kind: 'direct'; contact: NetworkAddress };

export interface MapperOptions {
  sink: EventSink;
  ownUserId: string;
  /** HTTP URL under which the XMPP user can fetch media (mxc://server/id); `name` is the file's name. */
  mediaUrl(mxc: string, name?: string): string | null;
}

/** Turns the text content of an m.room.message (or m.new_content) into the core's message. */
export function incomingFrom(event: RawEvent, content: Record<string, unknown>, options: MapperOptions): IncomingMessage {
  const msgtype = String(content.msgtype ?? 'm.text');
  const relates = event.content['m.relates_to'] as
    | { rel_type?: string; event_id?: string; is_falling_back?: boolean; 'm.in_reply_to'?: { event_id?: string } }
    | undefined;
  // Threads as best they map: a message in a thread is a reply to the thread's root, unless it really replies to one message in it.
  const threadRoot = relates?.rel_type === 'm.thread' ? relates.event_id : undefined;
  const replyTo = threadRoot && relates?.is_falling_back !== false ? threadRoot : (relates?.['m.in_reply_to']?.event_id ?? threadRoot);
  let body = typeof content.body === 'string' ? content.body : '';
  if (replyTo) body = stripReplyFallback(body);
  if (content.format === 'org.matrix.custom.html' && typeof content.formatted_body === 'string') {
    body = htmlToStyling(content.formatted_body) || body;
  }
  const attachments: Attachment[] = [];
  if (['m.image', 'm.file', 'm.video', 'm.audio'].includes(msgtype) || event.type === 'm.sticker') {
    const info = (content.info ?? {}) as { mimetype?: string; size?: number };
    const name = typeof content.filename === 'string' ? content.filename : body;
    const url = typeof content.url === 'string' ? options.mediaUrl(content.url, name) : null;
    if (url) {
      // A sticker's body describes the picture (XEP-0066 desc).
      const description = event.type === 'm.sticker' && body ? { description: body } : {};
      attachments.push({ url, ...(info.mimetype ? { mediaType: info.mimetype } : {}), ...(name ? { name } : {}), ...(typeof info.size === 'number' ? { size: info.size } : {}), ...description });
      // The caption, if any, is the body when a filename is given; else the body is the file name.
      body = typeof content.filename === 'string' && content.filename !== body ? `${body}\n${url}` : url;
    }
  }
  const own = event.sender === options.ownUserId;
  const xmppId = own ? xmppIdOfTxn(event.unsigned?.transaction_id) : undefined;
  return {
    id: event.event_id,
    body,
    ...(msgtype === 'm.emote' ? { action: true } : {}),
    ...(msgtype === 'm.notice' ? { notice: true } : {}),
    timestamp: new Date(event.origin_server_ts),
    ...(replyTo ? { replyTo: { id: replyTo } } : {}),
    ...(attachments.length ? { attachments } : {}),
    ...(own ? { own: true } : {}),
    ...(xmppId ? { xmppId } : {}),
  };
}

/** What an encrypted event ponte cannot read becomes: a notice saying so, never silence. */
export function encryptedNotice(event: RawEvent, ownUserId: string): IncomingMessage {
  return { id: event.event_id, body: ENCRYPTED_NOTICE, notice: true, timestamp: new Date(event.origin_server_ts), ...(event.sender === ownUserId ? { own: true } : {}) };
}

/** Remembers the thread of a message event, if it is in one. */
export function noteThread(view: RoomView, event: RawEvent): void {
  const relates = event.content['m.relates_to'] as { rel_type?: string; event_id?: string } | undefined;
  if (relates?.rel_type === 'm.thread' && typeof relates.event_id === 'string') view.threads.set(event.event_id, relates.event_id);
}

/**
 * The m.room.message content for an outgoing message (text, /me, reply). A
 * reply to a message in a thread (`threadRoot`) stays in the thread: rel_type
 * m.thread with the root, and the real reply target with is_falling_back
 * false, as the spec's threads section has clients do.
 */
export function contentFor(message: OutgoingMessage, threadRoot?: string): Record<string, unknown> {
  const html = stylingToHtml(message.body);
  const reply = message.replyTo ? { 'm.in_reply_to': { event_id: message.replyTo.id } } : undefined;
  const relates = reply && threadRoot ? { rel_type: 'm.thread', event_id: threadRoot, is_falling_back: false, ...reply } : reply;
  return {
    msgtype: message.action ? 'm.emote' : 'm.text',
    body: message.body,
    ...(html ? { format: 'org.matrix.custom.html', formatted_body: html } : {}),
    ...(relates ? { 'm.relates_to': relates } : {}),
  };
}

/** The m.replace content correcting `target`. */
export function correctionFor(target: string, message: OutgoingMessage): Record<string, unknown> {
  const { 'm.relates_to': _ignored, ...newContent } = contentFor({ ...message, replyTo: undefined } as OutgoingMessage);
  return {
    ...newContent,
    body: `* ${message.body}`,
    'm.new_content': newContent,
    'm.relates_to': { rel_type: 'm.replace', event_id: target },
  };
}

/**
 * Maps the timeline and ephemeral events of one room to sink calls. The view
 * is updated as events are applied (state events change it).
 */
export class EventMapper {
  constructor(private readonly options: MapperOptions) {}

  private get sink(): EventSink {
    return this.options.sink;
  }

  /** One timeline event. */
  timeline(view: RoomView, conversation: Conversation, event: RawEvent): void {
    if (event.state_key !== undefined) {
      this.state(view, conversation, event);
      return;
    }
    const nick = view.nick(event.sender);
    const own = event.sender === this.options.ownUserId;
    const where = conversation.kind === 'room' ? conversation.address : conversation.contact;
    const from = conversation.kind === 'room' ? nick : own ? '' : nick;
    // What ponte itself did for the user comes back with its txn id: the XMPP side already shows it.
    const ours = own && isOurTxn(event.unsigned?.transaction_id);
    switch (event.type) {
      case 'm.room.message':
      case 'm.sticker': {
        if (Object.keys(event.content).length === 0) return; // redacted already
        view.senders.set(event.event_id, event.sender);
        noteThread(view, event);
        const relates = event.content['m.relates_to'] as { rel_type?: string; event_id?: string } | undefined;
        if (relates?.rel_type === 'm.replace' && relates.event_id) {
          const newContent = (event.content['m.new_content'] as Record<string, unknown> | undefined) ?? event.content;
          this.sink.corrected(where, from, relates.event_id, incomingFrom(event, newContent, this.options));
          return;
        }
        const message = incomingFrom(event, event.content, this.options);
        this.deliver(conversation, nick, message);
        return;
      }
      case 'm.room.encrypted':
        this.deliver(conversation, nick, encryptedNotice(event, this.options.ownUserId));
        return;
      case 'm.reaction': {
        const relates = event.content['m.relates_to'] as { rel_type?: string; event_id?: string; key?: string } | undefined;
        if (relates?.rel_type !== 'm.annotation' || !relates.event_id || typeof relates.key !== 'string') return;
        const keys = view.addReaction(event.event_id, relates.event_id, event.sender, relates.key);
        if (ours) return;
        this.sink.reacted(where, from, relates.event_id, keys);
        return;
      }
      case 'm.room.redaction': {
        const target = event.redacts ?? (event.content.redacts as string | undefined);
        if (!target) return;
        const reaction = view.removeReaction(target);
        if (ours) return;
        if (reaction) {
          const reactor = conversation.kind === 'room' ? view.nick(reaction.sender) : reaction.sender === this.options.ownUserId ? '' : view.nick(reaction.sender);
          this.sink.reacted(where, reactor, reaction.target, reaction.keys);
          return;
        }
        const sender = view.senders.get(target) ?? event.sender;
        this.sink.retracted(where, conversation.kind === 'room' ? view.nick(sender) : from, target);
        return;
      }
    }
  }

  private deliver(conversation: Conversation, nick: string, message: IncomingMessage): void {
    if (conversation.kind === 'room') this.sink.roomMessage(conversation.address, nick, message);
    else this.sink.directMessage(conversation.contact, message);
  }

  /** A state event in the timeline: membership, topic, power levels... */
  state(view: RoomView, conversation: Conversation, event: RawEvent): void {
    const before = new Map(view.joinedOthers().map((id) => [id, view.participant(id)] as const));
    const ownBefore = view.nick(this.options.ownUserId);
    const previousMembership = event.state_key ? view.members.get(event.state_key)?.membership : undefined;
    const [nameBefore, avatarBefore] = [view.name, view.avatarUrl];
    view.applyState(event);
    if (event.type === 'm.room.encryption') this.tellEncrypted(view, conversation);
    if (conversation.kind !== 'room') return;
    const room = conversation.address;
    switch (event.type) {
      case 'm.room.topic':
        this.sink.subjectChanged(room, { text: view.topic?.text ?? '', by: view.nick(event.sender), at: new Date(event.origin_server_ts) });
        break;
      case 'm.room.name':
        if (view.name !== nameBefore) this.sink.roomInfoChanged?.(room, { name: view.name ?? '' });
        break;
      case 'm.room.avatar':
        if (view.avatarUrl !== avatarBefore) this.sink.roomInfoChanged?.(room, { avatar: true });
        break;
      case 'm.room.member': {
        const target = event.state_key!;
        const membership = String(event.content.membership ?? 'leave');
        const reason = typeof event.content.reason === 'string' ? event.content.reason : undefined;
        if (target === this.options.ownUserId) {
          const shown = view.shownNick(target) ?? ownBefore;
          if (membership === 'leave' && event.sender !== target) this.sink.kicked(room, shown, view.nick(event.sender), reason);
          else if (membership === 'ban') this.sink.banned(room, shown, view.nick(event.sender), reason);
          else if (membership === 'join' && previousMembership === 'join') {
            const now = view.nick(target);
            if (now !== shown) {
              view.setShownNick(target, now);
              this.sink.nickChanged(room, shown, now);
            }
          }
          break;
        }
        const shown = view.shownNick(target);
        if (membership === 'join') {
          if (shown === undefined) {
            view.setShownNick(target, view.nick(target));
            this.sink.participantJoined(room, view.participant(target));
          } else if (shown !== view.nick(target)) {
            view.setShownNick(target, view.nick(target));
            this.sink.nickChanged(room, shown, view.nick(target));
          }
        } else if (shown !== undefined && (membership === 'leave' || membership === 'ban')) {
          view.setShownNick(target, undefined);
          if (membership === 'ban') this.sink.banned(room, shown, view.nick(event.sender), reason);
          else if (event.sender !== target) this.sink.kicked(room, shown, view.nick(event.sender), reason);
          else this.sink.participantLeft(room, shown, reason);
        }
        this.renameClashes(view, room, target);
        break;
      }
      case 'm.room.power_levels':
        for (const userId of view.joinedOthers()) {
          const old = before.get(userId);
          const now = view.participant(userId);
          if (old && (old.role !== now.role || old.affiliation !== now.affiliation)) this.sink.participantChanged(room, now);
        }
        break;
    }
  }

  /** Tells the user once that this conversation is encrypted (sending goes on, unencrypted). */
  tellEncrypted(view: RoomView, conversation: Conversation): void {
    if (!view.encrypted || view.encryptionTold) return;
    view.encryptionTold = true;
    this.sink.notice(conversation.kind === 'room' ? conversation.address : conversation.contact, ENCRYPTED_ROOM_NOTICE);
  }

  /** Others whose disambiguated nick changed because `changed` came, went or was renamed. */
  private renameClashes(view: RoomView, room: NetworkAddress, changed: string): void {
    for (const userId of view.joinedOthers()) {
      if (userId === changed) continue;
      const shown = view.shownNick(userId);
      const now = view.nick(userId);
      if (shown !== undefined && shown !== now) {
        view.setShownNick(userId, now);
        this.sink.nickChanged(room, shown, now);
      }
    }
  }

  /** Ephemeral events: typing and receipts. */
  ephemeral(view: RoomView, conversation: Conversation, event: { type: string; content: Record<string, unknown> }): void {
    const where = conversation.kind === 'room' ? conversation.address : conversation.contact;
    const own = this.options.ownUserId;
    if (event.type === 'm.typing') {
      const now = new Set(((event.content.user_ids as string[] | undefined) ?? []).filter((id) => id !== own));
      for (const userId of now) if (!view.typing.has(userId)) this.sink.chatState(where, view.nick(userId), 'composing');
      for (const userId of view.typing) if (!now.has(userId)) this.sink.chatState(where, view.nick(userId), 'paused');
      view.typing = now;
      return;
    }
    if (event.type === 'm.receipt') {
      for (const [eventId, types] of Object.entries(event.content)) {
        const read = (types as Record<string, Record<string, unknown>>)['m.read'] ?? {};
        for (const userId of Object.keys(read)) {
          if (userId === own) continue;
          this.sink.displayed(where, view.nick(userId), eventId);
        }
      }
    }
  }
}
