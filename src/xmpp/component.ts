// One XEP-0114 component connection (one per gateway domain), as a small typed
// facade over @xmpp/component. Nothing outside src/xmpp/ sees xmpp.js objects.
//
// - Incoming stanzas go to the handlers of the StanzaRouter (router.ts), by
//   the domain they are addressed to. IQs pass through xmpp.js' iqCallee
//   framing: a malformed query gets bad-request, an unrouted one
//   service-unavailable, a returned element becomes the result.
// - Every handler runs inside the single error boundary (errors.ts): what it
//   throws becomes a stanza error to the sender, and the connection goes on.
// - The connection comes back by itself with exponential backoff and full
//   jitter (xmpp.js' own reconnect uses a fixed 1 s delay, so it is switched
//   off); stanzas sent while it is down wait in a bounded queue.
import { EventEmitter } from 'node:events';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { errorReply, toStanzaError } from './errors.js';
import { PresenceTracker } from './presence-tracker.js';
import { domainOf, type InboundStanza, type StanzaRouter } from './router.js';
import { createComponent, stanzaKind, type Element } from './stanza.js';
import { batchWritesThisTurn } from '../write-batching.js';
import { decodeWholeCharacters } from './whole-characters.js';

export interface ComponentSettings {
  /** The component's domain, e.g. irc.localhost. */
  domain: string;
  /** Where the XMPP server accepts components. */
  host: string;
  port: number;
  secret: string;
  backoff?: { initialMs: number; maxMs: number };
  /** A connection attempt not online after this long is dropped and retried. */
  attemptTimeoutMs?: number;
  /** Stanzas kept while disconnected; beyond this the oldest are dropped (and logged). */
  maxQueued?: number;
}

export type ConnectionState = 'offline' | 'connecting' | 'online' | 'stopped';

export class ComponentConnection extends EventEmitter<{ online: []; offline: [reason: string] }> {
  readonly domain: string;
  private readonly xmpp: ReturnType<typeof createComponent>;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly attemptTimeoutMs: number;
  private readonly maxQueued: number;
  private readonly router: StanzaRouter;
  private readonly queue: Element[] = [];
  private readonly presences = new PresenceTracker();
  private stateValue: ConnectionState = 'offline';
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private attemptTimer: NodeJS.Timeout | null = null;
  private lastError = '';

