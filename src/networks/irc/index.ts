// The IRC network: irc-framework connections per (XMPP user, IRC server),
// channels as MUC rooms. Built from networks.irc in the config (the servers
// and how to reach them, an optional fixed server).
import type { Capability, Network } from '../types.js';
import { ChannelTypes, ircAddressCodec, isNick, contactAddress, type IrcSettings } from './addresses.js';
import type { ConnectionPolicy } from './connection.js';
import { ConnectGate } from './reconnect.js';
import { createIrcRuntime } from './runtime.js';
import { IrcSession } from './session.js';
import { ircSettings } from './settings-commands.js';
import type { IrcNetworkConfig } from './settings.js';

/** networks.irc from the config: addressing plus how connections behave. */
export interface IrcNetworkSettings extends IrcSettings {
  reconnectAttempts: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  throttleBurst: number;
  throttleLinesPerSecond: number;
  maxConnectingPerServer: number;
  netsplitHoldMs: number;
}

/** Only what works end to end; more as it is built (issue 4). */
const CAPABILITIES: readonly Capability[] = [
  'rooms', 'contacts', 'private-messages', 'room-password', 'topic', 'nick-change', 'kick', 'ban', 'roles', 'invites',
  // Through IRCv3 tags where the server has them (typing, reactions), else a fallback or a clear error (ircv3.ts).
  'chat-states', 'replies', 'reactions',
  'room-list',
];

export function createIrcNetwork(settings: IrcNetworkSettings & IrcNetworkConfig): Network {
  const runtime = createIrcRuntime(settings);
  // What each IRC server calls a channel, learnt from its connections (addresses.ts).
  const chanTypes = new ChannelTypes();
  // One gate for the whole gateway: the limit is per IRC server, across users.
  const policy: ConnectionPolicy = {
    reconnect: { attempts: settings.reconnectAttempts, initialMs: settings.reconnectInitialMs, maxMs: settings.reconnectMaxMs },
    throttle: { burst: settings.throttleBurst, linesPerSecond: settings.throttleLinesPerSecond },
    gate: new ConnectGate(settings.maxConnectingPerServer),
    netsplitHoldMs: settings.netsplitHoldMs,
  };
  return {
    name: 'irc',
    identityType: 'irc',
    displayName: 'IRC gateway (ponte)',
    capabilities: new Set(CAPABILITIES),
    registrationRequired: false,
    addresses: ircAddressCodec(settings, chanTypes),
    registrationForm: () => ({ instructions: 'Nothing to register: IRC needs no account.', fields: [] }),
    async register() {
      return { accountKey: '', credentials: {} };
    },
    async login(account, sink, context) {
      runtime.log ??= context.log;
      return new IrcSession(settings, policy, sink, context.log, { jid: account.userJid, accounts: account.accounts, runtime }, chanTypes);
    },
    settings: ircSettings(settings),
    contactFromPrompt(prompt) {
      const text = prompt.trim();
      const percent = text.lastIndexOf('%');
      const nick = percent < 0 ? text : text.slice(0, percent);
      const server = percent < 0 ? settings.fixedServer : text.slice(percent + 1);
      return server && isNick(nick) ? contactAddress(nick, server) : null;
    },
  };
}
