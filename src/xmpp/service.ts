// What every gateway domain answers about itself: service discovery
// (XEP-0030), software version (XEP-0092), ping (XEP-0199) and entity time
// (XEP-0202). Room and contact addresses are served by the core as it grows;
// until then they are honestly unknown (item-not-found).
import { GatewayError } from '../core/errors.js';
import type { Network } from '../networks/types.js';
import type { IqRequest, StanzaRouter } from './router.js';
import { VERSION } from '../version.js';
import { NS } from './namespaces.js';
import { parseJid, xml } from './stanza.js';

/** Features every gateway domain offers, whatever the network. */
const GATEWAY_FEATURES = [NS.discoInfo, NS.discoItems, NS.ping, NS.version, NS.time];

function requireDomainItself(iq: IqRequest, domain: string): void {
  let to;
  try {
    to = parseJid(iq.to);
  } catch {
    throw new GatewayError('jid-malformed', `"${iq.to}" is not a valid address.`);
  }
  if (to.local || to.resource) {
    throw new GatewayError('item-not-found', `${iq.to} does not exist on this gateway.`);
  }
  if (to.domain !== domain) throw new GatewayError('item-not-found', `${iq.to} is not served here.`);
}

export function registerServiceHandlers(router: StanzaRouter, domain: string, network: Network): void {
  router.onIq(domain, 'get', NS.discoInfo, 'query', (iq) => {
    requireDomainItself(iq, domain);
    if (iq.payload.attrs.node) throw new GatewayError('item-not-found', `No such node: ${iq.payload.attrs.node}`);
    const features = [...new Set([...GATEWAY_FEATURES, ...network.features])].sort();
    return xml(
      'query',
      { xmlns: NS.discoInfo },
      xml('identity', { category: 'gateway', type: network.identityType, name: network.displayName }),
      ...features.map((feature) => xml('feature', { var: feature })),
    );
  });

  router.onIq(domain, 'get', NS.discoItems, 'query', (iq) => {
    requireDomainItself(iq, domain);
    return xml('query', { xmlns: NS.discoItems });
  });

  router.onIq(domain, 'get', NS.ping, 'ping', () => undefined);

  router.onIq(domain, 'get', NS.version, 'query', () =>
    xml('query', { xmlns: NS.version }, xml('name', {}, 'ponte'), xml('version', {}, VERSION)),
  );

  router.onIq(domain, 'get', NS.time, 'time', () => {
    const now = new Date();
    return xml('time', { xmlns: NS.time }, xml('tzo', {}, 'Z'), xml('utc', {}, now.toISOString().replace(/\.\d{3}Z$/, 'Z')));
  });
}