  constructor(settings: ComponentSettings, deps: { log: Logger; metrics: Metrics; router: StanzaRouter }) {
    super();
    this.router = deps.router;
    this.domain = settings.domain;
    this.log = deps.log.child({ component: settings.domain });
    this.metrics = deps.metrics;
    this.backoff = settings.backoff ?? { initialMs: 250, maxMs: 30_000 };
    this.attemptTimeoutMs = settings.attemptTimeoutMs ?? 15_000;
    this.maxQueued = settings.maxQueued ?? 10_000;
    this.xmpp = createComponent({
      service: `xmpp://${settings.host}:${settings.port}`,
      domain: settings.domain,
      password: settings.secret,
    });
    this.xmpp.reconnect.stop();
    decodeWholeCharacters(this.xmpp);
    this.metrics.componentConnected.set({ domain: this.domain }, 0);

    // Handlers are attached before the first connection: some servers send
    // stanzas (e.g. the XEP-0356 privilege advertisement) before `online`.
    this.xmpp.middleware.use((ctx, next) => {
      const kind = stanzaKind(ctx.stanza.name);
      if (kind) this.metrics.stanzasIn.inc({ kind, domain: domainOf(ctx.stanza.attrs.to) || this.domain });
      return next();
    });
    // xmpp.js 0.13's outgoing middleware (filter) is never invoked by its
    // connection; the `send` event fires for every stanza written.
    this.xmpp.on('send', (element: Element) => {
      const kind = stanzaKind(element.name);
      if (kind) this.metrics.stanzasOut.inc({ kind, domain: domainOf(element.attrs.from) || this.domain });
      this.presences.observe(element);
    });
    // Runs inside iqCallee's handler for IQs (the factory installed it first),
    // so what this returns for an iq becomes the result or error reply.
    this.xmpp.middleware.use(async (ctx, next) => {
      const { stanza } = ctx;
      const isRequest = stanza.name === 'iq' && (stanza.attrs.type === 'get' || stanza.attrs.type === 'set');
      if (!isRequest && this.interceptedSafely(stanza)) return undefined;
      if (stanza.name === 'iq') {
        const type = stanza.attrs.type;
        if ((type !== 'get' && type !== 'set') || !ctx.element) return next();
        const handler = this.router.iqHandler(stanza.attrs.to ?? this.domain, type, ctx.element);
        try {
          this.router.guard(stanza);
          if (!handler) return next(); // iqCallee answers service-unavailable
          const result = await handler({
            from: stanza.attrs.from ?? '',
            to: stanza.attrs.to ?? this.domain,
            id: stanza.attrs.id ?? '',
            type,
            payload: ctx.element,
            stanza,
            sendBeforeReply: (element) => this.send(element),
          });
          return result ?? true;
        } catch (err) {
          return this.errorElement(err, stanza);
        }
      }
      if (stanza.name === 'message' || stanza.name === 'presence') {
        await this.dispatch(stanza.name, stanza);
        return undefined;
      }
      return next();
    });

    this.xmpp.on('online', () => this.onOnline());
    this.xmpp.on('disconnect', (info: { clean?: boolean } | undefined) => this.onDisconnect(info?.clean ? 'closed' : 'connection lost'));
    this.xmpp.on('error', (err: Error) => {
      this.lastError = err.message;
      this.log.warn({ err: err.message }, 'component connection error');
    });
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get connected(): boolean {
    return this.stateValue === 'online';
  }

  /** Why the connection is not online, for /health. */
  get lastErrorText(): string {
    return this.lastError;
  }

  /** Sends now, or queues until the connection is back. */
  async send(element: Element): Promise<void> {
    if (this.stateValue === 'stopped') throw new Error(`component ${this.domain} is stopped`);
    if (this.stateValue !== 'online') {
      this.enqueue(element);
      return;
    }
    try {
      batchWritesThisTurn(this.xmpp.socket);
      await this.xmpp.send(element);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'send failed; queued until reconnected');
      this.enqueue(element);
    }
  }

  /** Starts connecting in the background; see waitOnline(). */
  start(): void {
    if (this.stateValue !== 'offline' || this.retryTimer) return;
    void this.connectOnce();
  }

