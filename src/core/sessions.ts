// Sessions: one per (XMPP bare JID, network). A session owns the user's live
// NetworkSession and the state the XMPP side shows for it (rooms joined,
// connection state). Every network event is re-emitted on Core.events with
// the session first, so XMPP-side modules subscribe once for all users.
// Kept per process and rebuilt from the store and the network at start, never
// the only copy of anything durable.
import { EventEmitter } from 'node:events';
import type { ConnectionState, EventSink, Network, NetworkAddress, NetworkSession } from '../networks/types.js';
import type { RoomState } from './rooms.js';

/** Core.events: each EventSink method as an event, with the session first. */
export type SessionEvents = {
  [K in keyof EventSink]-?: [session: Session, ...Parameters<NonNullable<EventSink[K]>>];
} & {
  /** A session was opened (logged in) or closed. */
  opened: [session: Session];
  closed: [session: Session, reason: string];
};

const STATE_RANK: Record<ConnectionState, number> = { online: 4, reconnecting: 3, connecting: 2, failed: 1, offline: 0 };

export class Session {
  /** Rooms the user is in (or joining), by NetworkAddress id. */
  readonly rooms = new Map<string, RoomState>();
  private stateValue: ConnectionState = 'connecting';
  private detailValue = '';
  /** Per network server (by address id), for networks that report them; closed ones are dropped. */
  private readonly servers = new Map<string, { state: ConnectionState; detail: string }>();
  private reportsServers = false;
  private networkSession: NetworkSession | null = null;

  constructor(
    readonly userJid: string,
    /** The gateway domain this session is reached through. */
    readonly domain: string,
    readonly network: Network,
    private readonly events: EventEmitter<SessionEvents>,
  ) {}

  get state(): ConnectionState {
    return this.stateValue;
  }

  /**
   * The state of the connection to one network server: as the network
   * reported it, 'offline' if it reports servers and has no connection
   * there, undefined if it does not report servers (the session's state is
   * all there is).
   */
  serverState(server: NetworkAddress): { state: ConnectionState; detail: string } | undefined {
    const known = this.servers.get(server.id);
    if (known) return known;
    return this.reportsServers ? { state: 'offline', detail: `Not connected to ${server.id}.` } : undefined;
  }

  /**
   * A state change; one for a server makes the session's state the best of
   * its servers (online before reconnecting before connecting before failed),
   * so one server in trouble does not make the whole session look so.
   */
  private setState(state: ConnectionState, detail: string, server: NetworkAddress | undefined): void {
    if (!server) {
      this.stateValue = state;
      this.detailValue = detail;
      return;
    }
    this.reportsServers = true;
    if (state === 'offline') this.servers.delete(server.id);
    else this.servers.set(server.id, { state, detail });
    let best: { state: ConnectionState; detail: string } | undefined;
    for (const entry of this.servers.values()) if (!best || STATE_RANK[entry.state] >= STATE_RANK[best.state]) best = entry;
    // No connection left: the session keeps what it last showed.
    if (best) {
      this.stateValue = best.state;
      this.detailValue = best.detail;
    }
  }

  /** Why the session is in its state, in words for the user ("login failed: wrong password"). */
  get detail(): string {
    return this.detailValue;
  }

  get remote(): NetworkSession {
    if (!this.networkSession) throw new Error(`session of ${this.userJid} on ${this.network.name} is not logged in`);
    return this.networkSession;
  }

  get loggedIn(): boolean {
    return this.networkSession !== null;
  }

  attach(remote: NetworkSession): void {
    this.networkSession = remote;
  }

  room(address: NetworkAddress): RoomState | undefined {
    return this.rooms.get(address.id);
  }

  connectionCount(): number {
    return this.networkSession?.connectionCount() ?? 0;
  }

  /** The EventSink handed to the network: updates state, then re-emits on Core.events. */
  sink(): EventSink {
    const emit = this.events.emit.bind(this.events) as (name: string, ...args: unknown[]) => boolean;
    const session = this;
    return new Proxy({} as EventSink, {
      get(_target, name: string) {
        return (...args: unknown[]) => {
          if (name === 'connectionState') {
            session.setState(args[0] as ConnectionState, (args[1] as string | undefined) ?? '', args[2] as NetworkAddress | undefined);
          }
          emit(name, session, ...args);
        };
      },
    });
  }

  async close(reason: string): Promise<void> {
    const remote = this.networkSession;
    this.networkSession = null;
    this.stateValue = 'offline';
    this.detailValue = reason;
    if (remote) await remote.close(reason);
    this.events.emit('closed', this, reason);
  }
}
