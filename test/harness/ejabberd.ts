// A throw-away ejabberd 23.01 for end-to-end tests, from the project's
// deploy/ejabberd/ejabberd.yml template. Started as a bare Erlang node (the
// spawned PID is beam.smp: erl execs), with its own inetrc (hosts file only,
// never DNS), a unique node name and cookie, and a distribution port of its own
// instead of epmd, so instances never collide and nothing is left behind.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { onFreePorts } from './ports.js';
import { removeOnExit, startProcess, tempDir, waitReady, type ServerProcess } from './process.js';
import type { XmppServer, XmppServerOptions } from './xmpp-server.js';

const execFileAsync = promisify(execFile);

export const EJABBERD_TEMPLATE = fileURLToPath(new URL('../../deploy/ejabberd/ejabberd.yml', import.meta.url));

const DOMAIN = 'localhost';

/** Where Debian installs ejabberd and its Erlang deps (ejabberd-23.01-1/, p1_utils-.../, ...). */
function erlLibs(): string {
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib/erlang/lib']) {
    if (existsSync(dir) && readdirSync(dir).some((name) => /^ejabberd-\d/.test(name))) return dir;
  }
  throw new Error('ejabberd Erlang libraries not found (apt-get install ejabberd; see scripts/ensure-servers.sh)');
}

function yamlString(value: string): string {
  return JSON.stringify(value);
}

/** The template's lines of one component listener, from `- port: @<KIND>_PORT@` to its host line. */
function listenerBlock(lines: string[], kind: 'IRC' | 'MATRIX'): { start: number; end: number } {
  const start = lines.findIndex((l) => l.trim() === `- port: @${kind}_PORT@`);
  const end = lines.findIndex((l, i) => i > start && l.trim().startsWith(`"@${kind}_DOMAIN@":`));
  if (start < 0 || end < 0) throw new Error(`${EJABBERD_TEMPLATE}: the ${kind} component listener was not found`);
  return { start, end: end + 1 };
}

/**
 * Fill the template's @PLACEHOLDERS@. The component list may be any length:
 * each component gets a listener of its own, shaped like the IRC one.
 */
