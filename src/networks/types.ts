// The contract between the network-neutral core and one network (IRC,
// Matrix, ...). A network never builds stanzas and never sees a JID: the XMPP
// side turns stanzas into calls on NetworkSession, and the network pushes what
// happens on its side into the EventSink it was given at login.
import type { IncomingMessage, OutgoingMessage, SentReceipt, ChatState } from '../core/message.js';

/** What a network can really do; disco and the core offer only what is declared. */
export type Capability =
  | 'rooms' // group chats (MUC)
  | 'contacts' // one-to-one chats with network users
  | 'private-messages' // messages to a room occupant
  | 'room-password'
  | 'topic' // set the subject
  | 'nick-change'
  | 'kick'
  | 'ban'
  | 'roles' // change roles/affiliations
  | 'invites'
  | 'room-list' // disco#items listing of rooms
  | 'corrections'
  | 'retractions'
  | 'reactions'
  | 'replies'
  | 'chat-states'
  | 'displayed-markers'
  | 'attachments'
  | 'history' // backfill on join / MAM past our archive
  | 'avatars';

export type FormFieldType = 'text-single' | 'text-private' | 'text-multi' | 'boolean' | 'list-single' | 'fixed';

/** One field of a registration or settings form (rendered as XEP-0004 by the XMPP side). */
export interface FormField {
  var: string;
  label: string;
  type: FormFieldType;
  required?: boolean;
  /** Shown as the field's description. */
  desc?: string;
  options?: { label: string; value: string }[];
  /** Default or current value (text-multi: lines separated by "\n"). */
  value?: string;
}

/**
 * A thing on the network, as the network names it. `id` is the network's own
 * canonical identifier, opaque to the core (e.g. IRC `#chan%irc.libera.chat`,
 * Matrix `!AbC:matrix.org`); two addresses name the same thing iff kind and id
 * are equal.
 */
export interface NetworkAddress {
  kind: 'room' | 'contact' | 'server';
  id: string;
}

/** Access to stable handles for network ids that cannot go into a JID as they are. */
export interface HandleStore {
  /** A lowercase, JID-safe handle for this room id (created on first use, stable forever). */
  roomHandle(networkId: string): Promise<string>;
  roomForHandle(handle: string): Promise<string | null>;
  contactHandle(networkId: string): Promise<string>;
  contactForHandle(handle: string): Promise<string | null>;
}

/** Maps JID localparts (already XEP-0106 unescaped) to network addresses and back. One place per network. */
export interface AddressCodec {
  /** null: this localpart names nothing on the network (the XMPP side answers item-not-found / jid-malformed). */
  parse(localpart: string, handles: HandleStore): Promise<NetworkAddress | null>;
  format(address: NetworkAddress, handles: HandleStore): Promise<string>;
}

export type Role = 'moderator' | 'participant' | 'visitor' | 'none';
export type Affiliation = 'owner' | 'admin' | 'member' | 'outcast' | 'none';

export interface Participant {
  nick: string;
  role: Role;
  affiliation: Affiliation;
  /** The participant as a contact, where the network can tell (for a real JID in non-anonymous rooms). */
  contact?: NetworkAddress;
  /**
   * Presence show, if the network knows the participant is away etc. An
   * update (participantChanged) keeps the previous show unless the key is
   * present: set it to undefined to say "available again".
   */
  show?: 'away' | 'xa' | 'dnd' | 'chat';
  status?: string;
}

/** The XMPP user's own presence (RFC 6121 show and status); no show: available. */
export interface UserPresence {
  show?: 'away' | 'xa' | 'dnd' | 'chat';
  status?: string;
}

export interface Subject {
  text: string;
  /** Nick of who set it, if known. */
  by?: string;
  at?: Date;
}

export interface JoinedRoom {
  /** The nick the network gave the user (may differ from the requested one: status 210). */
  nick: string;
  /** Everyone else in the room. */
  participants: Participant[];
  /** The user's own role and affiliation. */
  role: Role;
  affiliation: Affiliation;
  subject?: Subject;
  /** Recent history the network offers on join, oldest first. */
  history?: Array<{ nick: string; message: IncomingMessage }>;
  name?: string;
  /** The room did not exist and was created by this join (status 201). */
  created?: boolean;
}

