// Per-user IRC settings: what the user sets through ad-hoc "configure" on the
// gateway domain (defaults for every server), on a server JID (that server)
// and on a channel JID (that channel), how they are kept in the store, and
// the connection profile ponte builds from them and the admin's config.
//
// Decisions (docs/irc.md "Settings"):
// - Storage: one account row per IRC server the user configured, keyed by the
//   server name (so the gateway's disco#items lists it); the gateway-wide
//   defaults are the row with the empty key. Secrets (server password, SASL
//   password, NickServ password, client certificate and key, channel keys)
//   are in the row's sealed credentials; everything else in its settings
//   JSON. Channel settings live in their server's row under `channels`
//   (settings) and `channelKeys` (credentials), keyed by lowercased name.
// - Secrets are never shown back: their fields are always empty; empty (or
//   left out) keeps the stored value, a single "-" removes it.
// - The nick set for a server (else the gateway default) wins over the nick of
//   the first join, as biboumi's "nickname" setting does.
// - TLS: the admin's servers list decides (TLS with verification unless the
//   server is marked /plain). A user may turn TLS on anywhere, and off only
//   where the server is listed /plain or networks.irc.allowPlaintext is true;
//   otherwise saving is refused (not-allowed), never silently downgraded.
// - Encodings follow biboumi: incoming lines are read as UTF-8 and, where they
//   are not valid UTF-8, with the "input fallback" encoding (latin-1 by
//   default); outgoing lines use the "output" encoding (UTF-8 by default). A
//   channel may override both.
// - Settings saved while connected apply at the next connection to the server.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { GatewayError } from '../../core/errors.js';
import type { Identd } from './identd.js';
import type { FormField, NetworkAddress, SettingsScope, StoredAccount } from '../types.js';
import { ircLower, isNick, serverEndpoint, splitId, DEFAULT_PLAIN_PORT, DEFAULT_TLS_PORT, type IrcSettings, type ServerEndpoint } from './addresses.js';

/** networks.irc as the IRC network reads it (the config section; other keys are ignored). */
export interface IrcNetworkConfig extends IrcSettings {
  /** The gateway's component domain (names WEBIRC hosts). */
  domain?: string;
  /** PEM file of extra CA certificates trusted for IRC TLS, besides the system's. */
  caFile?: string | undefined;
  /** Users may turn TLS off for any server (not only /plain ones). */
  allowPlaintext?: boolean;
  /** `host=password`: send WEBIRC with this password to this server. */
  webirc?: readonly string[];
  identd?: { port: number; host: string };
}

/** Encodings offered: each is known to both the decoder (TextDecoder) and the encoder (iconv-lite in irc-framework). */
export const ENCODINGS: ReadonlyArray<{ value: string; label: string }> = [
  { value: 'utf-8', label: 'UTF-8' },
  { value: 'iso-8859-1', label: 'Latin-1 (ISO-8859-1)' },
  { value: 'iso-8859-15', label: 'Latin-9 (ISO-8859-15)' },
  { value: 'windows-1252', label: 'Windows-1252' },
  { value: 'iso-8859-2', label: 'Latin-2 (ISO-8859-2)' },
  { value: 'windows-1250', label: 'Windows-1250' },
  { value: 'windows-1251', label: 'Windows-1251 (Cyrillic)' },
  { value: 'koi8-r', label: 'KOI8-R' },
];
export const DEFAULT_ENCODING_OUT = 'utf-8';
export const DEFAULT_ENCODING_IN = 'iso-8859-1';

export type SaslMechanism = 'PLAIN' | 'EXTERNAL';

/** A channel's own settings. */
export interface ChannelSettings {
  encodingOut?: string;
  encodingIn?: string;
  /** Bouncer mode for this channel (kept joined while the user is offline). */
  persistent?: boolean;
}

