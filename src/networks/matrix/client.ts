// The Client-Server API calls ponte makes, over matrix-js-sdk's HTTP layer
// (request building, auth header, Matrix error parsing). Every call goes
// through one place that honours M_LIMIT_EXCEEDED (retry_after_ms) and turns
// Matrix errors into GatewayErrors with a sentence for the user.
//
// Decisions:
// - ponte runs its own /sync loop on this API instead of the SDK's
//   startClient(): the SDK keeps its sync token in memory (or IndexedDB),
//   while ponte must persist the position after each batch it handled, so a
//   restart neither loses nor repeats events.
// - Sending (PUT with a transaction id) is retried with the same txn id
//   after a transient failure (TRANSIENT_RETRIES): nothing sent twice,
//   nothing lost to a short outage.
// - A rate-limited request is retried after the server's retry_after_ms (or
//   the Retry-After header), at most RATE_LIMIT_RETRIES times and never
//   waiting more than MAX_RETRY_WAIT_MS in one go; then the user gets
//   resource-constraint with the wait the server asked for.
import { createClient, MatrixError, Method, ConnectionError, type MatrixClient } from 'matrix-js-sdk';
import { GatewayError } from '../../core/errors.js';
import type { Logger } from '../../log.js';

export const RATE_LIMIT_RETRIES = 3;
export const MAX_RETRY_WAIT_MS = 30_000;
/** Waits before sending a message again after a transient failure (unreachable homeserver, 5xx). */
export const TRANSIENT_RETRIES = [500, 2_000, 5_000];

export interface MatrixCredentials {
  baseUrl: string;
  userId: string;
  accessToken: string;
  deviceId: string;
}

export interface RawEvent {
  type: string;
  content: Record<string, unknown>;
  sender: string;
  event_id: string;
  origin_server_ts: number;
  state_key?: string;
  redacts?: string;
  room_id?: string;
  unsigned?: { transaction_id?: string; redacted_because?: unknown; prev_content?: Record<string, unknown> };
}

export interface SyncRoom {
  timeline?: { events?: RawEvent[]; limited?: boolean; prev_batch?: string };
  state?: { events?: RawEvent[] };
  ephemeral?: { events?: Array<{ type: string; content: Record<string, unknown> }> };
  account_data?: { events?: Array<{ type: string; content: Record<string, unknown> }> };
}

/** The spec's presence states (m.presence, PUT /presence, /sync set_presence). */
export type MatrixPresence = 'online' | 'offline' | 'unavailable';

export interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, SyncRoom>;
    invite?: Record<string, { invite_state?: { events?: Array<Omit<RawEvent, 'event_id' | 'origin_server_ts'>> } }>;
    leave?: Record<string, SyncRoom>;
  };
  presence?: { events?: Array<{ type: string; sender: string; content: { presence?: string; status_msg?: string } }> };
  account_data?: { events?: Array<{ type: string; content: Record<string, unknown> }> };
}

