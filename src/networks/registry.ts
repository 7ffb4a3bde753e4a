// The explicit list of networks ponte knows, each built from the config (its
// own section under networks.*). A new network is one folder under
// src/networks/ and one line here.
import type { Config } from '../config/schema.js';
import { createIrcNetwork } from './irc/index.js';
import { createMatrixNetwork } from './matrix/index.js';
import type { Network } from './types.js';

export const NETWORKS = {
  irc: (config: Config) => createIrcNetwork(config.networks.irc),
  matrix: (config: Config) => createMatrixNetwork(config.networks.matrix),
} as const satisfies Record<string, (config: Config) => Network>;

export type NetworkName = keyof typeof NETWORKS;