/** What the settings JSON of a server row (or, for nick/username/realname, the default row) holds. */
export interface ServerSettings {
  nick?: string;
  username?: string;
  realname?: string;
  tls?: boolean;
  port?: number;
  encodingOut?: string;
  encodingIn?: string;
  saslMechanism?: SaslMechanism;
  saslAccount?: string;
  afterConnect?: string[];
  /** Token bucket of the send queue (throttle.ts): `burst` lines, then `rate` per second; burst -1: no limit. */
  throttle?: { burst: number; rate: number };
  persistent?: boolean;
  channels?: Record<string, ChannelSettings>;
}

/** What the sealed credentials of a server row hold. */
export interface ServerSecrets {
  password?: string;
  saslPassword?: string;
  nickservPassword?: string;
  /** PEM: the certificate, then its private key. */
  clientCertificate?: string;
  channelKeys?: Record<string, string>;
}

const REMOVE = '-';
const MAX_AFTER_CONNECT = 20;
const MAX_LINE_BYTES = 510;
const USERNAME = /^[A-Za-z0-9._~-]{1,32}$/;
const SASL_ACCOUNT = /^[^\s\x00-\x1f\x7f]{1,100}$/;

// --- reading what is stored ---------------------------------------------------------

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The stored row for a server (or '' for the defaults) among the user's accounts. */
export function rowFor(accounts: readonly StoredAccount[], key: string): StoredAccount | undefined {
  return accounts.find((account) => account.accountKey === key);
}

export function serverSettingsOf(row: StoredAccount | undefined): ServerSettings {
  return asRecord(row?.settings) as ServerSettings;
}

export function serverSecretsOf(row: StoredAccount | undefined): ServerSecrets {
  return asRecord(row?.credentials) as ServerSecrets;
}

/** A channel's settings and key as stored (the channel id is `#chan%server`). */
export function channelSettingsOf(accounts: readonly StoredAccount[], channelId: string): ChannelSettings & { key?: string } {
  const { name, server } = splitId(channelId);
  const row = rowFor(accounts, server);
  const lower = ircLower(name);
  const settings = asRecord(asRecord(serverSettingsOf(row).channels)[lower]) as ChannelSettings;
  const key = str(asRecord(serverSecretsOf(row).channelKeys)[lower]);
  return { ...settings, ...(key ? { key } : {}) };
}

/** Whether the user asked to stay on this server, or in this channel, while offline (bouncer mode). */
export function isPersistent(accounts: readonly StoredAccount[], server: string, channel?: string): boolean {
  if (channel !== undefined && channelSettingsOf(accounts, `${channel}%${server}`).persistent === true) return true;
  return serverSettingsOf(rowFor(accounts, server)).persistent === true;
}

// --- the profile a connection is made with --------------------------------------------

export interface ConnectionProfile extends ServerEndpoint {
  server: string;
  nick: string;
  username: string;
  realname: string;
  password?: string;
  sasl?: { mechanism: SaslMechanism; account?: string; password?: string };
  clientCertificate?: { certificate: string; privateKey: string };
  nickservPassword?: string;
  afterConnect: string[];
  encodingOut: string;
  encodingIn: string;
  /** Per channel (lowercased name): encodings that differ from the server's. */
  channelEncodings: Map<string, { out: string; in: string }>;
  /** Extra trusted CA certificates (PEM). */
  ca?: string;
  webirc?: { password: string; username: string; hostname: string; address: string };
  throttle?: { burst: number; rate: number };
  persistent: boolean;
  /** Answers ident queries for this connection while it is open. */
  identd?: Identd;
  /** What identd answers: the user name the user set, else a stable per-user name. */
  identUsername?: string;
}

/** A USER name the server accepts: letters and digits of the nick, at most 10. */
export function defaultUsername(nick: string): string {
  return nick.replace(/[^A-Za-z0-9]/g, '').slice(0, 10).toLowerCase() || 'ponte';
}

/** How to reach a server for this user: the admin's endpoint with the user's TLS and port applied. */
export function effectiveEndpoint(config: IrcNetworkConfig, server: string, settings: ServerSettings): ServerEndpoint {
  const listed = serverEndpoint(server, config);
  const tls = settings.tls ?? listed.tls;
  const port = settings.port ?? (tls === listed.tls ? listed.port : tls ? DEFAULT_TLS_PORT : DEFAULT_PLAIN_PORT);
  return { host: listed.host, port, tls };
}

