// The IRC network's NetworkSettings: the "configure" forms of the gateway
// domain (the user's defaults), of server JIDs and of channel JIDs, on top of
// the pure functions of settings.ts.
import type { NetworkSettings } from '../types.js';
import { applySettings, settingsAccountKey, settingsForm, type IrcNetworkConfig } from './settings.js';

export function ircSettings(config: IrcNetworkConfig): NetworkSettings {
  return {
    // Contacts have no settings; every server and channel a JID can name has.
    offers: (scope) => scope.kind === 'gateway' || scope.address.kind === scope.kind,
    accountKey: settingsAccountKey,
    form: (scope, current, defaults) => settingsForm(config, scope, current, defaults),
    apply: (scope, values, current) => applySettings(config, scope, values, current),
  };
}
