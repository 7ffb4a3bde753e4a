// Privileged entity (XEP-0356): what the XMPP server lets each component
// domain do for its users, from the advertisement it sends on connect:
//
//   <message from='localhost' to='irc.example.org'>
//     <privilege xmlns='urn:xmpp:privilege:2'>      (ejabberd 23.01: urn:xmpp:privilege:1)
//       <perm access='roster' type='both'/> <perm access='message' type='outgoing'/> …
//
// Decisions:
// - The advertisement is taken before access control and dispatch (a router
//   interceptor): it comes from the server's domain, which is no user, and
//   arrives before the component connection reports `online`.
// - One advertisement per (component domain, server domain): a server with
//   several virtual hosts sends one per host, and a permission only ever
//   covers that host's users. A later advertisement replaces an earlier one
//   (servers re-send after a reconnect or a configuration change); the same
//   one again within seconds is a repeat (ejabberd sends it once per
//   component connection of the listener) and changes nothing.
// - Anything without a localpart or resource may advertise; a remote server
//   could only claim rights over its own users, which its own roster code
//   then enforces. So nothing here grants more than the server does.
// - `rosterSetUnusable`: ejabberd 23.01 advertises roster "both" but fails
//   every privileged roster SET (internal-server-error, processone/ejabberd
//   #3942). After such a failure the roster code stops trying SET on that
//   server until the next advertisement, and uses its fallback.
//
// Also here: `iqRequests(router)`, iq requests from the gateway that wait for
// the reply (the component facade only answers iqs), used for the privileged
// roster get/set.
import { randomUUID } from 'node:crypto';
import type { StanzaRouter } from './router.js';
import { domainOf } from './router.js';
import { parseJid, type Element } from './stanza.js';

export const NS_PRIVILEGE = ['urn:xmpp:privilege:2', 'urn:xmpp:privilege:1'] as const;
export type PrivilegeNamespace = (typeof NS_PRIVILEGE)[number];

export type RosterAccess = 'none' | 'get' | 'set' | 'both';
export type MessageAccess = 'none' | 'outgoing';
export type PresenceAccess = 'none' | 'managed_entity' | 'roster';

export interface Privileges {
  namespace: PrivilegeNamespace;
  /** The server (virtual host) domain that granted them. */
  server: string;
  /** The component domain they were granted to. */
  component: string;
  roster: RosterAccess;
  message: MessageAccess;
  presence: PresenceAccess;
  /** XEP-0356 v2 `iq` permission: namespace -> type. */
  iq: ReadonlyMap<string, 'get' | 'set' | 'both'>;
  receivedAt: Date;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[]): T {
  return allowed.includes(value as T) ? (value as T) : allowed[0]!;
}

/**
 * Reads a privilege advertisement; null if the stanza is not one. Pure: the
 * caller decides whether to trust the sender.
 */
export function parsePrivilegeAdvertisement(stanza: Element): Omit<Privileges, 'receivedAt'> | null {
  if (stanza.name !== 'message' || stanza.attrs.type === 'error') return null;
  let privilege: Element | undefined;
  let namespace: PrivilegeNamespace | undefined;
  for (const ns of NS_PRIVILEGE) {
    privilege = stanza.getChild('privilege', ns);
    if (privilege) {
      namespace = ns;
      break;
    }
  }
  if (!privilege || !namespace) return null;
  // A <privilege/> wrapping <forwarded/> is a privileged message, not an advertisement.
  if (privilege.getChild('forwarded')) return null;
  const perms = new Map<string, Element>();
  for (const perm of privilege.getChildren('perm')) if (perm.attrs.access) perms.set(perm.attrs.access, perm);
  const iq = new Map<string, 'get' | 'set' | 'both'>();
  for (const ns of perms.get('iq')?.getChildren('namespace') ?? []) {
    const type = ns.attrs.type;
    if (ns.attrs.ns && (type === 'get' || type === 'set' || type === 'both')) iq.set(ns.attrs.ns, type);
  }
  return {
    namespace,
    server: domainOf(stanza.attrs.from),
    component: domainOf(stanza.attrs.to),
    roster: oneOf(perms.get('roster')?.attrs.type, ['none', 'get', 'set', 'both'] as const),
    message: oneOf(perms.get('message')?.attrs.type, ['none', 'outgoing'] as const),
    presence: oneOf(perms.get('presence')?.attrs.type, ['none', 'managed_entity', 'roster'] as const),
    iq,
  };
}

/** Whether `from` is a bare domain (a server), the only sender an advertisement is taken from. */
function isServerAddress(from: string | undefined): boolean {
  if (!from) return false;
  try {
    const jid = parseJid(from);
    return !jid.local && !jid.resource;
  } catch {
    return false;
  }
}

type Listener = (privileges: Privileges) => void;

/** An identical advertisement this soon after the last one is a repeat (several connections), not a new grant. */
const REPEAT_WINDOW_MS = 10_000;

function samePermissions(a: Privileges, b: Privileges): boolean {
  return (
    a.namespace === b.namespace &&
    a.roster === b.roster &&
    a.message === b.message &&
    a.presence === b.presence &&
    a.iq.size === b.iq.size &&
    [...a.iq].every(([ns, type]) => b.iq.get(ns) === type)
  );
}