/** Whether the admin lets users reach this server without TLS. */
export function plaintextAllowed(config: IrcNetworkConfig, server: string): boolean {
  return config.allowPlaintext === true || serverEndpoint(server, config).tls === false;
}

export interface ProfileInput {
  config: IrcNetworkConfig;
  accounts: readonly StoredAccount[];
  server: string;
  /** The nick the user asked for when joining. */
  requestedNick: string;
  /** Extra CA certificates read from config.caFile. */
  ca?: string;
  /** The WEBIRC host and address for this user (auth.ts webircIdentity). */
  webircIdentity?: { hostname: string; address: string };
  identd?: Identd;
  /** identd's answer when the user set no user name. */
  identUsername?: string;
}

/** Everything a connection to `server` is made with, from the config and the user's stored settings. */
export function connectionProfile(input: ProfileInput): ConnectionProfile {
  const { config, accounts, server } = input;
  const defaults = serverSettingsOf(rowFor(accounts, ''));
  const row = rowFor(accounts, server);
  const settings = serverSettingsOf(row);
  const secrets = serverSecretsOf(row);
  const nick = str(settings.nick) ?? str(defaults.nick) ?? input.requestedNick;
  const encodingOut = str(settings.encodingOut) ?? DEFAULT_ENCODING_OUT;
  const encodingIn = str(settings.encodingIn) ?? DEFAULT_ENCODING_IN;
  const channelEncodings = new Map<string, { out: string; in: string }>();
  for (const [name, value] of Object.entries(asRecord(settings.channels))) {
    const channel = asRecord(value) as ChannelSettings;
    if (channel.encodingOut || channel.encodingIn) {
      channelEncodings.set(name, { out: channel.encodingOut ?? encodingOut, in: channel.encodingIn ?? encodingIn });
    }
  }
  const profile: ConnectionProfile = {
    ...effectiveEndpoint(config, server, settings),
    server,
    nick,
    username: str(settings.username) ?? str(defaults.username) ?? defaultUsername(nick),
    realname: str(settings.realname) ?? str(defaults.realname) ?? nick,
    afterConnect: Array.isArray(settings.afterConnect) ? settings.afterConnect.filter((line) => typeof line === 'string') : [],
    encodingOut,
    encodingIn,
    channelEncodings,
    persistent: settings.persistent === true,
  };
  if (secrets.password) profile.password = secrets.password;
  if (settings.saslMechanism === 'PLAIN' && settings.saslAccount && secrets.saslPassword) {
    profile.sasl = { mechanism: 'PLAIN', account: settings.saslAccount, password: secrets.saslPassword };
  } else if (settings.saslMechanism === 'EXTERNAL') {
    profile.sasl = { mechanism: 'EXTERNAL' };
  }
  if (secrets.clientCertificate) {
    const pair = splitPem(secrets.clientCertificate);
    if (pair) profile.clientCertificate = pair;
  }
  if (secrets.nickservPassword) profile.nickservPassword = secrets.nickservPassword;
  if (input.ca) profile.ca = input.ca;
  if (input.identd) profile.identd = input.identd;
  const chosenUsername = str(settings.username) ?? str(defaults.username);
  if (chosenUsername ?? input.identUsername) profile.identUsername = chosenUsername ?? input.identUsername;
  const webircPassword = webircPasswordFor(config, server);
  if (webircPassword && input.webircIdentity) profile.webirc = { password: webircPassword, username: 'ponte', ...input.webircIdentity };
  if (settings.throttle && Number.isFinite(settings.throttle.burst) && Number.isFinite(settings.throttle.rate)) profile.throttle = settings.throttle;
  return profile;
}

/** The WEBIRC password the admin configured for this server, if any. */
export function webircPasswordFor(config: IrcNetworkConfig, server: string): string | undefined {
  for (const entry of config.webirc ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0 && entry.slice(0, eq).trim().toLowerCase() === server.toLowerCase()) return entry.slice(eq + 1);
  }
  return undefined;
}

