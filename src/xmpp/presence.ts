// Presence and roster (RFC 6121) for the gateway's own JID, contacts and
// network servers; the gateway's presence shows each user their session;
// contacts reach the user's roster through XEP-0356 or subscription requests.
//
// Subscriptions (RFC 6121 §3), answered as the contact's server would:
// - subscribe    -> `subscribed`, then the entity's current presence, then a
//                   `subscribe` back (as transports do) unless the entity
//                   already sees the user's presence or asked already: with
//                   it the user's server sends us the user's presence.
// - subscribed   -> remembered (the entity now sees the user's presence).
// - unsubscribe  -> remembered, and `unavailable` from the entity (§3.3.3).
// - unsubscribed -> remembered; the entity does not ask again by itself.
// - probe        -> the entity's current presence to the prober. Servers
//                   probe only for users whose roster says they are
//                   subscribed, so a probe also records the subscription
//                   (it heals a store that lost it).
// Subscription state lives in the store (roster_items) and survives restarts.
// Presence is pushed (state changes, contact presence) only to users
// subscribed to the entity, at their bare JID (the server fans it out to
// their available resources). A contact subscription needs the network's
// 'contacts' capability (else feature-not-implemented); where the network
// has addContact, the user's session (opened if the user has an account)
// is told first: it gives the contact's name (the roster item's, and the
// nick of the subscription back), and its refusal (no such user) is the
// answer to the request.
//
// The gateway's presence per user (and that of network server JIDs):
//   session online         available
//   connecting             away  "Connecting to <network>…" (or the network's words)
//   reconnecting           away  "Reconnecting: <why>"
//   failed / login threw   dnd   "Login failed: <why>"  (dnd: every client shows it, in red)
//   session closed         unavailable "<reason>"
//   no session             unavailable "Not connected" (registered) or
//                          "Not registered: …" (the network needs it); available
//                          when the user has no account and the network needs none
//                          (nothing to log in to: the gateway just works).
// A server JID shows the connection to that server where the network reports
// one per server (IRC): online, reconnecting, failed as above, unavailable
// "Not connected to <server>." without one; the gateway then shows the best
// of them. Otherwise a server JID shows the session, as the gateway does.
// Contacts shown available go unavailable when the session fails or closes.
// Every presence goes through context.send, so the PresenceTracker withdraws
// it on shutdown; events from a session after it closed are ignored, so
// nothing shows available again during shutdown. Presence that changes
// nothing (same show and status as last sent from there to there) is not
// sent again, except to answer a probe or a subscription.
//
// Auto-login: the first available presence of a user (any of the user's
// resources, to any JID of a gateway), or any while no session is open, no
// login failed since and the user did not end the session (the disconnect
// command: they stay out until their next first resource), opens the session of a user who has an account on
// that network (core.openSession) - the user's server sends it
// at login once the gateway is subscribed to the user, or forwards it under
// XEP-0356 presence permission - and (re)sends the gateway's presence. When
// the last resource goes unavailable, nothing happens: sessions stay
// (bouncer-like), as biboumi keeps IRC connections for MUC and the networks
// keep history flowing.
// At start, the gateway probes every user it is subscribed to: after a
// restart, the online ones answer and are logged in again.
// The user's own presence goes to the network (NetworkSession.setPresence,
// where the network has it): the most available of the user's resources
// (chat, available, away, dnd, xa in that order) with its status, and null
// once the last resource is gone; each change once, and the current one when
// a session opens. Nothing is sent while no resource of the user is known:
// not knowing is not offline.
// Presence broadcasts to a gateway domain from someone who may not use it
// (what XEP-0356 presence permission forwards: other users, their contacts,
// our own presences to users) are ignored, not bounced with `forbidden`.
//
// Roster population (addContactsToRoster): where the user's server granted
// the component roster write access (XEP-0356), each contact is pushed with
// subscription "both" into the group named after the network, skipping JIDs
// already in the roster (read first where get access was granted). If the
// server fails the set (ejabberd 23.01, bug #3942) or grants nothing, the
// contacts ask: a `subscribe` from each contact (with its nick, XEP-0172)
// plus one XEP-0144 suggestion message from the gateway. Called for now when
// a network reports presence of a contact the user has no roster entry for:
// networks report presence only for their user's contacts (IRC MONITOR,
// Matrix DM partners), and each contact is offered once (the entry remembers).
// addGatewayToRoster does the same for the gateway JID (after a registration,
// XEP-0100 §4.1) and cancelSubscriptions undoes everything (unregistration,
// XEP-0100 §4.3).
import type { GatewayDomain } from '../core/core.js';
import { bareJid } from '../core/access.js';
import { GatewayError } from '../core/errors.js';
import type { Session } from '../core/sessions.js';
import type { NetworkAddress, UserPresence } from '../networks/types.js';
import type { RosterEntity, RosterItem } from '../store/repositories/roster.js';
import type { Target } from './addressing.js';
import { capsElement, serverCapsElement } from './caps.js';
import { mamEnabled } from './mam.js';
import type { XmppContext, XmppModule } from './context.js';
import { iqRequests, privilegesOf, type IqRequests, type PrivilegeRegistry } from './privilege.js';
import {
  contactShown,
  gatewayShown,
  presenceStanza,
  rosterGetIq,
  rosterItems,
  rosterSetIq,
  rosterSuggestion,
  shownPresenceStanza,
  type ContactShow,
  type RosterEntry,
  type SessionView,
  type ShownPresence,
} from './presence/stanzas.js';
import { domainOf, type InboundStanza, type StanzaRouter } from './router.js';
import type { Element } from './stanza.js';

