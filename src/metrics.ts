// Prometheus metrics for the whole process, served by src/http at /metrics.
// One registry per gateway instance (not the prom-client global), so tests can
// run several gateways in one process without their counters mixing.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  readonly stanzasIn = new Counter({
    name: 'ponte_stanzas_in_total',
    help: 'Stanzas received from the XMPP server, by kind (message, presence, iq) and the gateway domain they address',
    labelNames: ['kind', 'domain'] as const,
    registers: [this.registry],
  });

  readonly stanzasOut = new Counter({
    name: 'ponte_stanzas_out_total',
    help: 'Stanzas sent to the XMPP server, by kind and the gateway domain they come from',
    labelNames: ['kind', 'domain'] as const,
    registers: [this.registry],
  });

  readonly stanzaErrors = new Counter({
    name: 'ponte_stanza_errors_total',
    help: 'Stanza errors sent back to XMPP entities, by error condition and gateway domain',
    labelNames: ['condition', 'domain'] as const,
    registers: [this.registry],
  });

  readonly sessions: Gauge<'network'> = new Gauge({
    name: 'ponte_sessions',
    help: 'Open sessions (one per XMPP user and network account), by network',
    labelNames: ['network'] as const,
    registers: [this.registry],
    collect: () => {
      for (const { network, sessions } of this.sessionSource()) this.sessions.set({ network }, sessions);
    },
  });

  readonly networkConnections: Gauge<'network'> = new Gauge({
    name: 'ponte_network_connections',
    help: 'Open connections to remote networks (IRC servers, Matrix homeservers), by network',
    labelNames: ['network'] as const,
    registers: [this.registry],
    collect: () => {
      for (const { network, connections } of this.sessionSource()) this.networkConnections.set({ network }, connections);
    },
  });

  readonly componentConnected = new Gauge({
    name: 'ponte_component_connected',
    help: '1 while the XEP-0114 connection for a domain is established, else 0',
    labelNames: ['domain'] as const,
    registers: [this.registry],
  });

  readonly storeQuerySeconds = new Histogram({
    name: 'ponte_store_query_seconds',
    help: 'Latency of store operations, by operation',
    labelNames: ['operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  private sessionSource: () => Array<{ network: string; sessions: number; connections: number }> = () => [];

  /** Where the sessions and network-connections gauges read their values when scraped. */
  onCollectSessions(source: () => Array<{ network: string; sessions: number; connections: number }>): void {
    this.sessionSource = source;
  }

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'ponte_' });
  }

  /** Runs `work` and records how long it took under `operation`. */
  async timeStore<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const end = this.storeQuerySeconds.startTimer({ operation });
    try {
      return await work();
    } finally {
      end();
    }
  }
}