/** The certificate and the private key of a stored PEM bundle. */
export function splitPem(pem: string): { certificate: string; privateKey: string } | null {
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const key = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/.exec(pem)?.[0];
  return cert && key ? { certificate: `${cert}\n`, privateKey: `${key}\n` } : null;
}

/** SHA-256 fingerprint of the stored certificate, as NickServ CERT ADD expects it (hex, no colons). */
export function certificateFingerprint(pem: string): string | undefined {
  const pair = splitPem(pem);
  if (!pair) return undefined;
  try {
    return new X509Certificate(pair.certificate).fingerprint256.replace(/:/g, '').toLowerCase();
  } catch {
    return undefined;
  }
}

// --- the forms -------------------------------------------------------------------------

const encodingOptions = ENCODINGS.map(({ value, label }) => ({ value, label }));
const secretDesc = 'Never shown. Leave empty to keep the stored one; "-" removes it.';

function secretField(name: string, label: string, stored: string | undefined, desc?: string): FormField {
  return { var: name, label, type: 'text-private', desc: [desc, stored ? `One is stored. ${secretDesc}` : secretDesc].filter(Boolean).join(' ') };
}

function identityFields(settings: ServerSettings, defaults?: ServerSettings): FormField[] {
  const inherited = (value: string | undefined) => (value ? `Empty: ${value} (your default).` : undefined);
  return [
    { var: 'nick', label: 'Nickname', type: 'text-single', value: settings.nick ?? '', desc: inherited(defaults?.nick) ?? 'Empty: the nick you join with.' },
    { var: 'username', label: 'User name (ident)', type: 'text-single', value: settings.username ?? '', desc: inherited(defaults?.username) ?? 'Empty: derived from the nick.' },
    { var: 'realname', label: 'Real name', type: 'text-single', value: settings.realname ?? '', desc: inherited(defaults?.realname) ?? 'Empty: the nick.' },
  ];
}

export interface SettingsForm {
  title: string;
  instructions?: string;
  fields: FormField[];
}