export interface ContactToAdd {
  address: NetworkAddress;
  /** Display name for the roster item. */
  name?: string;
}

/** What addContactsToRoster did, by contact JID. */
export interface RosterPopulation {
  /** Pushed into the roster with a privileged roster set. */
  pushed: string[];
  /** Already in the user's roster (privileged get): left as they are. */
  present: string[];
  /** Sent a subscription request (and suggested with XEP-0144). */
  requested: string[];
  /** Why the privileged path was not (fully) taken, if it was not. */
  fallbackReason?: string;
}

type EntityTarget = Extract<Target, { kind: 'gateway' | 'contact' | 'server' }>;

/** What the exported functions need to find this gateway's presence module: its router (an XmppContext, or the Ponte). */
export type GatewayContext = Pick<XmppContext, 'router'>;

/** One of the gateway's JIDs to put into a user's roster. */
type Offer = RosterEntry & { entity: RosterEntity; flight?: string };

const modules = new WeakMap<StanzaRouter, PresenceModule>();

/**
 * Adds network contacts to the user's XMPP roster: a privileged roster push
 * where the server allows it, subscription requests and a XEP-0144
 * suggestion otherwise. For other modules (Matrix DMs, registration, ...).
 */
export function addContactsToRoster(context: GatewayContext, session: Session, contacts: ContactToAdd[]): Promise<RosterPopulation> {
  const module = modules.get(context.router);
  if (!module) throw new Error('the presence module is not registered on this context');
  return module.addContacts(session, contacts);
}

/**
 * Puts the gateway's own JID into the user's roster (XEP-0100 §4.1 after a
 * registration): a privileged roster push where possible, else the gateway
 * asks for a subscription. Either way the gateway then shows its presence.
 */
export function addGatewayToRoster(context: GatewayContext, gateway: GatewayDomain, user: string): Promise<RosterPopulation> {
  const module = modules.get(context.router);
  if (!module) throw new Error('the presence module is not registered on this context');
  return module.addGateway(gateway, user);
}

/**
 * Ends the subscriptions between the user and every JID of this gateway
 * (XEP-0100 §4.3 unregistration): unavailable with `status`, unsubscribe and
 * unsubscribed from each, and the stored state is forgotten.
 */
export function cancelSubscriptions(context: GatewayContext, gateway: GatewayDomain, user: string, status: string): Promise<void> {
  const module = modules.get(context.router);
  if (!module) throw new Error('the presence module is not registered on this context');
  return module.cancelAll(gateway, user, status);
}

/** The user's resources currently known available to this gateway (full JIDs), for other modules. */
export function availableResources(context: GatewayContext, gateway: GatewayDomain, user: string): string[] {
  return modules.get(context.router)?.resourcesOf(gateway, user) ?? [];
}

export const registerPresence: XmppModule = (context) => {
  const module = new PresenceModule(context);
  modules.set(context.router, module);
  context.router.intercept((stanza) => module.isForeignBroadcast(stanza));
  context.stanzas.on('presence', ['gateway', 'contact', 'server'], (stanza, target) => module.handle(stanza, target as EntityTarget));

  // After a restart: ask the server which subscribed users are online (their
  // answers log them in again). Sent now, delivered once the component is up.
  module.background(module.probeSubscribers());

  const { events } = context.core;
  events.on('connectionState', (session, state, detail) => module.background(module.sessionState(session, state, detail), session));
  events.on('opened', (session) => module.background(module.sessionOpened(session), session));
  events.on('closed', (session, reason) => module.background(module.sessionClosed(session, reason), session));
  events.on('contactPresence', (session, contact, show, status) =>
    module.background(module.contactPresence(session, contact, show, status), session),
  );
};

