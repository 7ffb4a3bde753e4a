// The network-neutral core: which networks are served on which domain, who
// may use them, and the users' sessions. It knows no XMPP stanza and no
// particular network; the XMPP side (src/xmpp/) calls it and listens to
// Core.events.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import type { Network, NetworkContext, HandleStore, MediaFile } from '../networks/types.js';
import type { Store } from '../store/index.js';
import { AccessPolicy, bareJid } from './access.js';
import { GatewayError } from './errors.js';
import type { MediaLinks, MediaReference } from './media-links.js';
import { Session, type SessionEvents } from './sessions.js';

/** A network served on a gateway domain. */
export interface GatewayDomain {
  /** Network name (registry key, also the store's network column). */
  name: string;
  domain: string;
  network: Network;
}

export class Core {
  readonly events = new EventEmitter<SessionEvents>();
  readonly access: AccessPolicy;
  private readonly byDomain = new Map<string, GatewayDomain>();
  private readonly sessions = new Map<string, Session>();
  private readonly opening = new Map<string, Promise<Session>>();
  /** Keys of users who ended their session; see hasEnded. */
  private readonly ended = new Set<string>();

  constructor(
    readonly domains: readonly GatewayDomain[],
    allowByNetwork: Record<string, readonly string[]>,
    admins: readonly string[],
    readonly store: Store,
    readonly log: Logger,
    /** ponte's own links to network media (served by src/http/media.ts); none: networks give no media URLs. */
    readonly mediaLinks?: MediaLinks,
  ) {
    for (const domain of domains) this.byDomain.set(domain.domain.toLowerCase(), domain);
    this.access = new AccessPolicy(allowByNetwork, admins);
    // A listener-less 'error' would throw; nothing emits it, but be safe.
    this.events.setMaxListeners(100);
  }

  gateway(domain: string): GatewayDomain | undefined {
    return this.byDomain.get(domain.toLowerCase());
  }

  handles(network: string): HandleStore {
    const { rooms, contacts } = this.store;
    return {
      roomHandle: (id) => rooms.handleFor(network, id),
      roomForHandle: (handle) => rooms.networkIdFor(network, handle),
      contactHandle: (id) => contacts.handleFor(network, id),
      contactForHandle: (handle) => contacts.networkIdFor(network, handle),
    };
  }

  context(gateway: GatewayDomain): NetworkContext {
    return {
      handles: this.handles(gateway.name),
      log: this.log.child({ network: gateway.name }),
      updateAccount: (userJid, accountKey, update) => this.updateAccount(gateway.name, userJid, accountKey, update),
      mediaUrl: (userJid, reference, fileName) =>
        this.mediaLinks ? this.mediaLinks.url({ network: gateway.name, userJid: bareJid(userJid), reference }, fileName) : null,
    };
  }

  /**
   * Opens the file of a media link with the stored login of the user it was
   * made for (also while the user is offline). item-not-found when the
   * network, the user or their login is gone.
   */
  async openMedia(target: MediaReference, options: { maxBytes: number; signal: AbortSignal }): Promise<MediaFile> {
    const gateway = this.domains.find((d) => d.name === target.network);
    if (!gateway?.network.fetchMedia) throw new GatewayError('item-not-found', `The ${target.network} gateway serves no files here.`);
    const user = await this.store.users.find(target.userJid);
    const accounts = user ? (await this.store.accounts.listForUser(user.id)).filter((a) => a.network === gateway.name) : [];
    if (accounts.length === 0) throw new GatewayError('item-not-found', 'The login this link was made for is no longer registered with the gateway.');
    return gateway.network.fetchMedia(
      { userJid: target.userJid, accounts: accounts.map((a) => ({ accountKey: a.accountKey, credentials: a.credentials, settings: a.settings })) },
      target.reference,
      options,
      this.context(gateway),
    );
  }