/** The form of a scope, with the current values (never the secrets). */
export function settingsForm(config: IrcNetworkConfig, scope: SettingsScope, row: StoredAccount | undefined, defaultsRow?: StoredAccount): SettingsForm {
  const settings = serverSettingsOf(row);
  const secrets = serverSecretsOf(row);
  if (scope.kind === 'gateway') {
    return {
      title: 'IRC: your defaults',
      instructions: 'Used on every IRC server unless the server\'s own settings (ad-hoc "configure" on server@gateway) say otherwise.',
      fields: identityFields(settings),
    };
  }
  if (scope.kind === 'room') {
    const { name, server } = splitId(scope.address.id);
    const channel = channelSettingsOf(row ? [row] : [], scope.address.id);
    return {
      title: `IRC: ${name} on ${server}`,
      instructions: 'Applied the next time you join the channel.',
      fields: [
        secretField('key', 'Channel key (password), used when you join without one', channel.key),
        { var: 'encoding_out', label: 'Output encoding', type: 'list-single', value: channel.encodingOut ?? settings.encodingOut ?? DEFAULT_ENCODING_OUT, options: encodingOptions },
        { var: 'encoding_in', label: 'Input fallback encoding (for text that is not UTF-8)', type: 'list-single', value: channel.encodingIn ?? settings.encodingIn ?? DEFAULT_ENCODING_IN, options: encodingOptions },
        { var: 'persistent', label: 'Stay in this channel while I am offline', type: 'boolean', value: channel.persistent ? 'true' : 'false' },
      ],
    };
  }
  const server = scope.address.id;
  const endpoint = effectiveEndpoint(config, server, settings);
  const fingerprint = secrets.clientCertificate ? certificateFingerprint(secrets.clientCertificate) : undefined;
  const tlsDesc = plaintextAllowed(config, server) ? undefined : 'This server may only be reached over TLS.';
  return {
    title: `IRC: ${server}`,
    instructions: `Your settings for ${server}; they apply the next time you connect to it.`,
    fields: [
      ...identityFields(settings, serverSettingsOf(defaultsRow)),
      secretField('password', 'Server password (PASS)', secrets.password),
      {
        var: 'sasl_mechanism',
        label: 'SASL',
        type: 'list-single',
        value: settings.saslMechanism ?? 'none',
        options: [
          { value: 'none', label: 'No SASL' },
          { value: 'PLAIN', label: 'PLAIN (account and password)' },
          { value: 'EXTERNAL', label: 'EXTERNAL (client certificate)' },
        ],
      },
      { var: 'sasl_account', label: 'SASL account', type: 'text-single', value: settings.saslAccount ?? '' },
      secretField('sasl_password', 'SASL password', secrets.saslPassword),
      {
        var: 'client_certificate',
        label: 'Client certificate and private key (PEM, unencrypted)',
        type: 'text-multi',
        desc: [fingerprint ? `Stored certificate: SHA-256 ${fingerprint}.` : 'None stored.', secretDesc].join(' '),
      },
      secretField('nickserv_password', 'NickServ password (IDENTIFY after connecting, when SASL is off)', secrets.nickservPassword),
      { var: 'tls', label: 'TLS (certificates verified)', type: 'boolean', value: endpoint.tls ? 'true' : 'false', ...(tlsDesc ? { desc: tlsDesc } : {}) },
      { var: 'port', label: 'Port', type: 'text-single', value: settings.port !== undefined ? String(settings.port) : '', desc: `Empty: ${endpoint.port}.` },
      { var: 'encoding_out', label: 'Output encoding', type: 'list-single', value: settings.encodingOut ?? DEFAULT_ENCODING_OUT, options: encodingOptions },
      { var: 'encoding_in', label: 'Input fallback encoding (for text that is not UTF-8)', type: 'list-single', value: settings.encodingIn ?? DEFAULT_ENCODING_IN, options: encodingOptions },
      {
        var: 'after_connect',
        label: 'IRC commands to send after connecting (one per line)',
        type: 'text-multi',
        value: (settings.afterConnect ?? []).join('\n'),
      },
      { var: 'throttle_burst', label: 'Flood control: burst (lines; -1: no limit)', type: 'text-single', value: settings.throttle ? String(settings.throttle.burst) : '', desc: 'Empty: the default.' },
      { var: 'throttle_rate', label: 'Flood control: lines per second', type: 'text-single', value: settings.throttle ? String(settings.throttle.rate) : '', desc: 'Empty: the default.' },
      { var: 'persistent', label: 'Stay connected while I am offline', type: 'boolean', value: settings.persistent ? 'true' : 'false' },
    ],
  };
}

// --- saving -------------------------------------------------------------------------------

export interface StoredValues {
  credentials: Record<string, unknown>;
  settings: Record<string, unknown>;
}

const invalid = (text: string) => new GatewayError('not-acceptable', text);

/** A secret field: undefined keeps, null removes, a string replaces. */
function secretValue(values: Record<string, string>, name: string): string | null | undefined {
  const value = values[name];
  if (value === undefined || value === '') return undefined;
  if (value === REMOVE) return null;
  return value;
}

function applySecret(target: Record<string, unknown>, key: string, value: string | null | undefined): void {
  if (value === null) delete target[key];
  else if (value !== undefined) target[key] = value;
}

/** Sets or clears a plain setting from a submitted text field (absent: unchanged; empty: cleared). */
function applyText(target: Record<string, unknown>, key: string, value: string | undefined, check?: (v: string) => unknown): void {
  if (value === undefined) return;
  const trimmed = value.trim();
  if (trimmed === '') delete target[key];
  else target[key] = check ? check(trimmed) : trimmed;
}

function checkNick(value: string): string {
  if (!isNick(value)) throw invalid(`${value} is not a valid IRC nickname (no spaces, and none of , ! @ * ? : . %).`);
  return value;
}

function checkUsername(value: string): string {
  if (!USERNAME.test(value)) throw invalid('The user name may hold letters, digits, . _ ~ and - (at most 32).');
  return value;
}

function checkRealname(value: string): string {
  if (Buffer.byteLength(value, 'utf8') > 200) throw invalid('The real name is too long (200 bytes at most).');
  return value;
}