export interface RoomInfo {
  name?: string;
  description?: string;
  subject?: string;
  occupants?: number;
  passwordProtected?: boolean;
  membersOnly?: boolean;
  moderated?: boolean;
  public?: boolean;
  avatar?: { data: Buffer; type: string };
}

export interface ContactInfo {
  name?: string;
  nick?: string;
  url?: string;
  description?: string;
  avatar?: { data: Buffer; type: string };
}

export interface RoomListing {
  items: Array<{ address: NetworkAddress; name?: string; occupants?: number; topic?: string }>;
  /** Opaque continuation token for the next page, if any. */
  next?: string;
  total?: number;
}

export type ConnectionState = 'connecting' | 'online' | 'reconnecting' | 'failed' | 'offline';

/** The user an XMPP-side session belongs to, with what the store keeps for this network. */
export interface AccountInfo {
  /** Bare JID of the XMPP user (lowercased). */
  userJid: string;
  /** Registrations for this network (e.g. one per IRC server, one Matrix login); may be empty. */
  accounts: Array<{ accountKey: string; credentials: Record<string, unknown>; settings: Record<string, unknown> }>;
}

export interface NetworkContext {
  handles: HandleStore;
  log: import('../log.js').Logger;
  /**
   * Updates what the store keeps for one of a user's accounts (a sync
   * position, a refreshed access token): credentials replace the sealed
   * ones, settings are merged into the stored ones. False if the user has no
   * such account (any more).
   */
  updateAccount?(userJid: string, accountKey: string, update: { credentials?: Record<string, unknown>; settings?: Record<string, unknown> }): Promise<boolean>;
  /**
   * A URL on ponte's own HTTP server under which the user's XMPP client can
   * fetch a file the network keeps behind the user's login; ponte serves it
   * through Network.fetchMedia. Null when ponte serves no media.
   */
  mediaUrl?(userJid: string, reference: string, fileName?: string): string | null;
}

/** A file a network hands out for a media link: its type, its length when known, and its bytes as they come. */
export interface MediaFile {
  type: string;
  length?: number;
  body: AsyncIterable<Uint8Array>;
  /** Stops the download (the client went away, the file is too large). */
  cancel(): void;
}

/** What happens on the network, pushed into the core. Room and contact are NetworkAddresses. */
export interface EventSink {
  /**
   * The state of the user's connection; with `server`, of the connection to
   * that network server only (a network with one connection per server,
   * such as IRC). 'offline' for a server: that connection was closed on
   * purpose (nothing left to do there).
   */
  connectionState(state: ConnectionState, detail?: string, server?: NetworkAddress): void;
  /** A message in a room (including the user's own, if the network echoes it: set `own`). */
  roomMessage(room: NetworkAddress, nick: string, message: IncomingMessage): void;
  /** A one-to-one message from a contact, or a private message from a room occupant (`viaRoom`). */
  directMessage(from: NetworkAddress, message: IncomingMessage, viaRoom?: { room: NetworkAddress; nick: string }): void;
  participantJoined(room: NetworkAddress, participant: Participant): void;
  participantLeft(room: NetworkAddress, nick: string, reason?: string): void;
  /** Many participants leaving at once (a netsplit): the core may summarise. */
  participantsLeft?(room: NetworkAddress, nicks: string[], reason?: string): void;
  nickChanged(room: NetworkAddress, oldNick: string, newNick: string): void;
  participantChanged(room: NetworkAddress, participant: Participant): void;
  /** Someone was removed; if `nick` is the user's own, the user is out of the room. */
  kicked(room: NetworkAddress, nick: string, by?: string, reason?: string): void;
  banned(room: NetworkAddress, nick: string, by?: string, reason?: string): void;
  subjectChanged(room: NetworkAddress, subject: Subject): void;
  /**
   * The room's name or avatar changed on the network: `name` is the new name
   * ('' when it has none any more), `avatar` that roomInfo now tells another
   * avatar (or none).
   */
  roomInfoChanged?(room: NetworkAddress, change: { name?: string; avatar?: boolean }): void;
  /** The user is no longer in the room for another reason (the server closed it, a forced part). */
  roomLeft(room: NetworkAddress, reason: string): void;
  invited(room: NetworkAddress, by: NetworkAddress | undefined, reason?: string, password?: string): void;
  chatState(conversation: NetworkAddress, from: string, state: ChatState): void;
  corrected(conversation: NetworkAddress, from: string, targetId: string, message: IncomingMessage): void;
  retracted(conversation: NetworkAddress, from: string, targetId: string): void;
  reacted(conversation: NetworkAddress, from: string, targetId: string, emojis: string[]): void;
  displayed(conversation: NetworkAddress, from: string, upToId: string): void;
  contactPresence(contact: NetworkAddress, show: 'available' | 'away' | 'xa' | 'dnd' | 'offline', status?: string): void;
  /** A notice from the network itself (server messages, services), shown as a message from the gateway or server JID. */
  notice(from: NetworkAddress | null, text: string): void;
}