class PresenceModule {
  private readonly privileges: PrivilegeRegistry;
  private readonly iqs: IqRequests;
  /** Available resources (full JIDs) per gateway and user. */
  private readonly resources = new Map<string, Set<string>>();
  /** The show and status of each available resource (or bare JID) per gateway and user. */
  private readonly userPresences = new Map<string, Map<string, UserPresence>>();
  /** The user presence last given to each session (JSON), so that a change is sent once. */
  private readonly presenceGiven = new WeakMap<Session, string>();
  /** The network's last word on each contact's presence, per gateway and user. */
  private readonly contacts = new Map<string, Map<string, ShownPresence>>();
  /** Contact JIDs shown available to the user, per gateway and user (to withdraw when the session ends). */
  private readonly shownContacts = new Map<string, Set<string>>();
  /** The last presence sent per (from, to): state changes that change nothing are not resent. */
  private readonly lastSent = new Map<string, string>();
  /** Why the last login failed, per gateway and user, until a session opens. */
  private readonly lastFailure = new Map<string, string>();
  /** Sessions that closed: their late events change nothing any more. */
  private readonly closedSessions = new WeakSet<Session>();
  /** Contacts being offered to a roster right now (one offer per contact). */
  private readonly offering = new Set<string>();

  constructor(private readonly context: XmppContext) {
    this.privileges = privilegesOf(context.router);
    this.iqs = iqRequests(context.router);
    this.privileges.onAdvertisement((p) =>
      context.log.info(
        { component: p.component, server: p.server, namespace: p.namespace, roster: p.roster, message: p.message, presence: p.presence },
        'XEP-0356 privileges advertised',
      ),
    );
  }

  /** Runs event work without letting a failure escape into the emitter. */
  background(work: Promise<unknown>, session?: Session): void {
    work.catch((err: unknown) =>
      this.context.log.warn({ err: (err as Error).message, user: session?.userJid, network: session?.network.name }, 'presence update failed'),
    );
  }

  /** Probes every user the gateway JID is subscribed to (RFC 6121 §4.3): the online ones answer with their presence. */
  async probeSubscribers(): Promise<void> {
    for (const gateway of this.context.core.domains) {
      const items = await this.context.store.roster.listByNetwork(gateway.name, { kind: 'gateway', entitySees: true });
      for (const item of items) await this.send(presenceStanza({ from: gateway.domain, to: item.userJid, type: 'probe' }));
    }
  }

  /**
   * Presence broadcasts (available/unavailable) to a gateway's bare domain
   * from someone who may not use it: under XEP-0356 presence permission the
   * server forwards the presence of every user and of their contacts -
   * including our own presences to users, and other components' - to the
   * component. That is information, not a request: it is dropped here
   * instead of bounced with `forbidden` by the access guard.
   */
  isForeignBroadcast(stanza: Element): boolean {
    if (stanza.name !== 'presence') return false;
    const type = stanza.attrs.type;
    if (type !== undefined && type !== 'unavailable') return false;
    const to = stanza.attrs.to ?? '';
    const gateway = this.context.core.gateway(to);
    if (!gateway || to.includes('@') || to.includes('/')) return false;
    const from = stanza.attrs.from ?? '';
    const fromUs = this.context.core.gateway(domainOf(from)) !== undefined;
    if (!fromUs && this.context.core.access.mayUse(gateway.name, from)) return false;
    this.context.log.debug({ from: stanza.attrs.from, to }, 'presence broadcast from someone who may not use the gateway: ignored');
    return true;
  }

  private static userKey(gateway: GatewayDomain, user: string): string {
    return `${gateway.name}\n${bareJid(user)}`;
  }

  resourcesOf(gateway: GatewayDomain, user: string): string[] {
    return [...(this.resources.get(PresenceModule.userKey(gateway, user)) ?? [])];
  }

  // --- stanzas from users -----------------------------------------------------------

  async handle(stanza: InboundStanza, target: EntityTarget): Promise<void> {
    const user = bareJid(stanza.from);
    const { gateway } = target;
    switch (stanza.type) {
      case 'subscribe':
        return this.onSubscribe(target, user);
      case 'subscribed':
        await this.context.store.roster.update(user, gateway.name, entityOf(target), { entitySees: true, entityAsked: false });
        return;
      case 'unsubscribe':
        await this.forget(target, user, { userSees: false });
        await this.sendShown(gateway, target.bare, user, { available: false }, null, { force: true, contact: target.kind === 'contact' });
        return;
      case 'unsubscribed':
        await this.forget(target, user, { entitySees: false, entityAsked: false });
        return;
      case 'probe':
        return this.onProbe(target, user, stanza.from);
      case 'available':
        return this.onUserAvailable(gateway, stanza.from, userPresenceOf(stanza.stanza));
      case 'unavailable':
        return this.onUserUnavailable(gateway, stanza.from);
      case 'error':
        // Our presence bounced (no such user, blocked...): nothing to answer (RFC 6120 §8.3.1).
        this.context.log.debug({ from: stanza.from, to: stanza.to }, 'presence error received');
        return;
      default:
        throw new GatewayError('bad-request', `"${stanza.type}" is not a presence type (RFC 6121 §4.7.1).`);
    }
  }

