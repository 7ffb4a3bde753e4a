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
import { Core, type GatewayDomain } from './core/core.js';
import { GatewayError } from './core/errors.js';
import { MEDIA_LINK_PURPOSE, MediaLinks } from './core/media-links.js';
import { buildHttp, type HealthReport } from './http/server.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { NETWORKS } from './networks/registry.js';
import type { Network } from './networks/types.js';
import { openStore, type Store } from './store/index.js';
import { ComponentConnection } from './xmpp/component.js';
import { Addressing } from './xmpp/addressing.js';
import type { XmppContext } from './xmpp/context.js';
import { StanzaDispatch } from './xmpp/dispatch.js';
import { XMPP_MODULES } from './xmpp/modules.js';
import { NS } from './xmpp/namespaces.js';
import { domainOf, StanzaRouter } from './xmpp/router.js';

/** A network served in addition to the configured ones (tests plug in their own network this way). */
export interface ExtraNetwork {
  network: Network;
  domain: string;
  allow: string[];
  secret?: string;
  /** The XMPP server's component port for this domain (default: xmpp.port). */
  componentPort?: number;
}

export interface PonteOptions {
  log?: Logger;
  extraNetworks?: ExtraNetwork[];
  /** Collect Node.js process metrics (off in tests that start several instances). */
  processMetrics?: boolean;
}

export class Ponte {
  /** Component connections by network name. */
  readonly components = new Map<string, ComponentConnection>();
  readonly router = new StanzaRouter();
  readonly metrics: Metrics;
  readonly log: Logger;
  private http: FastifyInstance | null = null;
  private storeValue: Store | null = null;
  private coreValue: Core | null = null;
  private readonly extraNetworks: ExtraNetwork[];
  private stopping = false;
  /** Set once the gateway was fully up, to tell 'starting' from 'degraded'. */
  private wasReady = false;

  private constructor(
    readonly config: Config,
    options: PonteOptions,
  ) {
    this.log = options.log ?? createLogger({ level: config.log.level, format: config.log.format });
    this.extraNetworks = options.extraNetworks ?? [];
    this.metrics = new Metrics({ processMetrics: options.processMetrics ?? true });
    // Session and connection gauges are read from the registry at scrape time.
    this.metrics.onCollectSessions(() =>
      (this.coreValue?.domains ?? []).map(({ name }) => ({
        network: name,
        sessions: this.coreValue?.count(name) ?? 0,
        connections: this.coreValue?.connections(name) ?? 0,
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

  get core(): Core {
    if (!this.coreValue) throw new Error('core is not started');
    return this.coreValue;
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

    // The networks served, each on its component domain.
    const domains: GatewayDomain[] = [];
    const allow: Record<string, readonly string[]> = {};
    const secrets = new Map<string, string>();
    const ports = new Map<string, number>();
    for (const [name, createNetwork] of Object.entries(NETWORKS)) {
      const settings = config.networks[name as keyof typeof NETWORKS];
      if (!settings.enabled) continue;
      domains.push({ name, domain: settings.domain, network: createNetwork(config) });
      allow[name] = settings.allow;
      secrets.set(name, settings.secret ?? config.xmpp.secret);
      ports.set(name, settings.componentPort ?? config.xmpp.port);
    }
    for (const extra of this.extraNetworks) {
      domains.push({ name: extra.network.name, domain: extra.domain, network: extra.network });
      allow[extra.network.name] = extra.allow;
      secrets.set(extra.network.name, extra.secret ?? config.xmpp.secret);
      ports.set(extra.network.name, extra.componentPort ?? config.xmpp.port);
    }
    // Media links point at http.publicUrl, else at the address the HTTP server listens on (known once it does).
    const mediaLinks = new MediaLinks(this.storeValue.secretBox(MEDIA_LINK_PURPOSE), () => config.http.publicUrl ?? this.httpUrl);
    const core = new Core(domains, allow, config.admins, this.storeValue, this.log, mediaLinks);
    this.coreValue = core;

    // Access control, for every stanza to every domain: only allowed users,
    // except that anyone may discover what the gateway is.
    this.router.setGuard((stanza) => {
      const gateway = core.gateway(domainOf(stanza.attrs.to));
      if (!gateway) return;
      const payload = stanza.name === 'iq' ? stanza.getChildElements()[0] : undefined;
      if (stanza.attrs.type === 'get' && payload?.is('query', NS.discoInfo)) return;
      const from = stanza.attrs.from ?? '';
      if (!core.access.mayUse(gateway.name, from) && !core.access.isAdmin(from)) {
        throw new GatewayError('forbidden', `You are not allowed to use ${gateway.domain}; its administrator decides who may (networks.${gateway.name}.allow).`);
      }
    });

    const addressing = new Addressing(core);
    const context: XmppContext = {
      router: this.router,
      core,
      store: this.storeValue,
      config,
      addressing,
      stanzas: new StanzaDispatch(addressing, this.router, domains.map((d) => d.domain)),
      log: this.log,
      send: (element) => {
        const gateway = core.gateway(domainOf(element.attrs.from));
        const component = gateway ? this.components.get(gateway.name) : undefined;
        if (!component) return Promise.reject(new Error(`no component connection sends from ${element.attrs.from}`));
        return component.send(element);
      },
    };
    for (const register of XMPP_MODULES) register(context);

    for (const gateway of domains) {
      const component = new ComponentConnection(
        {
          domain: gateway.domain,
          host: config.xmpp.host,
          port: ports.get(gateway.name)!,
          secret: secrets.get(gateway.name)!,
          backoff: { initialMs: config.xmpp.reconnectInitialMs, maxMs: config.xmpp.reconnectMaxMs },
        },
        { log: this.log, metrics: this.metrics, router: this.router },
      );
      component.on('online', () => {
        if ([...this.components.values()].every((c) => c.connected)) this.wasReady = true;
      });
      this.components.set(gateway.name, component);
      component.start();
    }

    this.http = buildHttp({
      metrics: this.metrics,
      health: () => this.health(),
      media: { links: mediaLinks, open: (target, options) => core.openMedia(target, options) },
    });
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
    for (const { name, domain } of this.coreValue?.domains ?? []) {
      networks[name] = {
        enabled: true,
        domain,
        sessions: this.coreValue?.count(name) ?? 0,
        connections: this.coreValue?.connections(name) ?? 0,
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
    if (this.coreValue) await this.coreValue.closeAll(reason);
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
