// Where incoming stanzas go: a route table keyed by the gateway domain the
// stanza is addressed to, shared by all component connections. A connection
// may receive stanzas for a sibling domain: ejabberd registers every host of
// an `ejabberd_service` listener for each component that authenticates on it,
// so irc.example.org traffic can arrive on the matrix.example.org connection.
// Routing by the `to` domain makes that harmless.
import type { Element } from './stanza.js';

export interface IqRequest {
  from: string;
  to: string;
  id: string;
  type: 'get' | 'set';
  /** The single child element of the iq. */
  payload: Element;
  stanza: Element;
  /**
   * Sends through the connection this iq came in on, the one that carries the
   * reply: what goes this way reaches the requester before the reply (MAM
   * results), which context.send cannot promise when the server delivers a
   * domain's traffic on a sibling connection (ejabberd).
   */
  sendBeforeReply?: (element: Element) => Promise<void>;
}

/** Returns the result payload, or nothing for an empty result. Throw GatewayError for an error reply. */
export type IqHandler = (iq: IqRequest) => Promise<Element | undefined | void> | Element | undefined | void;

export interface InboundStanza {
  kind: 'message' | 'presence';
  from: string;
  to: string;
  /** The type attribute, with RFC 6120 defaults filled in ('normal' for message, 'available' for presence). */
  type: string;
  id: string | undefined;
  stanza: Element;
}
export type StanzaHandler = (stanza: InboundStanza) => Promise<void> | void;

/** The domain part of a JID string, lowercased ('' if there is none). */
export function domainOf(address: string | undefined): string {
  if (!address) return '';
  const withoutResource = address.split('/')[0]!;
  const at = withoutResource.lastIndexOf('@');
  return withoutResource.slice(at + 1).toLowerCase();
}

/** Runs before every handler; throws (GatewayError forbidden, say) to refuse the stanza. */
export type StanzaGuard = (stanza: Element) => void;

/**
 * Sees inbound messages, presences and iq replies (result/error) before access
 * control and dispatch; returns true when it took the stanza, which then goes
 * nowhere else. For what is not addressed to a JID's owner module: the
 * XEP-0356 advertisement from the server, replies to iqs the gateway sent,
 * presence the server forwards under XEP-0356 (see privilege.ts, presence.ts).
 */
export type StanzaInterceptor = (stanza: Element) => boolean;

export class StanzaRouter {
  private readonly iqRoutes = new Map<string, IqHandler>();
  private readonly stanzaRoutes = new Map<string, StanzaHandler>();
  private guardFn: StanzaGuard = () => undefined;
  private readonly interceptors: StanzaInterceptor[] = [];

  /** Access control: one check for every stanza, whatever handles it. */
  setGuard(guard: StanzaGuard): void {
    this.guardFn = guard;
  }

  guard(stanza: Element): void {
    this.guardFn(stanza);
  }

  intercept(interceptor: StanzaInterceptor): void {
    this.interceptors.push(interceptor);
  }

  /** Whether an interceptor took the stanza. */
  intercepted(stanza: Element): boolean {
    return this.interceptors.some((interceptor) => interceptor(stanza));
  }

  private static iqKey(domain: string, type: string, ns: string, name: string): string {
    return `${domain.toLowerCase()}|${type}|${ns}|${name}`;
  }

  onIq(domain: string, type: 'get' | 'set', ns: string, name: string, handler: IqHandler): void {
    this.iqRoutes.set(StanzaRouter.iqKey(domain, type, ns, name), handler);
  }

  onMessage(domain: string, handler: StanzaHandler): void {
    this.stanzaRoutes.set(`${domain.toLowerCase()}|message`, handler);
  }

  onPresence(domain: string, handler: StanzaHandler): void {
    this.stanzaRoutes.set(`${domain.toLowerCase()}|presence`, handler);
  }

  iqHandler(to: string, type: string, payload: Element): IqHandler | undefined {
    return this.iqRoutes.get(StanzaRouter.iqKey(domainOf(to), type, payload.attrs.xmlns ?? '', payload.name));
  }

  stanzaHandler(to: string, kind: 'message' | 'presence'): StanzaHandler | undefined {
    return this.stanzaRoutes.get(`${domainOf(to)}|${kind}`);
  }
}
