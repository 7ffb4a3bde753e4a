// The two gateways under test, started as their own processes (so /proc gives
// each one's CPU time and RSS) against the same Prosody and ngircd:
//   ponte    dist/src/main.js (built by `npm run bench`), configured by PONTE_*
//            variables only, embedded PGlite store in a temp dir;
//   biboumi  the Debian package, SQLite in a temp dir (test/harness/biboumi.ts).
// Both are unthrottled towards IRC: ponte with networks.irc.throttleBurst -1,
// biboumi with throttle_limit -1 per user (its IRC server ad-hoc command).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { startBiboumi, type Biboumi } from '../../test/harness/biboumi.js';
import { freePort } from '../../test/harness/ports.js';
import { removeOnExit, startProcess, tempDir, type ServerProcess } from '../../test/harness/process.js';
import type { XmppServer } from '../../test/harness/xmpp-server.js';
import { sleep, stableRssMiB } from './proc.js';
import { submitCommand, xml, type BenchUser } from './xmpp.js';

export const IRC_HOST = '127.0.0.1';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The project's Node (npm ci installs node 22 there; the system one may be older). */
export const PONTE_NODE = existsSync(join(ROOT, 'node_modules/.bin/node')) ? join(ROOT, 'node_modules/.bin/node') : process.execPath;

export interface Gateway {
  readonly name: 'ponte' | 'biboumi';
  readonly domain: string;
  readonly pid: number;
  /** The MUC JID of an IRC channel on the bench's ngircd. */
  room(channel: string): string;
  /** What a new user does before joining: nothing for ponte; biboumi's per-user IRC server settings. */
  prepareUser(user: BenchUser, archive: boolean): Promise<void>;
  /**
   * RSS once it holds still (ponte first runs a full GC through
   * bench/lib/gc-on-signal.mjs; biboumi has no garbage collector).
   */
  settledRssMiB(): Promise<number>;
  /** What the process reports of its memory beyond RSS (ponte: /metrics), in MiB. */
  memoryDetail(): Promise<Record<string, number> | undefined>;
  /** The file the process's stdout and stderr go to. */
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface PonteStartOptions {
  archive: boolean;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** Where a SIGTTIN writes heap snapshots. */
  heapDir?: string;
}

export async function startPonteProcess(server: XmppServer, ircPort: number, opts: PonteStartOptions): Promise<Gateway & { proc: ServerProcess; metricsPort: number }> {
  const dir = tempDir('bench-ponte');
  removeOnExit(dir);
  mkdirSync(join(dir, 'pglite'));
  const metricsPort = await freePort();
  // Only the variables set here configure it: none may leak in from the caller's environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PONTE_')));
  const preload = join(ROOT, 'bench/lib/gc-on-signal.mjs');
  const nodeArgs = ['--expose-gc', '--import', preload, ...(opts.nodeFlags ?? []), join(ROOT, 'dist/src/main.js')];
  const proc = startProcess('ponte', PONTE_NODE, nodeArgs, {
    cwd: dir,
    logPath: join(dir, 'ponte.log'),
    env: {
      ...env,
      PONTE_XMPP_HOST: server.host,
      PONTE_XMPP_PORT: String(server.componentPorts['irc.localhost']),
      PONTE_XMPP_SECRET: server.componentSecret,
      PONTE_NETWORKS_IRC_DOMAIN: 'irc.localhost',
      PONTE_NETWORKS_IRC_ALLOW: server.domain,
      PONTE_NETWORKS_IRC_SERVERS: `${IRC_HOST}:${ircPort}/plain`,
      // No flood control, as biboumi's throttle_limit -1 (a version without the key ignores it).
      PONTE_NETWORKS_IRC_THROTTLE_BURST: '-1',
      PONTE_NETWORKS_MATRIX_ENABLED: 'false',
      PONTE_STORE_URL: '',
      PONTE_STORE_DATA_DIR: join(dir, 'pglite'),
      PONTE_STORE_ENCRYPTION_KEY: 'bench-encryption-key-0123456789',
      PONTE_ARCHIVE_ENABLED: String(opts.archive),
      PONTE_HTTP_HOST: '127.0.0.1',
      PONTE_HTTP_PORT: String(metricsPort),
      PONTE_LOG_LEVEL: 'warn',
      PONTE_LOG_FORMAT: 'json',
      BENCH_HEAP_DIR: opts.heapDir ?? '',
    },
  });
  return {
    name: 'ponte',
    domain: 'irc.localhost',
    proc,
    metricsPort,
    get pid() {
      return proc.child.pid ?? -1;
    },
    room: (channel) => `${channel}%${IRC_HOST}@irc.localhost`,
    prepareUser: async () => undefined,
    async settledRssMiB() {
      proc.child.kill('SIGWINCH'); // not SIGUSR2: close-with-grace shuts ponte down on it
      return stableRssMiB(proc.child.pid ?? -1);
    },
    logFile: join(dir, 'ponte.log'),
    async memoryDetail() {
      try {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
        const read = (name: string) => Math.round((Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]) / 2 ** 20) * 10) / 10;
        return {
          heapUsedMiB: read('ponte_nodejs_heap_size_used_bytes'),
          heapTotalMiB: read('ponte_nodejs_heap_size_total_bytes'),
          externalMiB: read('ponte_nodejs_external_memory_bytes'),
        };
      } catch {
        return undefined;
      }
    },
    async stop() {
      await proc.stop(15_000);
    },
  };
}

export function startBiboumiProcess(server: XmppServer, ircPort: number): Gateway & { biboumi: Biboumi } {
  // log_level 2 (warnings): at 1 biboumi logs every IRC connection and more.
  const biboumi = startBiboumi(server, { hostname: 'biboumi.localhost', logLevel: 2 });
  const domain = biboumi.hostname;
  return {
    name: 'biboumi',
    domain,
    biboumi,
    get pid() {
      return biboumi.pid;
    },
    room: (channel) => `${channel}%${IRC_HOST}@${domain}`,
    async prepareUser(user, archive) {
      // Per user: which port of 127.0.0.1 to use (plain text only, no TLS
      // ports to try first), no throttling, and whether to archive.
      await submitCommand(user, `${IRC_HOST}@${domain}`, 'configure', {
        ports: [String(ircPort)],
        tls_ports: [],
        verify_cert: ['false'],
        throttle_limit: ['-1'],
      });
      await submitCommand(user, domain, 'configure', { record_history: [String(archive)] });
    },
    settledRssMiB: () => stableRssMiB(biboumi.pid),
    logFile: join(biboumi.dir, 'biboumi.log'),
    memoryDetail: async () => undefined,
    stop: () => biboumi.stop(),
  };
}

/**
 * Milliseconds from `start()` until `domain` answers a disco#info query from
 * `probe` (polled every 10 ms; before the component is connected, Prosody
 * answers with an error).
 */
export async function timeToDisco<T>(probe: BenchUser, domain: string, start: () => T | Promise<T>, timeoutMs = 60_000): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await start();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await probe.iq(xml('iq', { type: 'get', to: domain }, xml('query', { xmlns: DISCO_INFO })), 2_000);
      return { value, ms: performance.now() - t0 };
    } catch {
      if (Date.now() > deadline) throw new Error(`${domain} did not answer disco#info within ${timeoutMs} ms`);
      await sleep(10);
    }
  }
}
