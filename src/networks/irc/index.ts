import type { Network } from '../types.js';

export const ircNetwork: Network = {
  name: 'irc',
  identityType: 'irc',
  displayName: 'IRC gateway (ponte)',
  features: [],
};