export class PrivilegeRegistry {
  private readonly granted = new Map<string, Privileges>();
  private readonly unusableRosterSet = new Set<string>();
  private readonly listeners = new Set<Listener>();

  private static key(component: string, server: string): string {
    return `${component.toLowerCase()}\n${server.toLowerCase()}`;
  }

  /** Router interceptor: takes privilege advertisements from servers, lets everything else through. */
  readonly intercept = (stanza: Element): boolean => {
    if (stanza.name !== 'message' || !isServerAddress(stanza.attrs.from)) return false;
    const parsed = parsePrivilegeAdvertisement(stanza);
    if (!parsed || !parsed.component) return false;
    this.record({ ...parsed, receivedAt: new Date() });
    return true;
  };

  record(privileges: Privileges): void {
    const key = PrivilegeRegistry.key(privileges.component, privileges.server);
    const previous = this.granted.get(key);
    // ejabberd repeats the same advertisement on every component connection
    // of a listener within milliseconds: a repeat is not news.
    if (previous && samePermissions(previous, privileges) && privileges.receivedAt.getTime() - previous.receivedAt.getTime() < REPEAT_WINDOW_MS) {
      return;
    }
    this.granted.set(key, privileges);
    this.unusableRosterSet.delete(key);
    for (const listener of this.listeners) listener(privileges);
  }

  /** What `server` granted `component`, if it advertised anything. */
  get(component: string, server: string): Privileges | undefined {
    return this.granted.get(PrivilegeRegistry.key(component, server));
  }

  /** Everything advertised to this component domain. */
  forComponent(component: string): Privileges[] {
    return [...this.granted.values()].filter((p) => p.component === component.toLowerCase());
  }

  /** Whether the component may read the roster of `user` (any JID form) through their server. */
  mayGetRoster(component: string, user: string): boolean {
    const roster = this.get(component, domainOf(user))?.roster;
    return roster === 'get' || roster === 'both';
  }

  /** Whether the component may write the roster of `user`, and that has not failed since the last advertisement. */
  maySetRoster(component: string, user: string): boolean {
    const server = domainOf(user);
    const roster = this.get(component, server)?.roster;
    return (roster === 'set' || roster === 'both') && !this.unusableRosterSet.has(PrivilegeRegistry.key(component, server));
  }

  /** The server failed a roster set despite the permission (ejabberd 23.01): stop trying until it advertises again. */
  markRosterSetUnusable(component: string, user: string): void {
    this.unusableRosterSet.add(PrivilegeRegistry.key(component, domainOf(user)));
  }

  /** Calls `listener` for every advertisement received from now on. */
  onAdvertisement(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

const registries = new WeakMap<StanzaRouter, PrivilegeRegistry>();

/** The privilege registry of this gateway (one per router); installs its interceptor on first use. */
export function privilegesOf(router: StanzaRouter): PrivilegeRegistry {
  let registry = registries.get(router);
  if (!registry) {
    registry = new PrivilegeRegistry();
    router.intercept(registry.intercept);
    registries.set(router, registry);
  }
  return registry;
}

/** The reply to an iq the gateway sent: type result, or error (with its <error/> child). */
export type IqReply = Element;

export class IqTimeoutError extends Error {
  constructor(to: string, ms: number) {
    super(`no reply from ${to} within ${ms} ms`);
    this.name = 'IqTimeoutError';
  }
}

/** Iqs sent by the gateway, matched with their replies by id and sender (RFC 6120 §8.2.3). */
export class IqRequests {
  private readonly pending = new Map<string, { to: string; resolve: (reply: IqReply) => void }>();

  readonly intercept = (stanza: Element): boolean => {
    if (stanza.name !== 'iq' || (stanza.attrs.type !== 'result' && stanza.attrs.type !== 'error')) return false;
    const waiting = this.pending.get(stanza.attrs.id ?? '');
    if (!waiting) return false;
    // A reply from someone else with a guessed id is not the reply.
    if ((stanza.attrs.from ?? '').toLowerCase() !== waiting.to) return false;
    this.pending.delete(stanza.attrs.id!);
    waiting.resolve(stanza);
    return true;
  };

  /**
   * Sends `iq` (its id is set here) and resolves with the reply, result or
   * error alike; rejects with IqTimeoutError when none comes in time.
   */
  request(send: (element: Element) => Promise<void>, iq: Element, timeoutMs = 10_000): Promise<IqReply> {
    const id = `ponte-${randomUUID()}`;
    iq.attrs.id = id;
    const to = (iq.attrs.to ?? '').toLowerCase();
    return new Promise<IqReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new IqTimeoutError(to, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, {
        to,
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
      });
      send(iq).catch((err: unknown) => {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err);
      });
    });
  }
}

const requesters = new WeakMap<StanzaRouter, IqRequests>();

/** The iq requester of this gateway (one per router); installs its interceptor on first use. */
export function iqRequests(router: StanzaRouter): IqRequests {
  let requests = requesters.get(router);
  if (!requests) {
    requests = new IqRequests();
    router.intercept(requests.intercept);
    requesters.set(router, requests);
  }
  return requests;
}