  waitOnline(timeoutMs = 30_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('online', onOnline);
        reject(new Error(`component ${this.domain} not online after ${timeoutMs} ms: ${this.lastError || 'no answer'}`));
      }, timeoutMs);
      const onOnline = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once('online', onOnline);
    });
  }

  /** Sends unavailable for every presence this domain still shows as available (shutdown step). */
  async withdrawPresences(status: string): Promise<number> {
    if (!this.connected) return 0;
    const presences = this.presences.withdrawAll(status);
    await Promise.all(presences.map((presence) => this.xmpp.send(presence).catch(() => undefined)));
    return presences.length;
  }

  async stop(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    const wasOnline = this.connected;
    this.stateValue = 'stopped';
    this.clearTimers();
    this.metrics.componentConnected.set({ domain: this.domain }, 0);
    if (this.queue.length > 0) this.log.warn({ dropped: this.queue.length }, 'stopping with unsent stanzas');
    this.queue.length = 0;
    try {
      if (wasOnline) await this.xmpp.stop();
      else await this.xmpp.disconnect(1000).catch(() => undefined);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'error while closing the component stream');
    }
  }

  private async dispatch(kind: 'message' | 'presence', stanza: Element): Promise<void> {
    const type = stanza.attrs.type ?? (kind === 'message' ? 'normal' : 'available');
    const inbound: InboundStanza = { kind, from: stanza.attrs.from ?? '', to: stanza.attrs.to ?? this.domain, type, id: stanza.attrs.id, stanza };
    const handler = this.router.stanzaHandler(inbound.to, kind);
    try {
      if (type !== 'error') this.router.guard(stanza);
      if (!handler) {
        // Nothing here handles messages yet: say so rather than drop silently.
        if (kind === 'message') {
          throw new GatewayError('service-unavailable', 'This address does not accept messages.');
        }
        return;
      }
      await handler(inbound);
    } catch (err) {
      // Never answer an error with an error (RFC 6120 §8.3.1).
      if (type === 'error') {
        this.log.warn({ err: (err as Error).message }, 'handler failed on an error stanza');
        return;
      }
      await this.send(errorReply(stanza, this.errorElement(err, stanza)));
    }
  }

  private interceptedSafely(stanza: Element): boolean {
    try {
      return this.router.intercepted(stanza);
    } catch (err) {
      this.log.error({ err, stanza: stanza.name, from: stanza.attrs.from }, 'a stanza interceptor failed');
      return false;
    }
  }

  private errorElement(err: unknown, stanza: Element): Element {
    const { element, known, condition } = toStanzaError(err);
    this.metrics.stanzaErrors.inc({ condition, domain: domainOf(stanza.attrs.to) || this.domain });
    const context = { from: stanza.attrs.from, to: stanza.attrs.to, stanza: stanza.name, condition };
    if (known) this.log.debug(context, (err as Error).message);
    else this.log.error({ ...context, err }, 'unexpected error while handling a stanza');
    return element;
  }

  private enqueue(element: Element): void {
    this.queue.push(element);
    if (this.queue.length > this.maxQueued) {
      this.queue.shift();
      this.log.warn({ maxQueued: this.maxQueued }, 'component offline too long: dropped the oldest queued stanza');
    }
  }

  private async connectOnce(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    this.stateValue = 'connecting';
    this.attemptTimer = setTimeout(() => {
      this.attemptTimer = null;
      if (this.stateValue !== 'connecting') return;
      this.lastError = `no handshake within ${this.attemptTimeoutMs} ms`;
      void this.xmpp.disconnect(1000).catch(() => undefined);
      this.scheduleRetry();
    }, this.attemptTimeoutMs);
    try {
      // connect() + open(); `online` follows the handshake.
      await this.xmpp.reconnect.reconnect();
    } catch (err) {
      this.lastError = (err as Error).message;
      this.scheduleRetry();
    }
  }

  private onOnline(): void {
    if (this.stateValue === 'stopped') return;
    this.clearTimers();
    this.attempt = 0;
    this.lastError = '';
    this.stateValue = 'online';
    this.metrics.componentConnected.set({ domain: this.domain }, 1);
    this.log.info('component online');
    const pending = this.queue.splice(0);
    for (const element of pending) void this.send(element);
    this.emit('online');
  }

  private onDisconnect(reason: string): void {
    if (this.stateValue === 'stopped') return;
    const wasOnline = this.stateValue === 'online';
    this.stateValue = 'offline';
    this.metrics.componentConnected.set({ domain: this.domain }, 0);
    if (wasOnline) {
      this.log.warn({ reason }, 'component disconnected; reconnecting');
      this.emit('offline', reason);
    }
    this.scheduleRetry();
  }

  /** Exponential backoff with full jitter: a random delay in [base/2, base], base doubling per attempt. */
  private scheduleRetry(): void {
    if (this.stateValue === 'stopped' || this.stateValue === 'online' || this.retryTimer) return;
    if (this.attemptTimer) {
      clearTimeout(this.attemptTimer);
      this.attemptTimer = null;
    }
    this.stateValue = 'offline';
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.attempt, 20));
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.attempt++;
    this.log.debug({ delay, attempt: this.attempt, lastError: this.lastError }, 'component reconnect scheduled');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      const status = this.xmpp.status;
      if (status !== 'disconnect' && status !== 'offline') {
        // A socket from the previous attempt is still closing; its `disconnect` will reschedule.
        void this.xmpp.disconnect(1000).catch(() => undefined);
        this.scheduleRetry();
        return;
      }
      void this.connectOnce();
    }, delay);
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    this.retryTimer = null;
    this.attemptTimer = null;
  }
}