/** What NetworkSession.history returns: oldest first, at most `limit`. */
export interface HistoryQuery {
  /** Only messages older than this one (a network message id, e.g. the archive's oldest); none when it is unknown. */
  before?: string;
  after?: string;
  start?: Date;
  end?: Date;
  limit: number;
}

/** One user's live connection(s) to the network. Optional methods exist iff the capability is declared. */
export interface NetworkSession {
  joinRoom(room: NetworkAddress, nick: string, options: { password?: string }): Promise<JoinedRoom>;
  leaveRoom(room: NetworkAddress, reason?: string): Promise<void>;
  /** Resolves when the network accepted the message, with the id(s) it got there. */
  send(to: NetworkAddress, message: OutgoingMessage): Promise<SentReceipt>;
  sendPrivate?(room: NetworkAddress, nick: string, message: OutgoingMessage): Promise<SentReceipt>;
  setSubject?(room: NetworkAddress, subject: string): Promise<void>;
  changeNick?(room: NetworkAddress, nick: string): Promise<string>;
  kick?(room: NetworkAddress, nick: string, reason?: string): Promise<void>;
  ban?(room: NetworkAddress, nick: string, reason?: string): Promise<void>;
  setRole?(room: NetworkAddress, nick: string, role: Role): Promise<void>;
  setAffiliation?(room: NetworkAddress, nick: string, affiliation: Affiliation): Promise<void>;
  /**
   * The room's bans as the network keeps them (with 'ban'): `who` is what
   * the network bans (an IRC mask, a user id); the XMPP side lists it as the
   * outcast's nick, and setAffiliation(room, who, 'none') lifts it.
   */
  banList?(room: NetworkAddress): Promise<Array<{ who: string; by?: string; at?: Date }>>;
  invite?(room: NetworkAddress, contact: NetworkAddress, reason?: string): Promise<void>;
  correct?(to: NetworkAddress, targetIds: string[], message: OutgoingMessage): Promise<SentReceipt>;
  retract?(to: NetworkAddress, targetIds: string[]): Promise<void>;
  /** `xmppId`: the id of the reactions stanza, when the client gave one (a resend of it must not react twice). */
  react?(to: NetworkAddress, targetId: string, emojis: string[], xmppId?: string): Promise<void>;
  setChatState?(to: NetworkAddress, state: ChatState): Promise<void>;
  markDisplayed?(to: NetworkAddress, upToId: string): Promise<void>;
  roomInfo?(room: NetworkAddress): Promise<RoomInfo>;
  contactInfo?(contact: NetworkAddress): Promise<ContactInfo>;
  /** What the network tells of a room occupant it gives no contact for (by nick). */
  occupantInfo?(room: NetworkAddress, nick: string): Promise<ContactInfo>;
  listRooms?(server: NetworkAddress | null, page: { limit: number; after?: string }): Promise<RoomListing>;
  history?(conversation: NetworkAddress, query: HistoryQuery): Promise<Array<{ nick: string; message: IncomingMessage }>>;
  /**
   * Bouncer mode: whether the user stays in `room` on the network when their
   * last XMPP resource leaves it. Then the XMPP side keeps the room (what is
   * said there goes on into the archive and the room's recent history) and a
   * resource joining later finds it as it is now.
   */
  keepsRoom?(room: NetworkAddress): boolean;
  /**
   * The user's own presence as their XMPP resources show it (the most
   * available one), or null once none is available: the session stays
   * (bouncer-like), the network shows the user offline.
   */
  setPresence?(presence: UserPresence | null): Promise<void>;
  /**
   * The user asked to subscribe to `contact` (added it to their roster): the
   * network prepares the conversation (Matrix opens or reuses the direct
   * chat) and tells the contact's name. Throws GatewayError (item-not-found)
   * when the network has no such contact.
   */
  addContact?(contact: NetworkAddress): Promise<{ name?: string }>;
  /** Drop and re-establish the connection(s). */
  reconnect?(): Promise<void>;
  /** The user's stored accounts changed (settings saved): use them from the next connection on. */
  accountsChanged?(accounts: StoredAccount[]): void;
  /** Ends the session, telling the network why (an IRC QUIT message, say). */
  close(reason: string): Promise<void>;
  /** Open connections, for /health and /metrics. */
  connectionCount(): number;
}

