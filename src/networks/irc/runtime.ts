// What the IRC network holds for all its users, built once from the config:
// the extra CA certificates, the identd; and the profile of one user's
// connection to one server, from that and the user's stored settings.
import { readFileSync } from 'node:fs';
import type { Logger } from '../../log.js';
import type { StoredAccount } from '../types.js';
import { identUsername, webircIdentity } from './auth.js';
import { Identd } from './identd.js';
import { channelSettingsOf, connectionProfile, type ConnectionProfile, type IrcNetworkConfig } from './settings.js';

export interface IrcRuntime {
  config: IrcNetworkConfig;
  ca?: string;
  identd?: Identd;
  /** The network's logger, from the first login's context. */
  log?: Logger;
}

/** The user a session belongs to, with the accounts the store keeps (replaced when settings are saved). */
export interface IrcUser {
  jid: string;
  accounts: StoredAccount[];
  runtime: IrcRuntime;
}

/** Reads networks.irc.caFile (an error names the key) and prepares the identd (it listens only while connections exist). */
export function createIrcRuntime(config: IrcNetworkConfig): IrcRuntime {
  const runtime: IrcRuntime = { config };
  if (config.caFile) {
    try {
      runtime.ca = readFileSync(config.caFile, 'utf8');
    } catch (err) {
      throw new Error(`networks.irc.caFile: cannot read ${config.caFile}: ${(err as Error).message}`, { cause: err });
    }
    if (!runtime.ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`networks.irc.caFile: ${config.caFile} holds no PEM certificate`);
  }
  if (config.identd && config.identd.port > 0) runtime.identd = new Identd(config.identd.port, config.identd.host, () => runtime.log);
  return runtime;
}

/** How this user connects to `server`. */
export function profileFor(user: IrcUser, server: string, requestedNick: string): ConnectionProfile {
  const { config, ca, identd } = user.runtime;
  return connectionProfile({
    config,
    accounts: user.accounts,
    server,
    requestedNick,
    ...(ca ? { ca } : {}),
    ...(identd ? { identd } : {}),
    webircIdentity: webircIdentity(user.jid, config.domain ?? 'irc.localhost'),
    identUsername: identUsername(user.jid),
  });
}

/** The stored key of a channel (id `#chan%server`), used when a join carries none. */
export function storedChannelKey(user: IrcUser, channelId: string): string | undefined {
  return channelSettingsOf(user.accounts, channelId).key;
}

/** A nick for connections made before any join (LIST): the JID's local part, made IRC-safe. */
export function defaultNick(userJid: string): string {
  const local = userJid.split('@')[0] ?? '';
  const cleaned = local.replace(/[^A-Za-z0-9_\-[\]\\^{}|`]/g, '').replace(/^[-0-9]+/, '').slice(0, 15);
  return cleaned || 'ponte';
}
