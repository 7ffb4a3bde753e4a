// JIDs of the gateway <-> network addresses, in one place. The JID localpart
// is XEP-0106 escaped; the network's AddressCodec sees it unescaped and says
// what it names:
//   irc.example.org                          the gateway itself
//   #chan%irc.libera.chat@irc.example.org    a room (kind 'room')
//   #chan%irc.libera.chat@irc.example.org/n  an occupant of that room
//   alice%irc.libera.chat@irc.example.org    a contact
//   irc.libera.chat@irc.example.org          a network server
import type { Core, GatewayDomain } from '../core/core.js';
import { GatewayError } from '../core/errors.js';
import type { NetworkAddress } from '../networks/types.js';
import { parseJid } from './stanza.js';

export type Target =
  | { kind: 'gateway'; gateway: GatewayDomain; bare: string; resource: string }
  | { kind: 'room'; gateway: GatewayDomain; address: NetworkAddress; bare: string }
  | { kind: 'occupant'; gateway: GatewayDomain; address: NetworkAddress; bare: string; nick: string }
  | { kind: 'contact' | 'server'; gateway: GatewayDomain; address: NetworkAddress; bare: string; resource: string };

export class Addressing {
  constructor(private readonly core: Core) {}

  /** What a JID of ours names. Throws jid-malformed or item-not-found with a readable text. */
  async resolve(address: string): Promise<Target> {
    let jid;
    try {
      jid = parseJid(address);
    } catch {
      throw new GatewayError('jid-malformed', `"${address}" is not a valid XMPP address.`);
    }
    const gateway = this.core.gateway(jid.domain);
    if (!gateway) throw new GatewayError('item-not-found', `${jid.domain} is not a domain of this gateway.`);
    const bareDomain = gateway.domain;
    if (!jid.local) return { kind: 'gateway', gateway, bare: bareDomain, resource: jid.resource ?? '' };

    const local = jid.getLocal(true);
    const networkAddress = await gateway.network.addresses.parse(local, this.core.handles(gateway.name));
    if (!networkAddress) {
      throw new GatewayError('item-not-found', `"${local}" does not name anything on ${gateway.name}; see the gateway's help for the address format.`);
    }
    const bare = await this.jid(gateway, networkAddress);
    if (networkAddress.kind === 'room') {
      if (jid.resource) return { kind: 'occupant', gateway, address: networkAddress, bare, nick: jid.resource };
      return { kind: 'room', gateway, address: networkAddress, bare };
    }
    return { kind: networkAddress.kind, gateway, address: networkAddress, bare, resource: jid.resource ?? '' };
  }

  /** The bare JID (or full, with a resource) of a network address on this gateway. */
  async jid(gateway: GatewayDomain, address: NetworkAddress, resource?: string): Promise<string> {
    const local = await gateway.network.addresses.format(address, this.core.handles(gateway.name));
    const bare = `${parseJid.escapeLocal(local)}@${gateway.domain}`;
    return resource === undefined || resource === '' ? bare : `${bare}/${resource}`;
  }
}
