// The Matrix network. Its adapter (matrix-js-sdk login as the user, room and
// event mapping) is being built; until then the gateway domain answers
// discovery and says clearly that Matrix cannot be used yet.
import { GatewayError } from '../../core/errors.js';
import type { Network } from '../types.js';

export const matrixNetwork: Network = {
  name: 'matrix',
  identityType: 'matrix',
  displayName: 'Matrix gateway (ponte)',
  capabilities: new Set(),
  registrationRequired: true,
  addresses: {
    async parse() {
      return null;
    },
    async format(address) {
      return address.id;
    },
  },
  registrationForm: () => ({ instructions: 'Matrix support is not available in this version of ponte yet.', fields: [] }),
  async register() {
    throw new GatewayError('feature-not-implemented', 'Matrix accounts cannot be registered in this version of ponte yet.');
  },
  async login() {
    throw new GatewayError('feature-not-implemented', 'Matrix is not available in this version of ponte yet.');
  },
};
