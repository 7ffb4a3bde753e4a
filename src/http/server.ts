// The HTTP side: /health for orchestrators, /metrics for Prometheus and
// /media for the files of network media links (media.ts).
// Routes are registered explicitly; tests drive the app with inject() or a
// real port.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';
import { registerMedia, type MediaDeps } from './media.js';

export interface HealthReport {
  /** ready: every enabled component is online and the store answers. */
  status: 'ready' | 'starting' | 'degraded' | 'stopping';
  components: Record<string, { network: string; state: string; error?: string }>;
  store: { engine: string; ok: boolean; error?: string };
  networks: Record<string, { enabled: boolean; domain: string; sessions: number; connections: number }>;
}

export interface HttpDeps {
  metrics: Metrics;
  health: () => Promise<HealthReport>;
  /** ponte's media links (/media/...), when networks hand them out. */
  media?: MediaDeps;
}

export function buildHttp(deps: HttpDeps): FastifyInstance {
  // Media link tokens are longer than fastify's default 100-character path parameters.
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 2048 } });

  app.get('/health', async (_request, reply) => {
    const report = await deps.health();
    reply.code(report.status === 'ready' ? 200 : 503);
    return report;
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  if (deps.media) registerMedia(app, deps.media);

  app.setErrorHandler((error: { statusCode?: number; message?: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
    reply.code(status).send({ error: status < 500 ? error.message : 'internal error' });
  });

  return app;
}
