// The composition root: builds ponte from a validated config and owns the
// start and shutdown order. main.ts, the demo and the tests all start ponte
// through here.
//
// Start:    store (migrations) -> one XMPP component per enabled network -> HTTP.
// Shutdown: 1. stop HTTP, 2. close network sessions with the quit message,
//           3. unavailable presence for everything shown available,
//           4. close the component connections, 5. close the store.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import { SessionRegistry } from './core/sessions.js';
import { buildHttp, type HealthReport } from './http/server.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { NETWORKS, type NetworkName } from './networks/registry.js';
import { openStore, type Store } from './store/index.js';
import { ComponentConnection } from './xmpp/component.js';
import { StanzaRouter } from './xmpp/router.js';
import { registerServiceHandlers } from './xmpp/service.js';

export interface PonteOptions {
  log?: Logger;
  /** Collect Node.js process metrics (off in tests that start several instances). */
  processMetrics?: boolean;
}

export class Ponte {
  readonly components = new Map<NetworkName, ComponentConnection>();
  readonly sessions = new SessionRegistry();
  readonly router = new StanzaRouter();
  readonly metrics: Metrics;
  readonly log: Logger;
  private http: FastifyInstance | null = null;
  private storeValue: Store | null = null;
  private stopping = false;
  /** Set once the gateway was fully up, to tell 'starting' from 'degraded'. */
  private wasReady = false;

  private constructor(
    readonly config: Config,
    options: PonteOptions,
  ) {
    this.log = options.log ?? createLogger({ level: config.log.level, format: config.log.format });
    this.metrics = new Metrics({ processMetrics: options.processMetrics ?? true });
    // Session and connection gauges are read from the registry at scrape time.
    this.metrics.onCollectSessions(() =>
      Object.keys(NETWORKS).map((network) => ({
        network,
        sessions: this.sessions.count(network),
        connections: this.sessions.connections(network),
      })),
    );
  }

  /** Opens the store, starts the component connections (they keep retrying in the background) and the HTTP server. */
  static async start(config: Config, options: PonteOptions = {}): Promise<Ponte> {
    const ponte = new Ponte(config, options);
    try {
      await ponte.startParts();
    } catch (err) {
      await ponte.stop('start-up failed').catch(() => undefined);
      throw err;
    }
    return ponte;
  }

  get store(): Store {
    if (!this.storeValue) throw new Error('store is not open');
    return this.storeValue;
  }

  /** The HTTP server's address, e.g. http://127.0.0.1:8080. */
  get httpUrl(): string {
    const address = this.http?.server.address();
    if (!address || typeof address === 'string') return '';
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  private async startParts(): Promise<void> {
    const { config } = this;
    this.storeValue = await openStore({
      url: config.store.url,
      dataDir: config.store.dataDir,
      encryptionKey: config.store.encryptionKey,
      metrics: this.metrics,
      log: this.log,
    });
    this.log.info({ engine: this.storeValue.engine }, 'store open');

    for (const name of Object.keys(NETWORKS) as NetworkName[]) {
      const settings = config.networks[name];
      if (!settings.enabled) continue;
      const component = new ComponentConnection(
        {
          domain: settings.domain,
          host: config.xmpp.host,
          port: config.xmpp.port,
          secret: settings.secret ?? config.xmpp.secret,
          backoff: { initialMs: config.xmpp.reconnectInitialMs, maxMs: config.xmpp.reconnectMaxMs },
        },
        { log: this.log, metrics: this.metrics, router: this.router },
      );
      registerServiceHandlers(this.router, settings.domain, NETWORKS[name]);
      component.on('online', () => {
        if ([...this.components.values()].every((c) => c.connected)) this.wasReady = true;
      });
      this.components.set(name, component);
      component.start();
    }

    this.http = buildHttp({ metrics: this.metrics, health: () => this.health() });
    await this.http.listen({ host: config.http.host, port: config.http.port });
    this.log.info({ url: this.httpUrl }, 'HTTP listening');
  }

  /** Resolves once every component connection is online. */
  async waitOnline(timeoutMs = 30_000): Promise<void> {
    await Promise.all([...this.components.values()].map((component) => component.waitOnline(timeoutMs)));
  }

  async health(): Promise<HealthReport> {
    const components: HealthReport['components'] = {};
    for (const [network, component] of this.components) {
      components[component.domain] = {
        network,
        state: component.state,
        ...(component.connected || !component.lastErrorText ? {} : { error: component.lastErrorText }),
      };
    }
    let store: HealthReport['store'] = { engine: 'none', ok: false, error: 'not open' };
    if (this.storeValue) {
      try {
        await this.storeValue.ping();
        store = { engine: this.storeValue.engine, ok: true };
      } catch (err) {
        store = { engine: this.storeValue.engine, ok: false, error: (err as Error).message };
      }
    }
    const networks: HealthReport['networks'] = {};
    for (const name of Object.keys(NETWORKS) as NetworkName[]) {
      const settings = this.config.networks[name];
      networks[name] = {
        enabled: settings.enabled,
        domain: settings.domain,
        sessions: this.sessions.count(name),
        connections: this.sessions.connections(name),
      };
    }
    const allOnline = [...this.components.values()].every((component) => component.connected);
    let status: HealthReport['status'];
    if (this.stopping) status = 'stopping';
    else if (allOnline && store.ok) status = 'ready';
    else status = this.wasReady ? 'degraded' : 'starting';
    return { status, components, store, networks };
  }

  /** The documented shutdown order; safe to call more than once. */
  async stop(reason = this.config.shutdown.message): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ reason }, 'shutting down');
    if (this.http) await this.http.close().catch((err: Error) => this.log.warn({ err: err.message }, 'closing HTTP'));
    this.log.info('HTTP closed');
    await this.sessions.closeAll(reason);
    this.log.info('sessions closed');
    let withdrawn = 0;
    for (const component of this.components.values()) withdrawn += await component.withdrawPresences(reason);
    this.log.info({ withdrawn }, 'presences withdrawn');
    await Promise.all([...this.components.values()].map((component) => component.stop()));
    this.log.info('components closed');
    if (this.storeValue) await this.storeValue.close().catch((err: Error) => this.log.warn({ err: err.message }, 'closing store'));
    this.log.info('store closed');
    this.log.info('stopped');
  }
}
