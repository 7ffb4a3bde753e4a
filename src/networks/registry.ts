// The explicit list of networks ponte knows. A new network is one folder
// under src/networks/ and one line here.
import { ircNetwork } from './irc/index.js';
import { matrixNetwork } from './matrix/index.js';
import type { Network } from './types.js';

export const NETWORKS = {
  irc: ircNetwork,
  matrix: matrixNetwork,
} as const satisfies Record<string, Network>;

export type NetworkName = keyof typeof NETWORKS;