  /**
   * Records a cancelled subscription. No entry means no subscription already:
   * none is created (the user's server answers our own cancellations with
   * cancellations, after cancelSubscriptions forgot everything).
   */
  private async forget(target: EntityTarget, user: string, patch: { userSees?: false; entitySees?: false; entityAsked?: false }): Promise<void> {
    const { roster } = this.context.store;
    if (await roster.get(user, target.gateway.name, entityOf(target))) await roster.update(user, target.gateway.name, entityOf(target), patch);
  }

  private async onSubscribe(target: EntityTarget, user: string): Promise<void> {
    const { gateway } = target;
    if (target.kind === 'contact' && !gateway.network.capabilities.has('contacts')) {
      throw new GatewayError('feature-not-implemented', `${gateway.network.displayName} has no contacts to subscribe to.`);
    }
    const name = target.kind === 'contact' ? await this.contactOnNetwork(gateway, user, target.address) : undefined;
    const item = await this.context.store.roster.update(user, gateway.name, entityOf(target), { userSees: true, ...(name ? { name } : {}) });
    await this.send(presenceStanza({ from: target.bare, to: user, type: 'subscribed' }));
    await this.sendEntityPresence(target, user, { force: true });
    const nick = target.kind === 'gateway' ? gateway.network.displayName : (item.name ?? undefined);
    await this.askBack(target.bare, user, gateway, item, nick);
  }

  /** Tells the network the user added a contact (where it can be told); returns the contact's name, if it has one. */
  private async contactOnNetwork(gateway: GatewayDomain, user: string, address: NetworkAddress): Promise<string | undefined> {
    let session = this.context.core.session(gateway, user);
    if (!session?.loggedIn) {
      await this.autoLogin(gateway, user);
      session = this.context.core.session(gateway, user);
    }
    if (!session?.loggedIn || !session.remote.addContact) return undefined;
    return (await session.remote.addContact(address)).name;
  }

  /** The entity asks for the user's presence in return, once. */
  private async askBack(from: string, user: string, gateway: GatewayDomain, item: RosterItem, nick?: string): Promise<void> {
    if (item.entitySees || item.entityAsked) return;
    await this.context.store.roster.update(user, gateway.name, { kind: item.kind, id: item.addressId }, { entityAsked: true });
    await this.send(presenceStanza({ from, to: user, type: 'subscribe', nick }));
  }

  private async onProbe(target: EntityTarget, user: string, prober: string): Promise<void> {
    const { gateway } = target;
    if (target.kind === 'contact' && !gateway.network.capabilities.has('contacts')) {
      await this.send(presenceStanza({ from: target.bare, to: prober, type: 'unavailable' }));
      return;
    }
    const item = await this.context.store.roster.get(user, gateway.name, entityOf(target));
    if (!item?.userSees) await this.context.store.roster.update(user, gateway.name, entityOf(target), { userSees: true });
    await this.sendEntityPresence(target, prober, { force: true });
  }

  private async onUserAvailable(gateway: GatewayDomain, from: string, presence: UserPresence): Promise<void> {
    const key = PresenceModule.userKey(gateway, from);
    let presences = this.userPresences.get(key);
    if (!presences) {
      presences = new Map();
      this.userPresences.set(key, presences);
    }
    presences.set(from, presence);
    let resources = this.resources.get(key);
    const firstResource = !resources || resources.size === 0;
    if (!resources) {
      resources = new Set();
      this.resources.set(key, resources);
    }
    if (from.includes('/')) resources.add(from);
    const user = bareJid(from);
    // Also a user who registered while online (the answer to the gateway's probe or to its subscription
    // comes from a resource already known): logged in once no session is open and no login failed.
    // A user who ended their session stays out until they come online afresh (core.hasEnded).
    if (firstResource) this.context.core.forgetEnded(gateway, user);
    const loginPending = !this.context.core.session(gateway, user) && !this.lastFailure.has(key) && !this.context.core.hasEnded(gateway, user);
    if (firstResource || loginPending) {
      await this.autoLogin(gateway, user);
      // Usually the user's server probed us already; after a restart of ponte nobody did.
      await this.broadcastGatewayState(gateway, user);
    }
    await this.giveUserPresence(gateway, user);
  }

