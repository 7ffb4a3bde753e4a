// jabber:iq:gateway (XEP-0100 §6.3): the prompt a client shows to add a
// contact of the network, and the JID for what the user typed there. Only
// offered when the network can read such input (contactFromPrompt); disco
// advertises the feature under the same condition.
import { GatewayError } from '../core/errors.js';
import type { XmppModule } from './context.js';
import { NS } from './namespaces.js';
import { xml } from './stanza.js';

/** Longer input is no address on any network ponte serves. */
const MAX_PROMPT_LENGTH = 1024;

export const registerGatewayIq: XmppModule = ({ router, core, addressing }) => {
  for (const gateway of core.domains) {
    const { network } = gateway;

    const requireGateway = async (to: string) => {
      const target = await addressing.resolve(to);
      if (target.kind !== 'gateway') throw new GatewayError('service-unavailable', `Ask ${gateway.domain} itself, not ${to}.`);
      if (!network.contactFromPrompt) {
        throw new GatewayError('feature-not-implemented', `${network.displayName} cannot turn an address into a JID.`);
      }
      return network.contactFromPrompt.bind(network);
    };

    router.onIq(gateway.domain, 'get', NS.gateway, 'query', async (iq) => {
      await requireGateway(iq.to);
      return xml(
        'query',
        { xmlns: NS.gateway },
        xml('desc', {}, `Enter the address of the person on ${network.displayName} you would like to contact.`),
        xml('prompt', {}, 'Contact ID'),
      );
    });

    router.onIq(gateway.domain, 'set', NS.gateway, 'query', async (iq) => {
      const contactFromPrompt = await requireGateway(iq.to);
      const prompt = iq.payload.getChildText('prompt');
      if (prompt === null || prompt.trim() === '') throw new GatewayError('bad-request', 'Put the address to look up in <prompt/>.');
      if (prompt.length > MAX_PROMPT_LENGTH) throw new GatewayError('bad-request', 'That address is too long.');
      const address = contactFromPrompt(prompt);
      if (!address) {
        throw new GatewayError('item-not-found', `"${prompt.trim().slice(0, 200)}" is not an address of someone on ${network.displayName}.`);
      }
      return xml('query', { xmlns: NS.gateway }, xml('jid', {}, await addressing.jid(gateway, address)));
    });
  }
};
