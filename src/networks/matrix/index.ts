// The Matrix network, in the mode where ponte logs in as the user: any
// homeserver, no homeserver admin needed. Registration (XEP-0077) asks for
// the homeserver and a login; the session (session.ts) keeps one sync loop
// per user. The event mapping (events.ts) does not depend on how the user is
// logged in, so an Application Service mode can reuse it.
//
// Decisions:
// - Homeserver: a server name (matrix.org) is resolved through
//   https://<name>/.well-known/matrix/client (matrix-js-sdk's AutoDiscovery),
//   falling back to https://<name>; a URL is used as given, unless its own
//   /.well-known/matrix/client delegates elsewhere. The base URL found is
//   checked with /_matrix/client/versions.
// - Login: username + password (m.login.password, device name
//   "ponte XMPP gateway"), or an access token (for SSO accounts), checked
//   with /account/whoami. The password is not stored: the access token and
//   device id are (sealed by the store), with the homeserver's base URL.
// - One Matrix login per XMPP user (account key ""): registering again
//   replaces it (a new login, a new device).
import { AutoDiscovery, AutoDiscoveryAction } from 'matrix-js-sdk';
import { GatewayError } from '../../core/errors.js';
import type { Capability, Network } from '../types.js';
import { isServerName, matrixAddressCodec, userIdFromText, contactAddress } from './addresses.js';
import { MatrixApi, toGatewayError, type MatrixCredentials } from './client.js';
import { MatrixMedia } from './media.js';
import { MatrixSession } from './session.js';

export const DEVICE_NAME = 'ponte XMPP gateway';
const HTTP_TIMEOUT_MS = 10_000;

const CAPABILITIES: readonly Capability[] = [
  'rooms',
  'contacts',
  'private-messages',
  'topic',
  'nick-change',
  'kick',
  'ban',
  'invites',
  'corrections',
  'retractions',
  'reactions',
  'replies',
  'chat-states',
  'displayed-markers',
  'history',
  'attachments',
  'room-list',
  'avatars',
];

/** A JSON object from `url`, or null; `problem` says why in words for the user where the cause says more than "unreachable". */
async function fetchJson(url: string): Promise<{ json: Record<string, unknown> | null; problem?: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS), redirect: 'follow' });
    if (!response.ok) return { json: null };
    const body: unknown = await response.json();
    return { json: body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null };
  } catch (err) {
    const problem = tlsProblem(err);
    return { json: null, ...(problem ? { problem } : {}) };
  }
}

/** A TLS certificate failure (Node's error codes) as a sentence; undefined for anything else. */
function tlsProblem(err: unknown): string | undefined {
  const code = String((err as { cause?: { code?: unknown } }).cause?.code ?? '');
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS/.test(code)) {
    return `its TLS certificate is not accepted (${code}): it must be valid for that name and signed by an authority ponte trusts`;
  }
  return undefined;
}

/** The client base URL of a homeserver given as a server name or a URL. */
export async function resolveHomeserver(input: string): Promise<string> {
  const text = input.trim().replace(/\/+$/, '');
  let candidate: string;
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new GatewayError('not-acceptable', `${input} is not a valid URL.`);
    }
    const { json: wellKnown } = await fetchJson(`${url.origin}/.well-known/matrix/client`);
    if (wellKnown?.['m.homeserver']) {
      const discovered = await AutoDiscovery.fromDiscoveryConfig(wellKnown);
      const hs = discovered['m.homeserver'];
      if (hs.state === AutoDiscoveryAction.SUCCESS && hs.base_url) return hs.base_url.replace(/\/+$/, '');
    }
    candidate = text;
  } else {
    if (!isServerName(text)) throw new GatewayError('not-acceptable', `"${input}" is neither a Matrix server name (matrix.org) nor a URL (https://matrix.example.org).`);
    const discovered = await AutoDiscovery.findClientConfig(text);
    const hs = discovered['m.homeserver'];
    if (hs.state === AutoDiscoveryAction.SUCCESS && hs.base_url) return hs.base_url.replace(/\/+$/, '');
    if (hs.state === AutoDiscoveryAction.FAIL_ERROR) {
      throw new GatewayError('remote-server-not-found', `The homeserver of ${text} could not be found: its .well-known/matrix/client is invalid (${hs.error ?? 'unknown error'}).`);
    }
    candidate = `https://${text}`;
  }
  const { json: versions, problem } = await fetchJson(`${candidate}/_matrix/client/versions`);
  if (!Array.isArray(versions?.versions)) {
    const why = problem ?? 'it is unreachable, or not a homeserver';
    throw new GatewayError('remote-server-not-found', `No Matrix homeserver answers at ${candidate} (${why}).`);
  }
  return candidate;
}

