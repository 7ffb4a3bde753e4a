// Service discovery (XEP-0030) on the gateway domains.
import { GatewayError } from '../core/errors.js';
import type { XmppModule } from './context.js';
import { NS } from './namespaces.js';
import { xml } from './stanza.js';

/** Features every gateway domain offers, whatever the network. */
const GATEWAY_FEATURES = [NS.discoInfo, NS.discoItems, NS.ping, NS.version, NS.time];

export const registerDisco: XmppModule = ({ router, core, addressing }) => {
  for (const gateway of core.domains) {
    router.onIq(gateway.domain, 'get', NS.discoInfo, 'query', async (iq) => {
      const target = await addressing.resolve(iq.to);
      if (target.kind !== 'gateway' || target.resource) {
        throw new GatewayError('item-not-found', `${iq.to} does not exist on this gateway.`);
      }
      if (iq.payload.attrs.node) throw new GatewayError('item-not-found', `No such node: ${iq.payload.attrs.node}`);
      const features = [...new Set(GATEWAY_FEATURES)].sort();
      return xml(
        'query',
        { xmlns: NS.discoInfo },
        xml('identity', { category: 'gateway', type: gateway.network.identityType, name: gateway.network.displayName }),
        ...features.map((feature) => xml('feature', { var: feature })),
      );
    });

    router.onIq(gateway.domain, 'get', NS.discoItems, 'query', async (iq) => {
      const target = await addressing.resolve(iq.to);
      if (target.kind !== 'gateway') throw new GatewayError('item-not-found', `${iq.to} has no items.`);
      return xml('query', { xmlns: NS.discoItems });
    });
  }
};
