// One XMPP user's IRC session: one connection per IRC server, opened by the
// first join to that server, shared by all the user's resources and closed
// (QUIT) when the user leaves the last channel there, or the server removes
// them from it (KICK, an unasked PART), unless bouncer mode keeps it.
//
// Decisions:
// - The nick is server-wide (as on IRC): the first join's nick registers the
//   connection; later joins get the connection's nick (the XMPP side tells
//   the client with status 210).
// - A message to `server@domain` is sent as raw IRC lines on the user's own
//   connection to that server (which must be open: join a channel first);
//   the server's numeric replies come back from the server JID (raw-replies.ts).
// - Private answers come back on the JID the user wrote to (as biboumi does):
//   after the user wrote to `#chan%server/nick`, what `nick` sends privately
//   comes from that occupant JID while both are in the channel; after the
//   user wrote to `nick%server`, from there again.
// - A message to `nick%server` needs an open connection to that server too.
// - Bouncer mode: a channel marked persistent (or every channel of a server
//   marked so) stays joined when the user's last resource leaves it; the
//   connection stays while such a channel is joined (keepsRoom).
import { GatewayError } from '../../core/errors.js';
import type { ChatState, OutgoingMessage, SentReceipt } from '../../core/message.js';
import type { Logger } from '../../log.js';
import type { Affiliation, ContactInfo, EventSink, JoinedRoom, NetworkAddress, NetworkSession, Role, RoomListing, StoredAccount } from '../types.js';
import { chanTypesOf, contactAddress, ircLower, isNick, splitId, type ChannelTypes, type IrcSettings } from './addresses.js';
import { IrcConnection, participantOf, roleOf, type ConnectionPolicy } from './connection.js';
import { ChannelListCache, runList } from './list.js';
import { withReplies } from './raw-replies.js';
import { defaultNick, profileFor, storedChannelKey, type IrcUser } from './runtime.js';
import { isPersistent } from './settings.js';

export class IrcSession implements NetworkSession {
  private readonly connections = new Map<string, IrcConnection>();
  /** Connections saying QUIT: a new connection to that server waits for it, so the nick is free again. */
  private readonly quitting = new Map<string, Promise<void>>();
  /** Joins under way per server: a connection is not closed under them. */
  private readonly joining = new Map<string, number>();
  /** Contact id (`nick%server`) -> the room whose occupant JID the user last wrote to that nick through. */
  private readonly privateVia = new Map<string, NetworkAddress>();

  constructor(
    private readonly settings: IrcSettings,
    private readonly policy: ConnectionPolicy,
    private readonly sink: EventSink,
    private readonly log: Logger,
    private readonly user: IrcUser,
    private readonly chanTypes?: ChannelTypes,
  ) {}

  private readonly channelLists = new ChannelListCache();

  async joinRoom(room: NetworkAddress, nick: string, options: { password?: string }): Promise<JoinedRoom> {
    if (room.kind !== 'room') throw new GatewayError('item-not-found', `${room.id} is not an IRC channel.`);
    const { name: channel, server } = splitId(room.id);
    if (!this.connections.get(server)) await this.quitting.get(server);
    if (!this.connections.has(server) && !isNick(nick)) {
      throw new GatewayError('jid-malformed', `${nick} is not a valid IRC nickname (no spaces, and none of , ! @ * ? : . %).`);
    }
    const connection = this.connectionTo(server, nick);
    this.joining.set(server, (this.joining.get(server) ?? 0) + 1);
    let joined;
    try {
      await connection.connect();
      joined = await connection.join(channel, options.password || storedChannelKey(this.user, room.id));
    } catch (err) {
      if (connection.channels.size === 0 && this.joining.get(server) === 1) await connection.quit('join failed');
      throw err;
    } finally {
      const left = (this.joining.get(server) ?? 1) - 1;
      if (left > 0) this.joining.set(server, left);
      else this.joining.delete(server);
    }
    return {
      nick: joined.nick,
      participants: joined.members.map(participantOf),
      ...roleOf(joined.ownModes),
      ...(joined.subject ? { subject: joined.subject } : {}),
      ...(joined.history ? { history: joined.history } : {}),
    };
  }

  /** The connection to `server`, made (not yet connected) with the user's settings if there is none. */
  private connectionTo(server: string, nick: string): IrcConnection {
    let connection = this.connections.get(server);
    if (!connection) {
      const profile = profileFor(this.user, server, nick);
      connection = new IrcConnection(server, profile, profile.nick, this.sinkFor(server), this.log, this.policy, (gone) => {
        if (this.connections.get(server) === gone) this.connections.delete(server);
      });
      connection.nickSuffix = this.settings.nickSuffix ?? connection.nickSuffix;
      // Removed by the server from the last channel: closed as the user's last leave is, unless bouncer mode keeps it.
      const made = connection;
      made.onChannelLost = (channel) => {
        if (isPersistent(this.user.accounts, server, channel)) return;
        this.closeIfIdle(server, made, `removed from ${channel}`).catch((err: Error) =>
          this.log.warn({ server, err: err.message }, 'IRC connection not closed after a removal'),
        );
      };
      const { client } = connection;
      client.on('server options', () => this.chanTypes?.learn(server, chanTypesOf(client.network.supports('CHANTYPES'))));
      this.connections.set(server, connection);
    }
    return connection;
  }