function checkEncoding(value: string): string {
  if (!ENCODINGS.some((e) => e.value === value)) throw invalid(`${value} is not an encoding ponte offers.`);
  return value;
}

/** Commands sent after connecting: one IRC line each, nothing that could split a line. */
export function checkAfterConnect(text: string): string[] {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  if (lines.length > MAX_AFTER_CONNECT) throw invalid(`At most ${MAX_AFTER_CONNECT} commands can be sent after connecting.`);
  for (const line of lines) {
    if (/[\r\n\0]/.test(line)) throw invalid('A command cannot contain line breaks or NUL.');
    if (Buffer.byteLength(line, 'utf8') > MAX_LINE_BYTES) throw invalid(`A command is longer than an IRC line (${MAX_LINE_BYTES} bytes).`);
    if (!/^[A-Za-z]+|^\d{3}/.test(line)) throw invalid(`"${line.slice(0, 50)}" does not start with an IRC command.`);
  }
  return lines;
}

function checkPort(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw invalid('The port must be a number from 1 to 65535.');
  return port;
}

function checkThrottle(burstText: string | undefined, rateText: string | undefined, current: ServerSettings['throttle']): ServerSettings['throttle'] | null | undefined {
  if (burstText === undefined && rateText === undefined) return undefined;
  const burst = (burstText ?? (current ? String(current.burst) : '')).trim();
  const rate = (rateText ?? (current ? String(current.rate) : '')).trim();
  if (burst === '' && rate === '') return null;
  if (burst === '' || rate === '') throw invalid('Flood control needs both a burst and a rate (or neither, for the default).');
  const burstValue = Number(burst);
  const rateValue = Number(rate);
  if (!(Number.isInteger(burstValue) && (burstValue === -1 || (burstValue >= 1 && burstValue <= 1000)))) {
    throw invalid('The flood control burst must be a whole number of lines from 1 to 1000, or -1 for no limit.');
  }
  if (!(Number.isFinite(rateValue) && rateValue > 0 && rateValue <= 1000)) throw invalid('The flood control rate must be a number of lines per second above 0 (at most 1000).');
  return { burst: burstValue, rate: rateValue };
}

/** Checks a PEM bundle: a certificate and the private key that belongs to it. */
export function checkClientCertificate(pem: string): string {
  const pair = splitPem(pem);
  if (!pair) throw invalid('Paste the certificate and its unencrypted private key, both in PEM ("-----BEGIN CERTIFICATE-----" ... "-----BEGIN PRIVATE KEY-----" ...).');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pair.certificate);
  } catch {
    throw invalid('The certificate cannot be read.');
  }
  let key;
  try {
    key = createPrivateKey(pair.privateKey);
  } catch {
    throw invalid('The private key cannot be read (it must not be encrypted).');
  }
  if (!certificate.checkPrivateKey(key)) throw invalid('The private key does not belong to the certificate.');
  return `${pair.certificate}${pair.privateKey}`;
}