  private async onUserUnavailable(gateway: GatewayDomain, from: string): Promise<void> {
    const key = PresenceModule.userKey(gateway, from);
    const presences = this.userPresences.get(key);
    if (from.includes('/')) {
      presences?.delete(from);
      presences?.delete(bareJid(from));
    } else {
      presences?.clear();
    }
    const resources = this.resources.get(key);
    if (resources) {
      if (from.includes('/')) resources.delete(from);
      else resources.clear();
      // The last resource left: the session stays (see the top of this file).
      if (resources.size === 0) this.resources.delete(key);
    }
    if (presences) await this.giveUserPresence(gateway, bareJid(from));
    if (presences?.size === 0) this.userPresences.delete(key);
  }

  /** Tells the user's session their presence (the most available resource's), if it changed and is known. */
  private async giveUserPresence(gateway: GatewayDomain, user: string): Promise<void> {
    const session = this.context.core.session(gateway, user);
    if (!session?.loggedIn || !session.remote.setPresence) return;
    const presences = this.userPresences.get(PresenceModule.userKey(gateway, user));
    if (!presences) return; // nothing known yet
    const presence = mostAvailable([...presences.values()]);
    const given = JSON.stringify(presence);
    if (this.presenceGiven.get(session) === given) return;
    this.presenceGiven.set(session, given);
    try {
      await session.remote.setPresence(presence);
    } catch (err) {
      this.presenceGiven.delete(session);
      this.context.log.info({ user, network: gateway.name, err: (err as Error).message }, 'the user presence did not reach the network');
    }
  }

  /** Opens the session of a registered user who came online, if none is open. */
  private async autoLogin(gateway: GatewayDomain, user: string): Promise<void> {
    const { core, store } = this.context;
    if (core.session(gateway, user)) return;
    const account = await store.users.find(user);
    const accounts = account ? (await store.accounts.listForUser(account.id)).filter((a) => a.network === gateway.name) : [];
    if (accounts.length === 0) return;
    try {
      await core.openSession(gateway, user);
    } catch (err) {
      const why = (err as Error).message;
      this.lastFailure.set(PresenceModule.userKey(gateway, user), why);
      this.context.log.info({ user, network: gateway.name, err: why }, 'automatic login failed');
      await this.broadcastGatewayState(gateway, user);
    }
  }

  // --- what the gateway shows -----------------------------------------------------------

  /** The user's session as the gateway presence shows it. */
  private async sessionView(gateway: GatewayDomain, user: string, session?: Session, server?: NetworkAddress): Promise<SessionView> {
    const live = session ?? this.context.core.session(gateway, user);
    const ofServer = live && server && live.state !== 'offline' ? live.serverState(server) : undefined;
    if (ofServer) return { kind: 'session', ...ofServer };
    if (live) return { kind: 'session', state: live.state, detail: live.detail };
    const lastFailure = this.lastFailure.get(PresenceModule.userKey(gateway, user));
    const account = await this.context.store.users.find(user);
    const registered = account ? (await this.context.store.accounts.listForUser(account.id)).some((a) => a.network === gateway.name) : false;
    return { kind: 'none', registered, registrationRequired: gateway.network.registrationRequired, lastFailure };
  }

  /** Sends the current presence of `target` to `to` (the user's bare JID, or a prober's JID). */
  private async sendEntityPresence(target: EntityTarget, to: string, options: { force?: boolean; session?: Session } = {}): Promise<void> {
    const { gateway } = target;
    const user = bareJid(to);
    if (target.kind === 'contact') {
      const shown = this.contacts.get(PresenceModule.userKey(gateway, user))?.get(target.address.id);
      // Nothing known: the contact stays shown offline, which is what the user's client assumes.
      if (!shown) return;
      await this.sendShown(gateway, target.bare, to, shown, capsElement(gateway, 'contact'), { force: options.force, contact: true });
      return;
    }
    const server = target.kind === 'server' ? target.address : undefined;
    const shown = gatewayShown(await this.sessionView(gateway, user, options.session, server), gateway.network.displayName, gateway.domain);
    const caps = target.kind === 'gateway' ? capsElement(gateway, 'gateway', { archive: mamEnabled(this.context) }) : serverCapsElement(gateway, target.address);
    await this.sendShown(gateway, target.bare, to, shown, caps, { force: options.force });
  }

  /**
   * Sends `shown` from one of our JIDs, unless the same was the last thing
   * sent from there to there (`force`: send anyway, e.g. to answer a probe).
   */
  private async sendShown(
    gateway: GatewayDomain,
    from: string,
    to: string,
    shown: ShownPresence,
    caps: Element | null,
    options: { force?: boolean; contact?: boolean } = {},
  ): Promise<void> {
    const key = `${from}\n${to}`;
    const signature = JSON.stringify([shown.available, shown.show ?? '', shown.status ?? '']);
    if (!options.force && this.lastSent.get(key) === signature) return;
    this.lastSent.set(key, signature);
    if (options.contact) {
      const userKey = PresenceModule.userKey(gateway, to);
      let shownNow = this.shownContacts.get(userKey);
      if (!shownNow) {
        shownNow = new Set();
        this.shownContacts.set(userKey, shownNow);
      }
      if (shown.available) shownNow.add(from);
      else shownNow.delete(from);
    }
    await this.send(shownPresenceStanza(from, to, shown, caps));
  }