  /**
   * The sink of one connection: its state is that server's (the server JID
   * shows it); private messages answer on the JID the user wrote to, also
   * after the other side changed nick.
   */
  private sinkFor(server: string): EventSink {
    const sink = this.sink;
    const connections = this.connections;
    const privateVia = this.privateVia;
    const address: NetworkAddress = { kind: 'server', id: server };
    const connectionState: EventSink['connectionState'] = (state, detail) => sink.connectionState(state, detail, address);
    // A renamed member is still the one the user wrote to.
    const nickChanged: EventSink['nickChanged'] = (room, oldNick, newNick) => {
      const before = contactAddress(oldNick, server).id;
      const via = privateVia.get(before);
      if (via?.id === room.id) {
        privateVia.delete(before);
        privateVia.set(contactAddress(newNick, server).id, via);
      }
      sink.nickChanged(room, oldNick, newNick);
    };
    return new Proxy(sink, {
      get(target, name, receiver) {
        if (name === 'connectionState') return connectionState;
        if (name === 'nickChanged') return nickChanged;
        if (name !== 'directMessage') return Reflect.get(target, name, receiver);
        const directMessage: EventSink['directMessage'] = (from, message, viaRoom) => {
          const room = viaRoom ? undefined : privateVia.get(from.id);
          const state = room ? connections.get(server)?.channels.get(ircLower(splitId(room.id).name)) : undefined;
          // The nick as the room shows it (the occupant JID's resource), while the sender is still there.
          const member = state?.joined ? state.members.get(ircLower(splitId(from.id).name)) : undefined;
          if (room && member) sink.directMessage(from, message, { room, nick: member.nick });
          else sink.directMessage(from, message, viaRoom);
        };
        return directMessage;
      },
    });
  }

  async listRooms(server: NetworkAddress | null, page: { limit: number; after?: string }): Promise<RoomListing> {
    const name = server?.kind === 'server' ? server.id : this.settings.fixedServer?.toLowerCase();
    if (!name) throw new GatewayError('item-not-found', 'Name the IRC server whose channels to list (server@gateway).');
    return this.channelLists.page(name, page.limit, page.after, async () => {
      if (!this.connections.get(name)) await this.quitting.get(name);
      const connection = this.connectionTo(name, defaultNick(this.user.jid));
      await connection.connect();
      try {
        return await runList(connection.client, name);
      } finally {
        // A connection opened only to list is not kept.
        if (connection.channels.size === 0 && this.connections.get(name) === connection) {
          this.connections.delete(name);
          const done = connection.quit('channel list read').finally(() => {
            if (this.quitting.get(name) === done) this.quitting.delete(name);
          });
          this.quitting.set(name, done);
          await done;
          if (!this.connections.has(name)) this.sink.connectionState('offline', `Not connected to ${name}.`, { kind: 'server', id: name });
        }
      }
    });
  }

  /** Bouncer mode: a persistent channel (or server) keeps the user in it while no XMPP resource is. */
  keepsRoom(room: NetworkAddress): boolean {
    if (room.kind !== 'room') return false;
    const { name, server } = splitId(room.id);
    return this.connections.get(server)?.isIn(name) === true && isPersistent(this.user.accounts, server, name);
  }

  accountsChanged(accounts: StoredAccount[]): void {
    this.user.accounts = accounts;
  }

  async leaveRoom(room: NetworkAddress, reason?: string): Promise<void> {
    const { name: channel, server } = splitId(room.id);
    const connection = this.connections.get(server);
    if (!connection) return;
    connection.part(channel, reason);
    await this.closeIfIdle(server, connection, reason || 'left the last channel');
  }

  /** QUIT when no channel is joined or being joined on `connection` any more; the server JID shows offline. */
  private async closeIfIdle(server: string, connection: IrcConnection, reason: string): Promise<void> {
    if (this.connections.get(server) !== connection || connection.channels.size > 0 || this.joining.has(server)) return;
    this.connections.delete(server);
    const done = connection.quit(reason).finally(() => {
      if (this.quitting.get(server) === done) this.quitting.delete(server);
    });
    this.quitting.set(server, done);
    await done;
    // The server JID shows it (unless a join opened a new connection meanwhile).
    if (!this.connections.has(server)) this.sink.connectionState('offline', `Not connected to ${server} (${reason}).`, { kind: 'server', id: server });
  }

  private connectionFor(server: string): IrcConnection {
    const connection = this.connections.get(server);
    if (!connection?.open) {
      throw new GatewayError('recipient-unavailable', `You are not connected to ${server}; join one of its channels first.`);
    }
    return connection;
  }