  private async updateAccount(
    network: string,
    userJid: string,
    accountKey: string,
    update: { credentials?: Record<string, unknown>; settings?: Record<string, unknown> },
  ): Promise<boolean> {
    const user = await this.store.users.find(bareJid(userJid));
    if (!user) return false;
    const account = await this.store.accounts.get(user.id, network, accountKey);
    if (!account) return false;
    const settings = update.settings ? { ...account.settings, ...update.settings } : undefined;
    if (update.credentials) await this.store.accounts.upsert(user.id, network, accountKey, update.credentials, settings);
    else if (settings) await this.store.accounts.updateSettings(user.id, network, accountKey, settings);
    return true;
  }

  private static key(network: string, userJid: string): string {
    return `${network}\n${userJid}`;
  }

  session(gateway: GatewayDomain, user: string): Session | undefined {
    return this.sessions.get(Core.key(gateway.name, bareJid(user)));
  }

  /** All open sessions, optionally of one network or one user. */
  list(filter: { network?: string; userJid?: string } = {}): Session[] {
    return [...this.sessions.values()].filter(
      (s) => (!filter.network || s.network.name === filter.network) && (!filter.userJid || s.userJid === bareJid(filter.userJid)),
    );
  }

  count(network: string): number {
    return this.list({ network }).length;
  }

  connections(network: string): number {
    return this.list({ network }).reduce((n, s) => n + s.connectionCount(), 0);
  }

  /**
   * The user's session on this network, logging in if there is none yet.
   * Concurrent callers share one login. Throws registration-required when the
   * network needs a registration the user has not made.
   */
  /**
   * The user ended their session (the disconnect command, or an admin did):
   * presences that come along do not log them in again (src/xmpp/presence.ts)
   * until they come online afresh or log in on purpose.
   */
  hasEnded(gateway: GatewayDomain, user: string): boolean {
    return this.ended.has(Core.key(gateway.name, bareJid(user)));
  }

  forgetEnded(gateway: GatewayDomain, user: string): void {
    this.ended.delete(Core.key(gateway.name, bareJid(user)));
  }

  async openSession(gateway: GatewayDomain, user: string): Promise<Session> {
    const userJid = bareJid(user);
    const key = Core.key(gateway.name, userJid);
    this.ended.delete(key);
    const existing = this.sessions.get(key);
    if (existing?.loggedIn) return existing;
    const pending = this.opening.get(key);
    if (pending) return pending;
    const opening = this.login(gateway, userJid, key).finally(() => this.opening.delete(key));
    this.opening.set(key, opening);
    return opening;
  }

  private async login(gateway: GatewayDomain, userJid: string, key: string): Promise<Session> {
    const user = await this.store.users.find(userJid);
    const accounts = user ? await this.store.accounts.listForUser(user.id) : [];
    const mine = accounts.filter((account) => account.network === gateway.name);
    if (gateway.network.registrationRequired && mine.length === 0) {
      throw new GatewayError('registration-required', `Register with ${gateway.domain} first (your XMPP client's "register" or the ad-hoc command).`);
    }
    const session = this.sessions.get(key) ?? new Session(userJid, gateway.domain, gateway.network, this.events);
    this.sessions.set(key, session);
    try {
      const remote = await gateway.network.login(
        {
          userJid,
          accounts: mine.map((a) => ({ accountKey: a.accountKey, credentials: a.credentials, settings: a.settings })),
        },
        session.sink(),
        this.context(gateway),
      );
      session.attach(remote);
    } catch (err) {
      this.sessions.delete(key);
      throw err;
    }
    this.events.emit('opened', session);
    return session;
  }

  /** Ends one session (the user unregistered, an admin disconnected them, ...). */
  async closeSession(gateway: GatewayDomain, user: string, reason: string, options: { ended?: boolean } = {}): Promise<boolean> {
    const key = Core.key(gateway.name, bareJid(user));
    if (options.ended) this.ended.add(key);
    const session = this.sessions.get(key);
    if (!session) return false;
    this.sessions.delete(key);
    await session.close(reason);
    return true;
  }

  /** Closes every session in parallel; one failing does not stop the others. */
  async closeAll(reason: string): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    const results = await Promise.allSettled(all.map((session) => session.close(reason)));
    for (const result of results) {
      if (result.status === 'rejected') this.log.warn({ err: String(result.reason) }, 'a session failed to close cleanly');
    }
  }
}