  /** The gateway's (and subscribed server JIDs') presence to the user, after their session changed. */
  private async broadcastGatewayState(gateway: GatewayDomain, user: string, session?: Session): Promise<void> {
    const subscribed = await this.context.store.roster.list(user, gateway.name, { userSees: true });
    for (const item of subscribed) {
      if (item.kind === 'contact') continue;
      const target: EntityTarget =
        item.kind === 'gateway'
          ? { kind: 'gateway', gateway, bare: gateway.domain, resource: '' }
          : await this.serverTarget(gateway, { kind: 'server', id: item.addressId });
      await this.sendEntityPresence(target, user, { session });
    }
  }

  private async serverTarget(gateway: GatewayDomain, address: NetworkAddress): Promise<EntityTarget> {
    return { kind: 'server', gateway, address, bare: await this.context.addressing.jid(gateway, address), resource: '' };
  }

  // --- network events --------------------------------------------------------------------

  async sessionState(session: Session, state: string, _detail?: string): Promise<void> {
    if (this.closedSessions.has(session)) return;
    const gateway = this.context.core.gateway(session.domain);
    if (!gateway) return;
    const key = PresenceModule.userKey(gateway, session.userJid);
    if (state === 'online') this.lastFailure.delete(key);
    // One server failing (the others fine) leaves the session's state as it was.
    if (state === 'failed' && session.state === 'failed') {
      const shown = gatewayShown({ kind: 'session', state, detail: session.detail }, gateway.network.displayName, gateway.domain);
      await this.withdrawContacts(gateway, session.userJid, shown.status ?? '');
    }
    await this.broadcastGatewayState(gateway, session.userJid, session);
  }

  async sessionOpened(session: Session): Promise<void> {
    const gateway = this.context.core.gateway(session.domain);
    if (!gateway) return;
    this.lastFailure.delete(PresenceModule.userKey(gateway, session.userJid));
    await this.broadcastGatewayState(gateway, session.userJid, session);
    await this.giveUserPresence(gateway, session.userJid);
  }

  async sessionClosed(session: Session, reason: string): Promise<void> {
    this.closedSessions.add(session);
    const gateway = this.context.core.gateway(session.domain);
    if (!gateway) return;
    const key = PresenceModule.userKey(gateway, session.userJid);
    this.contacts.delete(key);
    await this.withdrawContacts(gateway, session.userJid, reason);
    // The session's own state now says offline, with the reason.
    await this.broadcastGatewayState(gateway, session.userJid, session);
  }

  /** Contacts shown available go unavailable: without the session nothing tells their presence. */
  private async withdrawContacts(gateway: GatewayDomain, user: string, status: string): Promise<void> {
    const key = PresenceModule.userKey(gateway, user);
    const shown = [...(this.shownContacts.get(key) ?? [])];
    for (const from of shown) await this.sendShown(gateway, from, user, { available: false, status }, null, { contact: true });
  }

  async contactPresence(session: Session, contact: NetworkAddress, show: ContactShow, status?: string): Promise<void> {
    if (this.closedSessions.has(session) || contact.kind !== 'contact') return;
    const gateway = this.context.core.gateway(session.domain);
    if (!gateway) return;
    const user = session.userJid;
    const key = PresenceModule.userKey(gateway, user);
    const shown = contactShown(show, status);
    let known = this.contacts.get(key);
    if (!known) {
      known = new Map();
      this.contacts.set(key, known);
    }
    known.set(contact.id, shown);

    let item = await this.context.store.roster.get(user, gateway.name, { kind: 'contact', id: contact.id });
    if (!item) {
      // A contact the user never had: offer it to the roster (once).
      await this.addContacts(session, [{ address: contact }]);
      item = await this.context.store.roster.get(user, gateway.name, { kind: 'contact', id: contact.id });
    }
    if (!item?.userSees) return;
    const jid = await this.context.addressing.jid(gateway, contact);
    await this.sendShown(gateway, jid, user, shown, capsElement(gateway, 'contact'), { contact: true });
  }

  // --- roster population ---------------------------------------------------------------

  async addContacts(session: Session, contacts: ContactToAdd[]): Promise<RosterPopulation> {
    const gateway = this.context.core.gateway(session.domain);
    if (!gateway) throw new Error(`no gateway serves ${session.domain}`);
    const offers: Offer[] = [];
    for (const contact of contacts) {
      if (contact.address.kind !== 'contact') continue;
      const jid = await this.context.addressing.jid(gateway, contact.address);
      offers.push({ jid, name: contact.name, group: gateway.network.displayName, entity: { kind: 'contact', id: contact.address.id } });
    }
    return this.offer(gateway, session.userJid, offers);
  }

