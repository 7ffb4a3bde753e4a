// Entity capabilities (XEP-0115) for presences the gateway sends.
//
// Every available presence from one of the gateway's JIDs carries
// <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node=… ver=…/>,
// where `ver` hashes (XEP-0115 §5.1) exactly what disco#info answers for that
// kind of JID. A client seeing an unknown `ver` asks disco#info at node
// `node#ver` once and caches the answer for every JID with the same `ver`; a
// `ver` that does not match the answer makes verifying clients (§5.6) ask
// again on every presence. Hence no table of our own here: the identities and
// features come from disco.ts (gatewayDiscoInfo / contactDiscoInfo /
// serverDiscoInfo, built from its one capability -> feature table), and so
// does the hashing (capsVerification), which also answers the `node#ver`
// queries.
import type { GatewayDomain } from '../core/core.js';
import type { NetworkAddress } from '../networks/types.js';
import { capsElement as capsOf, contactDiscoInfo, gatewayDiscoInfo, serverDiscoInfo, type FeatureOptions } from './disco.js';
import type { Element } from './stanza.js';

export type CapsKind = 'gateway' | 'contact' | 'occupant';

/** The <c/> element to put in presences sent from this gateway's JIDs (a new element each call: an element has one parent). */
export function capsElement(gateway: GatewayDomain, kind: CapsKind, options: FeatureOptions = {}): Element | null {
  // options must be the ones disco#info answers with (archive on or off), or `ver` would not match.
  return capsOf(kind === 'gateway' ? gatewayDiscoInfo(gateway.network, options) : contactDiscoInfo(gateway.network));
}

/** The <c/> element for presences from a network server's JID (its disco#info names the server). */
export function serverCapsElement(gateway: GatewayDomain, server: NetworkAddress): Element {
  return capsOf(serverDiscoInfo(gateway.network, server.id));
}
