// What every JID of the gateway answers whatever the network: software
// version (XEP-0092), ping (XEP-0199) and entity time (XEP-0202). A ping to
// an occupant JID is a MUC self-ping (XEP-0410), answered from the room state.
import { VERSION } from '../version.js';
import type { XmppModule } from './context.js';
import { checkOccupantPing } from './muc.js';
import { NS } from './namespaces.js';
import { xml } from './stanza.js';

export const registerService: XmppModule = ({ router, core, addressing }) => {
  for (const { domain } of core.domains) {
    router.onIq(domain, 'get', NS.ping, 'ping', async (iq) => {
      const target = await addressing.resolve(iq.to).catch(() => null);
      if (target?.kind === 'occupant') checkOccupantPing(core, target, iq.from);
    });

    router.onIq(domain, 'get', NS.version, 'query', () =>
      xml('query', { xmlns: NS.version }, xml('name', {}, 'ponte'), xml('version', {}, VERSION)),
    );

    router.onIq(domain, 'get', NS.time, 'time', () => {
      const now = new Date();
      return xml('time', { xmlns: NS.time }, xml('tzo', {}, 'Z'), xml('utc', {}, now.toISOString().replace(/\.\d{3}Z$/, 'Z')));
    });
  }
};