  async addGateway(gateway: GatewayDomain, user: string): Promise<RosterPopulation> {
    const offer: Offer = { jid: gateway.domain, name: gateway.network.displayName, group: gateway.network.displayName, entity: { kind: 'gateway', id: '' } };
    return this.offer(gateway, bareJid(user), [offer]);
  }

  /**
   * Puts JIDs of this gateway into the user's roster: skips those already
   * there (privileged get), pushes the others (privileged set), and falls
   * back to subscription requests for whatever could not be pushed. Each
   * entity is offered once at a time, and not again once mutual.
   */
  private async offer(gateway: GatewayDomain, user: string, offers: Offer[]): Promise<RosterPopulation> {
    const result: RosterPopulation = { pushed: [], present: [], requested: [] };
    const wanted: Offer[] = [];
    for (const offer of offers) {
      const flight = `${PresenceModule.userKey(gateway, user)}\n${offer.entity.kind}\n${offer.entity.id}`;
      if (this.offering.has(flight)) continue;
      const item = await this.context.store.roster.get(user, gateway.name, offer.entity);
      if (item?.userSees && item.entitySees) continue;
      this.offering.add(flight);
      wanted.push({ ...offer, flight });
    }
    try {
      let remaining = await this.skipPresent(gateway, user, wanted, result);
      if (remaining.length > 0 && this.privileges.maySetRoster(gateway.domain, user)) {
        remaining = await this.pushToRoster(gateway, user, remaining, result);
      } else if (remaining.length > 0) {
        result.fallbackReason = `the server granted ${gateway.domain} no usable roster write access (XEP-0356)`;
      }
      if (remaining.length > 0) await this.requestSubscriptions(gateway, user, remaining, result);
    } finally {
      for (const offer of wanted) this.offering.delete(offer.flight!);
    }
    return result;
  }

  /**
   * Where the server lets us read the roster (XEP-0356): entries already in
   * it are left as the user made them (name, groups); only their
   * subscription is recorded. Returns the others.
   */
  private async skipPresent(gateway: GatewayDomain, user: string, offers: Offer[], result: RosterPopulation): Promise<Offer[]> {
    if (offers.length === 0 || !this.privileges.mayGetRoster(gateway.domain, user)) return offers;
    const reply = await this.iqs.request((element) => this.context.send(element), rosterGetIq(gateway.domain, user)).catch(() => null);
    if (reply?.attrs.type !== 'result') return offers;
    const existing = rosterItems(reply);
    const remaining: Offer[] = [];
    for (const offer of offers) {
      const there = existing.get(offer.jid.toLowerCase());
      if (!there) {
        remaining.push(offer);
        continue;
      }
      const sub = there.subscription;
      // The roster read may predate a subscription handled meanwhile (the user's
      // own subscribe racing this offer): it can add what it shows, never take
      // away what the store already knows.
      const known = await this.context.store.roster.get(user, gateway.name, offer.entity);
      await this.context.store.roster.update(user, gateway.name, offer.entity, {
        userSees: (known?.userSees ?? false) || sub === 'to' || sub === 'both',
        entitySees: (known?.entitySees ?? false) || sub === 'from' || sub === 'both',
        name: offer.name ?? there.name ?? null,
      });
      result.present.push(offer.jid);
    }
    return remaining;
  }

  /** Privileged roster sets; returns the offers still to handle (after a failure). */
  private async pushToRoster(gateway: GatewayDomain, user: string, offers: Offer[], result: RosterPopulation): Promise<Offer[]> {
    const { store, log } = this.context;
    const send = (element: Element) => this.context.send(element);
    for (let i = 0; i < offers.length; i++) {
      const offer = offers[i]!;
      let reason: string | undefined;
      try {
        const reply = await this.iqs.request(send, rosterSetIq(gateway.domain, user, offer));
        if (reply.attrs.type !== 'result') {
          const error = reply.getChild('error');
          const condition = error?.getChildElements().find((child) => child.name !== 'text')?.name ?? 'unknown error';
          reason = `the server refused the privileged roster set (${condition})`;
          // Refused despite the permission: do not try again until the server re-advertises.
          this.privileges.markRosterSetUnusable(gateway.domain, user);
        }
      } catch (err) {
        reason = `the privileged roster set failed: ${(err as Error).message}`;
      }
      if (reason) {
        log.warn({ user, network: gateway.name, reason }, 'roster push failed; asking the user with subscription requests instead');
        result.fallbackReason = reason;
        return offers.slice(i);
      }
      await store.roster.update(user, gateway.name, offer.entity, { userSees: true, entitySees: true, entityAsked: false, name: offer.name ?? null });
      result.pushed.push(offer.jid);
      // The user's server probes on the next login; until then, tell what is known now.
      if (offer.entity.kind === 'gateway') {
        await this.broadcastGatewayState(gateway, user);
        // A pushed subscription comes without the user's presence (an approval would bring it,
        // RFC 6121 §3.1.5): ask for it, so that the session opens and the network learns it now.
        this.context.core.forgetEnded(gateway, user);
        await this.send(presenceStanza({ from: gateway.domain, to: user, type: 'probe' }));
      } else {
        const shown = this.contacts.get(PresenceModule.userKey(gateway, user))?.get(offer.entity.id);
        if (shown) await this.sendShown(gateway, offer.jid, user, shown, capsElement(gateway, 'contact'), { force: true, contact: true });
      }
    }
    return [];
  }

