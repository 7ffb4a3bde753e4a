// A throw-away Prosody 0.12 for end-to-end tests, run with the project's own
// deploy/prosody/prosody.cfg.lua; everything instance-specific (ports,
// loopback interface, data dir, pid and log file, component domains, secret)
// goes in through the environment variables that config reads.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { onFreePorts } from './ports.js';
import { removeOnExit, startProcess, tempDir, waitReady, type ServerProcess } from './process.js';
import type { XmppServer, XmppServerOptions } from './xmpp-server.js';

const execFileAsync = promisify(execFile);

export const PROSODY_CONFIG = fileURLToPath(new URL('../../deploy/prosody/prosody.cfg.lua', import.meta.url));

const DOMAIN = 'localhost';

export async function startProsody(opts: XmppServerOptions = {}): Promise<XmppServer> {
  const components = [...(opts.components ?? ['irc.localhost', 'matrix.localhost'])];
  if (components.length === 0) throw new Error('startProsody: at least one component domain is needed');
  const secret = opts.secret ?? randomBytes(12).toString('hex');
  const configFile = opts.configFile ?? PROSODY_CONFIG;
  const dir = tempDir('prosody');
  removeOnExit(dir);
  mkdirSync(join(dir, 'data'), { recursive: true });
  let c2sPort = 0;
  let componentPort = 0;

  // The config declares PONTE_IRC_DOMAIN, PONTE_MATRIX_DOMAIN and every domain
  // in PONTE_EXTRA_COMPONENTS (duplicates are dropped there).
  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    PROSODY_DOMAIN: DOMAIN,
    PONTE_IRC_DOMAIN: components[0],
    PONTE_MATRIX_DOMAIN: components[1] ?? components[0],
    PONTE_EXTRA_COMPONENTS: components.slice(2).join(','),
    PONTE_COMPONENT_SECRET: secret,
    PROSODY_INTERFACES: '127.0.0.1',
    PROSODY_C2S_PORT: String(c2sPort),
    PROSODY_COMPONENT_PORT: String(componentPort),
    PROSODY_DATA_PATH: join(dir, 'data'),
    PROSODY_PIDFILE: join(dir, 'prosody.pid'),
    PROSODY_LOG_LEVEL: 'info',
  });

  let proc: ServerProcess | null = null;
  let starts = 0;

  async function start(): Promise<void> {
    starts++;
    // A fresh log file per start: Prosody appends, and the readiness lines of a
    // previous run must not count.
    const logFile = join(dir, `prosody-${starts}.log`);
    const p = startProcess(`prosody(${c2sPort})`, 'prosody', ['-F', '--config', configFile], {
      cwd: dir,
      env: { ...env(), PROSODY_LOG_FILE: logFile },
      logPath: join(dir, `prosody-${starts}.out`),
    });
    proc = p;
    try {
      // A port it cannot bind is only logged; Prosody keeps running without it.
      await waitReady(
        p,
        [
          `Activated service 'c2s' on [127.0.0.1]:${c2sPort}`,
          `Activated service 'component' on [127.0.0.1]:${componentPort}`,
        ],
        /Failed to open server port \d+/,
        20_000,
        logFile,
      );
    } catch (err) {
      await p.stop();
      proc = null;
      throw err;
    }
  }

  async function stop(): Promise<void> {
    const p = proc;
    proc = null;
    if (p) await p.stop(10_000);
  }

  await onFreePorts(2, async (ports) => {
    [c2sPort, componentPort] = ports as [number, number];
    await start();
  });

  return {
    kind: 'prosody',
    domain: DOMAIN,
    host: '127.0.0.1',
    c2sPort,
    componentPort,
    componentPorts: Object.fromEntries(components.map((domain) => [domain, componentPort])),
    componentSecret: secret,
    components,
    dir,
    async registerUser(user, password) {
      // prosodyctl reads the same config, so it needs the same environment
      // (above all PROSODY_DATA_PATH); it writes to the data store directly.
      try {
        await execFileAsync('prosodyctl', ['--config', configFile, 'register', user, DOMAIN, password], {
          cwd: dir,
          env: env(),
          timeout: 20_000,
        });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`prosodyctl register ${user}@${DOMAIN} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
    },
    async restart() {
      await stop();
      await start();
    },
    stop,
  };
}