export function renderEjabberdConfig(
  template: string,
  v: { domain: string; ip: string; c2sPort: number; components: { domain: string; port: number }[]; secret: string },
): string {
  if (v.components.length === 0) throw new Error('renderEjabberdConfig: at least one component is needed');
  let lines = template.split('\n');
  const irc = listenerBlock(lines, 'IRC');
  const pattern = lines.slice(irc.start, irc.end);
  const matrix = listenerBlock(lines, 'MATRIX');
  if (matrix.start !== irc.end) throw new Error(`${EJABBERD_TEMPLATE}: the MATRIX listener must follow the IRC one`);
  const listeners = v.components.flatMap((c) =>
    pattern.map((l) => l.replaceAll('@IRC_PORT@', String(c.port)).replaceAll('"@IRC_DOMAIN@"', yamlString(c.domain))),
  );
  lines = [...lines.slice(0, irc.start), ...listeners, ...lines.slice(matrix.end)];
  const text = lines
    .join('\n')
    .replaceAll('@DOMAIN@', v.domain)
    .replaceAll('@IP@', v.ip)
    .replaceAll('@C2S_PORT@', String(v.c2sPort))
    .replaceAll('"@COMPONENT_SECRET@"', yamlString(v.secret));
  // Only comment lines may still mention a placeholder.
  const left = text.split('\n').filter((l) => !/^\s*#/.test(l) && /@[A-Z0-9_]+@/.test(l));
  if (left.length > 0) throw new Error(`unfilled placeholders in ejabberd config: ${left.join(' | ')}`);
  return text;
}

export async function startEjabberd(opts: XmppServerOptions = {}): Promise<XmppServer> {
  const components = [...(opts.components ?? ['irc.localhost', 'matrix.localhost'])];
  if (components.length === 0) throw new Error('startEjabberd: at least one component domain is needed');
  const secret = opts.secret ?? randomBytes(12).toString('hex');
  const dir = tempDir('ejabberd');
  removeOnExit(dir);
  let c2sPort = 0;
  let distPort = 0;
  // One listener per component domain (see the template).
  let componentPorts: number[] = [];
  const id = randomBytes(4).toString('hex');
  const node = `ejbd-${id}@localhost`;
  const cookie = randomBytes(16).toString('hex');
  const libs = erlLibs();

  mkdirSync(join(dir, 'db'));
  mkdirSync(join(dir, 'log'));
  mkdirSync(join(dir, 'ext'));
  const configPath = join(dir, 'ejabberd.yml');
  const template = readFileSync(EJABBERD_TEMPLATE, 'utf8');
  const writeConfig = () =>
    writeFileSync(
      configPath,
      renderEjabberdConfig(template, {
        domain: DOMAIN,
        ip: '127.0.0.1',
        c2sPort,
        components: components.map((domain, i) => ({ domain, port: componentPorts[i]! })),
        secret,
      }),
    );
  // Erlang's resolver: the entries below only, never DNS. Debian's
  // /etc/ejabberd/inetrc adds "native" (the system resolver); and even with
  // lookup "file" only, inet_res (SRV lookups) would read /etc/resolv.conf
  // lazily and query its nameserver, hence resolv_conf "".
  writeFileSync(
    join(dir, 'inetrc'),
    '{lookup,["file"]}.\n{resolv_conf, ""}.\n{hosts_file, ""}.\n{host,{127,0,0,1}, ["localhost"]}.\n',
  );

  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    ERL_LIBS: libs,
    ERL_INETRC: join(dir, 'inetrc'),
  };
  // Never let a default cookie file or a shared epmd be used.
  const distArgs = () => ['-setcookie', cookie, '-erl_epmd_port', String(distPort), '-start_epmd', 'false'];

  let proc: ServerProcess | null = null;
  let starts = 0;

  async function start(): Promise<void> {
    starts++;
    // A fresh log file per start so old readiness lines don't count.
    const logFile = join(dir, 'log', `ejabberd-${starts}.log`);
    const p = startProcess(
      `ejabberd(${c2sPort})`,
      'erl',
      [
        '-sname', node,
        ...distArgs(),
        '-kernel', 'inet_dist_use_interface', '{127,0,0,1}',
        // The mnesia dir is an Erlang string: one argv element with the quotes.
        '-mnesia', 'dir', `"${join(dir, 'db')}"`,
        '-s', 'ejabberd',
        '-noshell', '-noinput',
      ],
      {
        cwd: dir,
        env: {
          ...baseEnv,
          EJABBERD_CONFIG_PATH: configPath,
          EJABBERD_LOG_PATH: logFile,
          ERL_CRASH_DUMP: join(dir, 'log', 'erl_crash.dump'),
          CONTRIB_MODULES_PATH: join(dir, 'ext'),
        },
        logPath: join(dir, 'log', `ejabberd-${starts}.out`),
      },
    );
    proc = p;
    try {
      // Listeners open only once ejabberd has started; these lines come last.
      // A port it cannot bind (listener or Erlang distribution) stops the node.
      await waitReady(
        p,
        [
          `Start accepting TCP connections at 127.0.0.1:${c2sPort} for ejabberd_c2s`,
          ...componentPorts.map((port) => `Start accepting TCP connections at 127.0.0.1:${port} for ejabberd_service`),
        ],
        /Failed to open socket at [^\n]*address already in use|eaddrinuse/,
        60_000,
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
    if (p) await p.stop(15_000);
  }

  /** ejabberdctl without the Debian wrapper: a hidden node that runs one command (~0.5 s). */
  async function ctl(...args: string[]): Promise<string> {
    const ctlNode = `ctl-${randomBytes(4).toString('hex')}@localhost`;
    try {
      const { stdout } = await execFileAsync(
        'erl',
        ['-sname', ctlNode, ...distArgs(), '-dist_listen', 'false', '-hidden', '-noinput',
          '-s', 'ejabberd_ctl', '-extra', node, ...args],
        { cwd: dir, env: baseEnv, timeout: 30_000 },
      );
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`ejabberd_ctl ${args[0]} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }

  await onFreePorts(2 + components.length, async (ports) => {
    [c2sPort, distPort] = ports as [number, number];
    componentPorts = ports.slice(2);
    writeConfig();
    await start();
  });

  return {
    kind: 'ejabberd',
    domain: DOMAIN,
    host: '127.0.0.1',
    c2sPort,
    componentPort: componentPorts[0]!,
    componentPorts: Object.fromEntries(components.map((domain, i) => [domain, componentPorts[i]!])),
    componentSecret: secret,
    components,
    dir,
    async registerUser(user, password) {
      await ctl('register', user, DOMAIN, password);
    },
    async restart() {
      await stop();
      await start();
    },
    stop,
  };
}
