// What every JID of the gateway answers whatever the network: software
// version (XEP-0092), ping (XEP-0199) and entity time (XEP-0202).
import { VERSION } from '../version.js';
import type { XmppModule } from './context.js';
import { NS } from './namespaces.js';
import { xml } from './stanza.js';

export const registerService: XmppModule = ({ router, core }) => {
  for (const { domain } of core.domains) {
    router.onIq(domain, 'get', NS.ping, 'ping', () => undefined);

    router.onIq(domain, 'get', NS.version, 'query', () =>
      xml('query', { xmlns: NS.version }, xml('name', {}, 'ponte'), xml('version', {}, VERSION)),
    );

    router.onIq(domain, 'get', NS.time, 'time', () => {
      const now = new Date();
      return xml('time', { xmlns: NS.time }, xml('tzo', {}, 'Z'), xml('utc', {}, now.toISOString().replace(/\.\d{3}Z$/, 'Z')));
    });
  }
};
