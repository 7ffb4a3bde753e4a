// Starts ponte in the test process against a throw-away XMPP server, with the
// deploy config (deploy/ponte/ponte.yaml, the one docker-compose mounts) and
// only test-specific values overridden through PONTE_* variables.
import { Writable } from 'node:stream';
import { Ponte, type ExtraNetwork } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import type { XmppServer } from './xmpp-server.js';

export const PONTE_DEPLOY_CONFIG = 'deploy/ponte/ponte.yaml';

export interface TestPonte {
  ponte: Ponte;
  /** Log lines (JSON) written so far, for assertions and for failure output. */
  logs(): string[];
  stop(): Promise<void>;
}

export interface StartPonteOptions {
  /** Networks served besides IRC and Matrix, e.g. the test network on test.localhost. */
  extraNetworks?: ExtraNetwork[];
}

export async function startPonte(server: XmppServer, env: Record<string, string> = {}, options: StartPonteOptions = {}): Promise<TestPonte> {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const config = loadConfig({
    file: PONTE_DEPLOY_CONFIG,
    env: {
      PONTE_XMPP_HOST: server.host,
      PONTE_XMPP_PORT: String(server.componentPort),
      PONTE_XMPP_SECRET: server.componentSecret,
      PONTE_XMPP_RECONNECT_INITIAL_MS: '100',
      PONTE_XMPP_RECONNECT_MAX_MS: '1000',
      PONTE_STORE_URL: '',
      PONTE_STORE_DATA_DIR: 'memory://',
      PONTE_HTTP_HOST: '127.0.0.1',
      PONTE_HTTP_PORT: '0',
      PONTE_LOG_LEVEL: 'debug',
      ...env,
    },
  });
  // Each domain on the port the server listens for it on (ejabberd: one listener per domain).
  for (const settings of [config.networks.irc, config.networks.matrix]) {
    settings.componentPort ??= server.componentPorts[settings.domain];
  }
  const extraNetworks = (options.extraNetworks ?? []).map((extra) => ({
    ...extra,
    componentPort: extra.componentPort ?? server.componentPorts[extra.domain],
  }));
  const log = createLogger({ level: config.log.level, format: 'json', destination });
  const ponte = await Ponte.start(config, { log, processMetrics: false, extraNetworks });
  return { ponte, logs: () => lines, stop: () => ponte.stop() };
}
