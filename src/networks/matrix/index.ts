import type { Network } from '../types.js';

export const matrixNetwork: Network = {
  name: 'matrix',
  identityType: 'matrix',
  displayName: 'Matrix gateway (ponte)',
  features: [],
};
