// Small helpers shared by the MUC handlers.
import { randomUUID } from 'node:crypto';
import type { GatewayDomain } from '../../core/core.js';
import { GatewayError } from '../../core/errors.js';
import type { RoomState } from '../../core/rooms.js';
import type { Session } from '../../core/sessions.js';
import type { Capability, NetworkSession } from '../../networks/types.js';
import type { Target } from '../addressing.js';
import { capsElement } from '../caps.js';
import type { XmppContext } from '../context.js';
import type { Element } from '../stanza.js';
import type { ItemSpec } from './stanzas.js';

export type RoomTarget = Extract<Target, { kind: 'room' }>;
export type OccupantTarget = Extract<Target, { kind: 'occupant' }>;

export const STANZAS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

export function newId(): string {
  return randomUUID();
}

/**
 * Sends in the order given. The sends are started synchronously one after the
 * other, so nothing sent by another handler can come in between (the join
 * sequence relies on it); failures are logged, never thrown.
 */
export function sendInOrder(context: XmppContext, elements: readonly Element[]): Promise<void> {
  const sends = elements.map((element) =>
    context.send(element).catch((err: Error) => context.log.warn({ err: err.message, to: element.attrs.to }, 'MUC stanza not sent')),
  );
  return Promise.all(sends).then(() => undefined);
}

export function occupantCaps(gateway: GatewayDomain): Element | null {
  return capsElement(gateway, 'occupant');
}

/** The user's own item: their affiliation and role in the room. */
export function ownItem(room: RoomState, extra: Partial<ItemSpec> = {}): ItemSpec {
  return { affiliation: room.affiliation, role: room.role, ...extra };
}

/**
 * The network session method behind a capability, or feature-not-implemented
 * with a text: a network offers only what it declares and implements.
 */
export function requireFeature<K extends keyof NetworkSession>(
  gateway: GatewayDomain,
  session: Session,
  capability: Capability,
  method: K,
  what: string,
): NonNullable<NetworkSession[K]> {
  const remote = session.remote;
  const fn = remote[method];
  if (!gateway.network.capabilities.has(capability) || typeof fn !== 'function') {
    throw new GatewayError('feature-not-implemented', `${gateway.network.displayName} does not support ${what}.`);
  }
  return (fn as (...args: unknown[]) => unknown).bind(remote) as NonNullable<NetworkSession[K]>;
}

/** The user's session and room, when this resource is in the room; not-acceptable otherwise (XEP-0045 §7.4, §18.1). */
export function joinedRoom(context: XmppContext, target: RoomTarget | OccupantTarget, from: string): { session: Session; room: RoomState } {
  const session = context.core.session(target.gateway, from);
  const room = session?.room(target.address);
  if (!session || !room || room.joining || !room.resources.has(from)) {
    throw new GatewayError('not-acceptable', `You are not in ${target.bare}; join it first.`);
  }
  return { session, room };
}

/** The stanza error condition of an error stanza, if any. */
export function errorCondition(stanza: Element): string | undefined {
  return stanza
    .getChild('error')
    ?.getChildElements()
    .find((child) => child.getNS() === STANZAS_NS && child.name !== 'text')?.name;
}

/**
 * Errors that mean a resource can no longer be reached: the service removes
 * it from the room (XEP-0045: "the service should remove the occupant if a
 * delivery-related stanza error occurs").
 */
export const DELIVERY_ERRORS: ReadonlySet<string> = new Set([
  'gone',
  'item-not-found',
  'recipient-unavailable',
  'redirect',
  'remote-server-not-found',
  'remote-server-timeout',
  'service-unavailable',
]);