/** What a Matrix error means for the user; `what` names the action ("joining #a:b"). */
export function toGatewayError(err: unknown, what: string): Error {
  if (err instanceof GatewayError) return err;
  if (err instanceof MatrixError) {
    const text = `${what}: ${err.data.error ?? err.errcode ?? 'error'}${err.errcode ? ` (${err.errcode})` : ''}`;
    switch (err.errcode) {
      case 'M_FORBIDDEN':
        return new GatewayError('forbidden', text);
      case 'M_NOT_FOUND':
        return new GatewayError('item-not-found', text);
      case 'M_UNKNOWN_TOKEN':
      case 'M_MISSING_TOKEN':
        return new GatewayError('not-authorized', `${text}. Your Matrix login is no longer valid: register again with your password or a new access token.`);
      case 'M_LIMIT_EXCEEDED': {
        const wait = retryAfter(err);
        return new GatewayError('resource-constraint', `${what}: the homeserver limits the rate of requests${wait !== null ? `; try again in ${Math.ceil(wait / 1000)} s` : ''}.`);
      }
      case 'M_BAD_JSON':
      case 'M_NOT_JSON':
      case 'M_INVALID_PARAM':
      case 'M_TOO_LARGE':
        return new GatewayError('not-acceptable', text);
      default:
        if (err.httpStatus === 401) return new GatewayError('not-authorized', text);
        if (err.httpStatus === 403) return new GatewayError('forbidden', text);
        if (err.httpStatus === 404) return new GatewayError('item-not-found', text);
        return new GatewayError('undefined-condition', text);
    }
  }
  if (err instanceof ConnectionError || err instanceof TypeError) {
    return new GatewayError('remote-server-not-found', `${what}: the homeserver cannot be reached (${(err as Error).message}).`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

function retryAfter(err: MatrixError): number | null {
  try {
    return err.getRetryAfterMs();
  } catch {
    return null;
  }
}

export function isUnknownToken(err: unknown): err is MatrixError {
  return err instanceof MatrixError && (err.errcode === 'M_UNKNOWN_TOKEN' || err.errcode === 'M_MISSING_TOKEN');
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/** matrix-js-sdk logs through loglevel to the console; ponte's log gets it instead. */
function sdkLogger(log: Logger) {
  const logger = {
    trace: (...args: unknown[]) => log.trace({ sdk: args.map(String).join(' ') }, 'matrix-js-sdk'),
    debug: (...args: unknown[]) => log.trace({ sdk: args.map(String).join(' ') }, 'matrix-js-sdk'),
    info: (...args: unknown[]) => log.debug({ sdk: args.map(String).join(' ') }, 'matrix-js-sdk'),
    warn: (...args: unknown[]) => log.debug({ sdk: args.map(String).join(' ') }, 'matrix-js-sdk'),
    error: (...args: unknown[]) => log.warn({ sdk: args.map(String).join(' ') }, 'matrix-js-sdk'),
    getChild: () => logger,
  };
  return logger;
}

export class MatrixApi {
  readonly client: MatrixClient;

  constructor(
    readonly baseUrl: string,
    private readonly log: Logger,
    credentials?: { userId: string; accessToken: string; deviceId?: string },
  ) {
    this.client = createClient({
      baseUrl,
      ...(credentials ? { userId: credentials.userId, accessToken: credentials.accessToken, deviceId: credentials.deviceId } : {}),
      logger: sdkLogger(log) as never,
      useAuthorizationHeader: true,
    });
  }

  /** One request, retried while the homeserver says M_LIMIT_EXCEEDED (bounded). */
  async request<T>(
    method: Method,
    path: string,
    what: string,
    options: { query?: Record<string, string>; body?: unknown; timeoutMs?: number; signal?: AbortSignal; prefix?: string; raw?: boolean } = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      // Not the SDK's localTimeoutMs: it starts a timer it never clears, which kept the process alive for
      // the whole timeout (a sync's 60 s and more) after shutdown. AbortSignal.timeout's timer does not.
      const signals = [options.signal, options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined].filter(
        (signal): signal is AbortSignal => signal !== undefined,
      );
      try {
        return await this.client.http.authedRequest<T>(method, path, options.query, options.body as never, {
          ...(signals.length > 0 ? { abortSignal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
          ...(options.prefix ? { prefix: options.prefix } : {}),
        } as never);
      } catch (err) {
        if (err instanceof MatrixError && err.errcode === 'M_LIMIT_EXCEEDED' && attempt < RATE_LIMIT_RETRIES) {
          const wait = retryAfter(err) ?? 1000;
          if (wait <= MAX_RETRY_WAIT_MS) {
            this.log.info({ what, wait }, 'rate limited by the homeserver; retrying');
            await sleep(wait, options.signal);
            if (!options.signal?.aborted) continue;
          }
        }
        throw err;
      }
    }
  }

  /** Logs in with a password; the device name says it is ponte. */
  async passwordLogin(user: string, password: string, deviceName: string): Promise<{ userId: string; accessToken: string; deviceId: string }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await this.client.loginRequest({
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user },
          password,
          initial_device_display_name: deviceName,
        });
        return { userId: response.user_id, accessToken: response.access_token, deviceId: response.device_id };
      } catch (err) {
        if (err instanceof MatrixError && err.errcode === 'M_LIMIT_EXCEEDED' && attempt < RATE_LIMIT_RETRIES) {
          const wait = retryAfter(err) ?? 1000;
          if (wait <= MAX_RETRY_WAIT_MS) {
            await sleep(wait);
            continue;
          }
        }
        throw err;
      }
    }
  }

  whoami(): Promise<{ user_id: string; device_id?: string }> {
    return this.request(Method.Get, '/account/whoami', 'checking the access token');
  }

  /** `setPresence`: what polling marks the user as (the spec's set_presence; "offline": not marked online by polling). */
  sync(since: string | undefined, filter: string, timeoutMs: number, signal: AbortSignal, setPresence: MatrixPresence = 'online'): Promise<SyncResponse> {
    return this.request(Method.Get, '/sync', 'syncing', {
      query: { filter, timeout: String(timeoutMs), set_presence: setPresence, ...(since ? { since } : {}) },
      timeoutMs: timeoutMs + 30_000,
      signal,
    });
  }

  async resolveAlias(alias: string): Promise<string> {
    const answer = await this.request<{ room_id: string }>(Method.Get, `/directory/room/${encodeURIComponent(alias)}`, `looking up ${alias}`);
    return answer.room_id;
  }

  async join(roomIdOrAlias: string): Promise<string> {
    const answer = await this.request<{ room_id: string }>(Method.Post, `/join/${encodeURIComponent(roomIdOrAlias)}`, `joining ${roomIdOrAlias}`, { body: {} });
    return answer.room_id;
  }

  async leave(roomId: string, reason?: string): Promise<void> {
    await this.request(Method.Post, `/rooms/${encodeURIComponent(roomId)}/leave`, `leaving ${roomId}`, { body: reason ? { reason } : {} });
  }

  async invite(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.request(Method.Post, `/rooms/${encodeURIComponent(roomId)}/invite`, `inviting ${userId}`, { body: { user_id: userId, ...(reason ? { reason } : {}) } });
  }

  async kick(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.request(Method.Post, `/rooms/${encodeURIComponent(roomId)}/kick`, `kicking ${userId}`, { body: { user_id: userId, ...(reason ? { reason } : {}) } });
  }

  async ban(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.request(Method.Post, `/rooms/${encodeURIComponent(roomId)}/ban`, `banning ${userId}`, { body: { user_id: userId, ...(reason ? { reason } : {}) } });
  }

  /**
   * A PUT with a transaction id is idempotent: when the homeserver could not
   * be reached or failed (5xx), it is sent again with the same txn id, and
   * the homeserver answers with the event it already has if the first one
   * got through.
   */
  private async idempotent<T>(path: string, what: string, body: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request<T>(Method.Put, path, what, { body });
      } catch (err) {
        const transient = err instanceof ConnectionError || (err instanceof MatrixError && (err.httpStatus ?? 0) >= 500);
        if (!transient || attempt >= TRANSIENT_RETRIES.length) throw err;
        this.log.info({ what, err: (err as Error).message }, 'homeserver failed; sending again with the same transaction id');
        await sleep(TRANSIENT_RETRIES[attempt]!);
      }
    }
  }

  async send(roomId: string, type: string, content: Record<string, unknown>, txnId: string): Promise<string> {
    const path = `/rooms/${encodeURIComponent(roomId)}/send/${encodeURIComponent(type)}/${encodeURIComponent(txnId)}`;
    const answer = await this.idempotent<{ event_id: string }>(path, 'sending', content);
    return answer.event_id;
  }

  async redact(roomId: string, eventId: string, txnId: string, reason?: string): Promise<string> {
    const path = `/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(eventId)}/${encodeURIComponent(txnId)}`;
    const answer = await this.idempotent<{ event_id: string }>(path, 'retracting', reason ? { reason } : {});
    return answer.event_id;
  }

  async setState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
    const path = `/rooms/${encodeURIComponent(roomId)}/state/${encodeURIComponent(type)}/${encodeURIComponent(stateKey)}`;
    const answer = await this.request<{ event_id: string }>(Method.Put, path, `setting ${type}`, { body: content });
    return answer.event_id;
  }

  getState<T>(roomId: string, type: string, stateKey = ''): Promise<T> {
    const path = `/rooms/${encodeURIComponent(roomId)}/state/${encodeURIComponent(type)}/${encodeURIComponent(stateKey)}`;
    return this.request<T>(Method.Get, path, `reading ${type}`);
  }

  roomState(roomId: string): Promise<RawEvent[]> {
    return this.request<RawEvent[]>(Method.Get, `/rooms/${encodeURIComponent(roomId)}/state`, 'reading the room state');
  }

  messages(roomId: string, options: { from?: string; dir: 'b' | 'f'; limit: number }): Promise<{ chunk: RawEvent[]; state?: RawEvent[]; start: string; end?: string }> {
    return this.request(Method.Get, `/rooms/${encodeURIComponent(roomId)}/messages`, 'reading the history', {
      query: { dir: options.dir, limit: String(options.limit), ...(options.from ? { from: options.from } : {}) },
    });
  }

  /** An event and a token to page back from it (/context with no events around it). */
  eventContext(roomId: string, eventId: string): Promise<{ start?: string; end?: string; event?: RawEvent }> {
    return this.request(Method.Get, `/rooms/${encodeURIComponent(roomId)}/context/${encodeURIComponent(eventId)}`, 'reading the history', {
      query: { limit: '0' },
    });
  }

  async typing(roomId: string, userId: string, typing: boolean): Promise<void> {
    const path = `/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(userId)}`;
    await this.request(Method.Put, path, 'sending typing', { body: typing ? { typing: true, timeout: 30_000 } : { typing: false } });
  }

  async receipt(roomId: string, eventId: string): Promise<void> {
    const path = `/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`;
    await this.request(Method.Post, path, 'sending a read receipt', { body: {} });
  }

  publicRooms(options: { server?: string; limit: number; since?: string }): Promise<{
    chunk: Array<{ room_id: string; name?: string; topic?: string; canonical_alias?: string; num_joined_members: number }>;
    next_batch?: string;
    total_room_count_estimate?: number;
  }> {
    return this.request(Method.Get, '/publicRooms', 'listing the public rooms', {
      query: { limit: String(options.limit), ...(options.server ? { server: options.server } : {}), ...(options.since ? { since: options.since } : {}) },
    });
  }

  profile(userId: string): Promise<{ displayname?: string; avatar_url?: string }> {
    return this.request(Method.Get, `/profile/${encodeURIComponent(userId)}`, `reading the profile of ${userId}`);
  }

  async createRoom(body: Record<string, unknown>): Promise<string> {
    const answer = await this.request<{ room_id: string }>(Method.Post, '/createRoom', 'creating a room', { body });
    return answer.room_id;
  }

  accountData<T>(userId: string, type: string): Promise<T> {
    return this.request<T>(Method.Get, `/user/${encodeURIComponent(userId)}/account_data/${encodeURIComponent(type)}`, `reading ${type}`);
  }

  async setAccountData(userId: string, type: string, content: Record<string, unknown>): Promise<void> {
    await this.request(Method.Put, `/user/${encodeURIComponent(userId)}/account_data/${encodeURIComponent(type)}`, `saving ${type}`, { body: content });
  }

  async setPresence(userId: string, presence: MatrixPresence, statusMsg?: string): Promise<void> {
    await this.request(Method.Put, `/presence/${encodeURIComponent(userId)}/status`, 'setting presence', {
      body: { presence, ...(statusMsg ? { status_msg: statusMsg } : {}) },
    });
  }

  /** Uploads a file to the media repository (/_matrix/media/v3/upload); returns its mxc:// URI. */
  async upload(data: Buffer, name: string, type: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await this.client.uploadContent(data, { name, type, includeFilename: true });
        return answer.content_uri;
      } catch (err) {
        if (err instanceof MatrixError && err.errcode === 'M_LIMIT_EXCEEDED' && attempt < RATE_LIMIT_RETRIES) {
          const wait = retryAfter(err) ?? 1000;
          if (wait <= MAX_RETRY_WAIT_MS) {
            await sleep(wait);
            continue;
          }
        }
        throw err;
      }
    }
  }

  /**
   * Downloads media for ponte itself (avatars for vCards): the authenticated
   * /_matrix/client/v1/media (spec v1.11) with the user's token, falling back
   * to /_matrix/media/v3 on servers that do not know it. Null if it is not
   * there or larger than maxBytes.
   */
  async download(mxc: string, maxBytes: number, accessToken: string): Promise<{ data: Buffer; type: string } | null> {
    const m = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(mxc);
    if (!m) return null;
    const tail = `download/${encodeURIComponent(m[1]!)}/${m[2]}`;
    for (const url of [`${this.baseUrl}/_matrix/client/v1/media/${tail}`, `${this.baseUrl}/_matrix/media/v3/${tail}`]) {
      const response = await fetch(url, { headers: { Authorization: `Bearer ${accessToken}` }, signal: AbortSignal.timeout(30_000) }).catch(() => null);
      if (!response) return null;
      if (response.status === 404 || response.status === 405 || response.status === 400) {
        const body = (await response.json().catch(() => ({}))) as { errcode?: string };
        if (body.errcode === 'M_UNRECOGNIZED') continue; // the server has no authenticated media
        return null;
      }
      if (!response.ok) return null;
      const data = Buffer.from(await response.arrayBuffer());
      if (data.length > maxBytes) return null;
      return { data, type: response.headers.get('content-type')?.split(';')[0]?.trim() ?? 'application/octet-stream' };
    }
    return null;
  }

  stop(): void {
    this.client.stopClient();
  }
}