/** Checks the submitted values of a scope and returns the row's new content. */
export function applySettings(config: IrcNetworkConfig, scope: SettingsScope, values: Record<string, string>, row: StoredAccount | undefined): StoredValues {
  const settings: Record<string, unknown> = structuredClone(asRecord(row?.settings));
  const credentials: Record<string, unknown> = structuredClone(asRecord(row?.credentials));
  if (scope.kind === 'room') {
    applyChannel(scope.address, values, settings, credentials);
    return { credentials, settings };
  }
  applyText(settings, 'nick', values.nick, checkNick);
  applyText(settings, 'username', values.username, checkUsername);
  applyText(settings, 'realname', values.realname, checkRealname);
  if (scope.kind === 'gateway') return { credentials, settings };

  const server = scope.address.id;
  applySecret(credentials, 'password', secretValue(values, 'password'));
  applySecret(credentials, 'saslPassword', secretValue(values, 'sasl_password'));
  applySecret(credentials, 'nickservPassword', secretValue(values, 'nickserv_password'));
  const certificate = secretValue(values, 'client_certificate');
  applySecret(credentials, 'clientCertificate', typeof certificate === 'string' ? checkClientCertificate(certificate) : certificate);
  applyText(settings, 'saslAccount', values.sasl_account, (v) => {
    if (!SASL_ACCOUNT.test(v)) throw invalid('The SASL account cannot contain spaces.');
    return v;
  });
  if (values.sasl_mechanism !== undefined) {
    if (values.sasl_mechanism === 'none' || values.sasl_mechanism === '') delete settings.saslMechanism;
    else if (values.sasl_mechanism === 'PLAIN' || values.sasl_mechanism === 'EXTERNAL') settings.saslMechanism = values.sasl_mechanism;
    else throw invalid(`${values.sasl_mechanism} is not a SASL mechanism ponte offers (PLAIN, EXTERNAL).`);
  }
  applyText(settings, 'port', values.port, checkPort);
  if (values.tls !== undefined) {
    const tls = values.tls === 'true';
    if (!tls && !plaintextAllowed(config, server)) {
      throw new GatewayError('not-allowed', `${server} may only be reached over TLS: the gateway's administrator allows plain text only for servers marked so.`);
    }
    if (tls === serverEndpoint(server, config).tls) delete settings.tls;
    else settings.tls = tls;
  }
  applyText(settings, 'encodingOut', values.encoding_out, checkEncoding);
  applyText(settings, 'encodingIn', values.encoding_in, checkEncoding);
  if (values.after_connect !== undefined) {
    const lines = checkAfterConnect(values.after_connect);
    if (lines.length === 0) delete settings.afterConnect;
    else settings.afterConnect = lines;
  }
  const throttle = checkThrottle(values.throttle_burst, values.throttle_rate, (settings as ServerSettings).throttle);
  if (throttle === null) delete settings.throttle;
  else if (throttle !== undefined) settings.throttle = throttle;
  if (values.persistent !== undefined) settings.persistent = values.persistent === 'true';

  // What the connection will need must be there: refuse a setup that cannot work.
  const merged = settings as ServerSettings;
  if (merged.saslMechanism === 'PLAIN' && (!merged.saslAccount || !credentials.saslPassword)) {
    throw invalid('SASL PLAIN needs an account and a password.');
  }
  if (merged.saslMechanism === 'EXTERNAL') {
    if (!credentials.clientCertificate) throw invalid('SASL EXTERNAL needs a client certificate.');
    if (!effectiveEndpoint(config, server, merged).tls) throw invalid('SASL EXTERNAL needs TLS (the client certificate is sent in the TLS handshake).');
  }
  return { credentials, settings };
}

function applyChannel(address: NetworkAddress, values: Record<string, string>, settings: Record<string, unknown>, credentials: Record<string, unknown>): void {
  const lower = ircLower(splitId(address.id).name);
  const channels = asRecord(settings.channels);
  const channel: Record<string, unknown> = { ...asRecord(channels[lower]) };
  applyText(channel, 'encodingOut', values.encoding_out, checkEncoding);
  applyText(channel, 'encodingIn', values.encoding_in, checkEncoding);
  if (values.persistent !== undefined) channel.persistent = values.persistent === 'true';
  const key = secretValue(values, 'key');
  if (typeof key === 'string' && /[\s,\x00-\x1f]/.test(key)) throw invalid('A channel key cannot contain spaces, commas or control characters.');
  const keys: Record<string, unknown> = { ...asRecord(credentials.channelKeys) };
  applySecret(keys, lower, key);
  if (Object.keys(keys).length > 0) credentials.channelKeys = keys;
  else delete credentials.channelKeys;
  if (Object.keys(channel).length > 0) channels[lower] = channel;
  else delete channels[lower];
  if (Object.keys(channels).length > 0) settings.channels = channels;
  else delete settings.channels;
}

/** The account row a scope's values live in: '' for the defaults, else the server's name. */
export function settingsAccountKey(scope: SettingsScope): string {
  if (scope.kind === 'gateway') return '';
  return scope.kind === 'server' ? scope.address.id : splitId(scope.address.id).server;
}