  async send(to: NetworkAddress, message: OutgoingMessage): Promise<SentReceipt> {
    if (to.kind === 'server') {
      const connection = this.connectionFor(to.id);
      const ids = await withReplies(connection.client, (text) => connection.rawLines(text), message.body, (reply) => this.sink.notice(to, reply));
      return { ids };
    }
    const { name, server } = splitId(to.id);
    const connection = this.connectionFor(server);
    if (to.kind === 'contact') this.privateVia.delete(to.id);
    if (to.kind === 'room' && !connection.isIn(name)) throw new GatewayError('not-acceptable', `You are not in ${name}; join it first.`);
    return { ids: await connection.say(name, message.body, message.action === true, message.replyTo) };
  }

  async sendPrivate(room: NetworkAddress, nick: string, message: OutgoingMessage): Promise<SentReceipt> {
    const { server } = splitId(room.id);
    if (!isNick(nick)) throw new GatewayError('item-not-found', `${nick} cannot be an IRC nickname.`);
    this.privateVia.set(contactAddress(nick, server).id, room);
    return { ids: await this.connectionFor(server).say(nick, message.body, message.action === true, message.replyTo) };
  }

  /** Typing (XEP-0085) as IRCv3 +typing where the server carries it; a hint, never an error. */
  async setChatState(to: NetworkAddress, state: ChatState): Promise<void> {
    if (to.kind === 'server') return;
    const { name, server } = splitId(to.id);
    const connection = this.connections.get(server);
    if (connection?.online && (to.kind !== 'room' || connection.isIn(name))) connection.sendTyping(name, state);
  }

  async react(to: NetworkAddress, targetId: string, emojis: string[]): Promise<void> {
    if (to.kind === 'server') throw new GatewayError('feature-not-implemented', 'Reactions go to channels and people, not to the server.');
    const { name, server } = splitId(to.id);
    await this.connectionFor(server).react(name, targetId, emojis);
  }

  async setSubject(room: NetworkAddress, subject: string): Promise<void> {
    const { name, server } = splitId(room.id);
    await this.connectionFor(server).setTopic(name, subject);
  }

  async changeNick(_room: NetworkAddress, nick: string): Promise<string> {
    const { server } = splitId(_room.id);
    if (!isNick(nick)) throw new GatewayError('not-acceptable', `${nick} is not a valid IRC nickname.`);
    return this.connectionFor(server).changeNick(nick);
  }

  /**
   * A user's vCard from what the shared channels told: FN the real name
   * (extended-join), NICKNAME the nick, DESC the services account
   * (extended-join, account-notify). Someone in no shared channel is just a nick.
   */
  async contactInfo(contact: NetworkAddress): Promise<ContactInfo> {
    if (contact.kind !== 'contact') throw new GatewayError('item-not-found', `${contact.id} is not an IRC user.`);
    const { name: nick, server } = splitId(contact.id);
    const member = this.connections.get(server)?.memberProfile(nick);
    if (!member) return { nick };
    return {
      nick: member.nick,
      ...(member.realname ? { name: member.realname } : {}),
      ...(member.account ? { description: `IRC account: ${member.account}` } : {}),
    };
  }

  async occupantInfo(room: NetworkAddress, nick: string): Promise<ContactInfo> {
    return this.contactInfo(contactAddress(nick, splitId(room.id).server));
  }

  async kick(room: NetworkAddress, nick: string, reason?: string): Promise<void> {
    const { name, server } = splitId(room.id);
    return this.connectionFor(server).kick(name, nick, reason);
  }

  async close(reason: string): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.allSettled(all.map((connection) => connection.quit(reason)));
  }

  connectionCount(): number {
    return [...this.connections.values()].filter((connection) => connection.online).length;
  }

  // Channel operations (channel-ops.ts): bans, roles, invitations.

  async ban(room: NetworkAddress, nick: string, reason?: string): Promise<void> {
    const { name, server } = splitId(room.id);
    return this.connectionFor(server).ops.ban(name, nick, reason);
  }

  async banList(room: NetworkAddress): Promise<Array<{ who: string; by?: string; at?: Date }>> {
    const { name, server } = splitId(room.id);
    const bans = await this.connectionFor(server).ops.banList(name);
    return bans.map(({ mask, ...rest }) => ({ who: mask, ...rest }));
  }

  async setAffiliation(room: NetworkAddress, nick: string, affiliation: Affiliation): Promise<void> {
    const { name, server } = splitId(room.id);
    return this.connectionFor(server).ops.setAffiliation(name, nick, affiliation);
  }

  async setRole(room: NetworkAddress, nick: string, role: Role): Promise<void> {
    const { name, server } = splitId(room.id);
    return this.connectionFor(server).ops.setRole(name, nick, role);
  }

  async invite(room: NetworkAddress, contact: NetworkAddress, _reason?: string): Promise<void> {
    const { name: channel, server } = splitId(room.id);
    const { name: nick, server: contactServer } = splitId(contact.id);
    if (contact.kind !== 'contact' || contactServer !== server) {
      throw new GatewayError('not-acceptable', `Only users of ${server} can be invited to ${channel}.`);
    }
    return this.connectionFor(server).ops.invite(channel, nick);
  }
}