  /** Without roster access: each entity asks for a subscription, and the gateway suggests the contacts (XEP-0144). */
  private async requestSubscriptions(gateway: GatewayDomain, user: string, offers: Offer[], result: RosterPopulation): Promise<void> {
    const suggested: RosterEntry[] = [];
    for (const offer of offers) {
      const item = await this.context.store.roster.update(user, gateway.name, offer.entity, offer.name ? { name: offer.name } : {});
      if (item.entitySees || item.entityAsked) continue;
      await this.askBack(offer.jid, user, gateway, item, offer.name);
      if (offer.entity.kind === 'contact') suggested.push(offer);
      result.requested.push(offer.jid);
    }
    if (suggested.length > 0) await this.send(rosterSuggestion(gateway.domain, user, suggested, gateway.network.displayName));
  }

  /**
   * Ends every subscription between the user and this gateway's JIDs
   * (XEP-0100 §4.3 on unregistration): from each entity the user had,
   * `unavailable` (with `status`), `unsubscribe` and `unsubscribed`; then
   * forgets them.
   */
  async cancelAll(gateway: GatewayDomain, user: string, status: string): Promise<void> {
    const jid = bareJid(user);
    const entities: RosterEntity[] = [{ kind: 'gateway', id: '' }];
    for (const item of await this.context.store.roster.list(jid, gateway.name)) {
      if (item.kind !== 'gateway') entities.push({ kind: item.kind, id: item.addressId });
    }
    for (const entity of entities) {
      const from =
        entity.kind === 'gateway' ? gateway.domain : await this.context.addressing.jid(gateway, { kind: entity.kind, id: entity.id });
      await this.sendShown(gateway, from, jid, { available: false, status }, null, { force: true, contact: entity.kind === 'contact' });
      await this.send(presenceStanza({ from, to: jid, type: 'unsubscribe' }));
      await this.send(presenceStanza({ from, to: jid, type: 'unsubscribed' }));
    }
    await this.context.store.roster.removeForUser(jid, gateway.name);
    const key = PresenceModule.userKey(gateway, jid);
    this.contacts.delete(key);
    this.shownContacts.delete(key);
    this.lastFailure.delete(key);
  }

  /**
   * Sends (queued by the component while it reconnects). Fails only once the
   * component stopped (shutdown), when the PresenceTracker has withdrawn
   * everything already: then there is nothing left to tell.
   */
  private async send(element: Element): Promise<void> {
    try {
      await this.context.send(element);
    } catch (err) {
      this.context.log.debug({ err: (err as Error).message, to: element.attrs.to }, 'presence not sent');
    }
  }
}

const SHOWS = ['chat', 'away', 'xa', 'dnd'] as const;
/** Most available first: what the network shows of a user with several resources. */
const AVAILABILITY: ReadonlyArray<UserPresence['show']> = ['chat', undefined, 'away', 'dnd', 'xa'];

/** The show (RFC 6121 §4.7.2.1; anything else counts as available) and status of an available presence. */
function userPresenceOf(stanza: Element): UserPresence {
  const showText = stanza.getChildText('show')?.trim();
  const show = SHOWS.find((known) => known === showText);
  const status = stanza.getChildText('status')?.trim();
  return { ...(show ? { show } : {}), ...(status ? { status } : {}) };
}

function mostAvailable(presences: UserPresence[]): UserPresence | null {
  let best: UserPresence | null = null;
  for (const presence of presences) {
    if (!best || AVAILABILITY.indexOf(presence.show) < AVAILABILITY.indexOf(best.show)) best = presence;
  }
  return best;
}

function entityOf(target: EntityTarget): RosterEntity {
  return target.kind === 'gateway' ? { kind: 'gateway', id: '' } : { kind: target.kind, id: target.address.id };
}
