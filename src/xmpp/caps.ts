// Entity capabilities (XEP-0115) for presences the gateway sends.
import type { GatewayDomain } from '../core/core.js';
import type { Element } from './stanza.js';

/** The <c/> element to put in presences sent from this gateway's JIDs; null until implemented. */
export function capsElement(_gateway: GatewayDomain, _kind: 'gateway' | 'contact' | 'occupant'): Element | null {
  return null;
}