/** A network-specific ad-hoc command (XEP-0050) offered on the gateway domain. */
export interface NetworkCommand {
  node: string;
  name: string;
  /** The form to show; omitted: the command runs at once. */
  form?(userJid: string): Promise<{ title: string; instructions?: string; fields: FormField[] }>;
  run(userJid: string, values: Record<string, string>, session: NetworkSession | null): Promise<string>;
}

/** Where a settings command applies: the gateway domain (the user's defaults), a server JID or a room JID. */
export type SettingsScope = { kind: 'gateway' } | { kind: 'server' | 'room'; address: NetworkAddress };

/** One stored account row of the user on a network (credentials decrypted). */
export interface StoredAccount {
  accountKey: string;
  credentials: Record<string, unknown>;
  settings: Record<string, unknown>;
}

/**
 * Per-user settings at several scopes, offered as the ad-hoc command
 * "configure" (XEP-0050) on the gateway domain, on server JIDs and on room
 * JIDs. The XMPP side keeps them in the store's account rows (credentials
 * sealed, settings as JSON) and tells an open session (accountsChanged).
 */
export interface NetworkSettings {
  /** Whether this scope has settings (e.g. only rooms and servers the network can name). */
  offers(scope: SettingsScope): boolean;
  /** The account row this scope's values live in (several scopes may share one). */
  accountKey(scope: SettingsScope): string;
  /** The form with the current values; `defaults` is the row of the gateway scope. */
  form(scope: SettingsScope, current: StoredAccount | undefined, defaults: StoredAccount | undefined): { title: string; instructions?: string; fields: FormField[] };
  /** Checks the submitted values and returns the row's whole new content; throws GatewayError with a readable text. */
  apply(scope: SettingsScope, values: Record<string, string>, current: StoredAccount | undefined): { credentials: Record<string, unknown>; settings: Record<string, unknown> };
}

export interface Network {
  /** Config key and registry key: 'irc', 'matrix'. */
  readonly name: string;
  /** The XEP-0030 identity of the gateway domain: category "gateway", this type. */
  readonly identityType: string;
  /** Human-readable name shown by clients in service discovery. */
  readonly displayName: string;
  readonly capabilities: ReadonlySet<Capability>;
  readonly addresses: AddressCodec;
  /** Whether a user must register (XEP-0077) before using the network. */
  readonly registrationRequired: boolean;
  /** Instructions and fields of the registration form; may be empty (nothing to ask). */
  registrationForm(): { instructions: string; fields: FormField[] };
  /**
   * Checks a filled registration form (e.g. tries the login) and returns what
   * to store; throws GatewayError (not-acceptable, not-authorized...) with a
   * readable text otherwise.
   */
  register(userJid: string, values: Record<string, string>, context: NetworkContext): Promise<{
    accountKey: string;
    credentials: Record<string, unknown>;
    settings?: Record<string, unknown>;
  }>;
  /** Opens a session for the user. Connection progress is reported through the sink. */
  login(account: AccountInfo, sink: EventSink, context: NetworkContext): Promise<NetworkSession>;
  /**
   * Fetches a file of a media link (NetworkContext.mediaUrl) with the user's
   * stored login. Throws GatewayError: item-not-found when the network has
   * no such file, forbidden when the login may not read it,
   * remote-server-not-found / undefined-condition when the network fails.
   */
  fetchMedia?(account: AccountInfo, reference: string, options: { maxBytes: number; signal: AbortSignal }, context: NetworkContext): Promise<MediaFile>;
  /** XEP-0100: turns what a user typed (e.g. "alice" or "@alice:matrix.org") into a contact address. */
  contactFromPrompt?(prompt: string): NetworkAddress | null;
  readonly commands?: readonly NetworkCommand[];
  /** Per-user settings forms (ad-hoc "configure" on the gateway, server and room JIDs). */
  readonly settings?: NetworkSettings;
}
