// The IRC network. Its adapter (irc-framework connections, channel mapping)
// is being built; until then the gateway domain answers discovery and says
// clearly that IRC cannot be used yet.
import { GatewayError } from '../../core/errors.js';
import type { Network } from '../types.js';

export const ircNetwork: Network = {
  name: 'irc',
  identityType: 'irc',
  displayName: 'IRC gateway (ponte)',
  capabilities: new Set(),
  registrationRequired: false,
  addresses: {
    async parse() {
      return null;
    },
    async format(address) {
      return address.id;
    },
  },
  registrationForm: () => ({ instructions: 'Nothing to register: IRC needs no account.', fields: [] }),
  async register() {
    return { accountKey: '', credentials: {} };
  },
  async login() {
    throw new GatewayError('feature-not-implemented', 'IRC connections are not available in this version of ponte yet.');
  },
};