/** The stored login of an account, or registration-required when it is incomplete. */
function storedCredentials(c: Record<string, unknown>): MatrixCredentials {
  if (typeof c.baseUrl !== 'string' || typeof c.accessToken !== 'string' || typeof c.userId !== 'string') {
    throw new GatewayError('registration-required', 'The stored Matrix login is incomplete; register again.');
  }
  return { baseUrl: c.baseUrl, accessToken: c.accessToken, userId: c.userId, deviceId: typeof c.deviceId === 'string' ? c.deviceId : '' };
}

export function createMatrixNetwork(settings: { mediaHosts: readonly string[] }): Network {
  const media = new MatrixMedia();
  return {
    name: 'matrix',
    identityType: 'matrix',
    displayName: 'Matrix gateway (ponte)',
    capabilities: new Set(CAPABILITIES),
    registrationRequired: true,
    addresses: matrixAddressCodec,
    registrationForm: () => ({
      instructions:
        'Log in with your Matrix account: your homeserver, then your username and password, or an access token (for accounts that log in with single sign-on).',
      fields: [
        { var: 'homeserver', label: 'Homeserver', type: 'text-single', required: true, desc: 'Server name (matrix.org) or URL (https://matrix.example.org)' },
        { var: 'username', label: 'Username', type: 'text-single', desc: 'Your Matrix user name (bob) or user id (@bob:matrix.org)' },
        { var: 'password', label: 'Password', type: 'text-private' },
        { var: 'token', label: 'Access token', type: 'text-private', desc: 'Instead of the username and password' },
      ],
    }),

    async register(_userJid, values, context) {
      const homeserver = values.homeserver?.trim();
      if (!homeserver) throw new GatewayError('not-acceptable', 'Give your homeserver: a server name (matrix.org) or a URL.');
      const baseUrl = await resolveHomeserver(homeserver);
      const log = context.log.child({ homeserver: baseUrl });
      let credentials: MatrixCredentials;
      const token = values.token?.trim();
      if (token) {
        const api = new MatrixApi(baseUrl, log, { userId: '', accessToken: token });
        try {
          const me = await api.whoami();
          credentials = { baseUrl, userId: me.user_id, accessToken: token, deviceId: me.device_id ?? '' };
        } catch (err) {
          const error = toGatewayError(err, 'checking the access token');
          throw error instanceof GatewayError && error.condition === 'not-authorized'
            ? new GatewayError('not-authorized', 'The homeserver does not accept this access token (it is wrong, revoked or expired).')
            : error;
        } finally {
          api.stop();
        }
      } else {
        const username = values.username?.trim();
        const password = values.password ?? '';
        if (!username || !password) throw new GatewayError('not-acceptable', 'Give your username and password, or an access token.');
        const api = new MatrixApi(baseUrl, log);
        try {
          const login = await api.passwordLogin(username, password, DEVICE_NAME);
          credentials = { baseUrl, ...login };
        } catch (err) {
          const error = toGatewayError(err, 'logging in');
          throw error instanceof GatewayError && error.condition === 'forbidden'
            ? new GatewayError('not-authorized', `The homeserver refused the login: wrong username or password (${error.message}).`)
            : error;
        } finally {
          api.stop();
        }
      }
      return {
        accountKey: '',
        credentials: { ...credentials },
        // A new login starts a new sync position.
        settings: { homeserver, username: credentials.userId },
      };
    },

    async login(account, sink, context) {
      const stored = account.accounts[0];
      if (!stored) throw new GatewayError('registration-required', 'Register with your Matrix account first.');
      const credentials = storedCredentials(stored.credentials);
      const session = new MatrixSession({
        userJid: account.userJid,
        accountKey: stored.accountKey,
        credentials,
        ...(typeof stored.settings.since === 'string' && stored.settings.username === credentials.userId ? { since: stored.settings.since } : {}),
        sink,
        context,
        mediaHosts: settings.mediaHosts,
      });
      await session.start();
      return session;
    },

    async fetchMedia(account, reference, options) {
      const stored = account.accounts[0];
      if (!stored) throw new GatewayError('item-not-found', 'The Matrix login this link was made for is gone.');
      return media.open(storedCredentials(stored.credentials), reference, options.signal);
    },

    contactFromPrompt(prompt) {
      const userId = userIdFromText(prompt);
      return userId ? contactAddress(userId) : null;
    },
  };
}
