// A throw-away biboumi 9 (Debian package `biboumi`), the XMPP <-> IRC gateway
// ponte is compared with, attached to a throw-away XMPP server as a second
// component. Its config file, SQLite database and log live in a temp dir.
//
// biboumi reads `key=value` lines; what is set here and why:
// - identd_port=0: its identd would otherwise try to bind port 113;
// - ca_file: the system bundle, so it does not probe other paths;
// - policy_directory: the temp dir (no Botan policy files; IRC runs plain here);
// - db_name: an SQLite file (biboumi's archive, per-user options and roster).
// Per-user settings (IRC server ports, throttle_limit, record_history) are not
// config keys: users set them with ad-hoc commands (bench/lib/gateways.ts does).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from './irc-server.js';
import { removeOnExit, startProcess, tempDir, type ServerProcess } from './process.js';
import type { XmppServer } from './xmpp-server.js';

export interface BiboumiOptions {
  /** Component domain; must be one the XMPP server accepts (default 'biboumi.localhost'). */
  hostname?: string;
  /** 0 debug, 1 info (default), 2 warning, 3 error. */
  logLevel?: 0 | 1 | 2 | 3;
  /** Bare JIDs with admin rights (colon-separated in the config). */
  admins?: string[];
  /** Wrap the command, e.g. ['prlimit', '--nofile=20000', '--']. */
  commandPrefix?: string[];
}

export interface Biboumi {
  hostname: string;
  dir: string;
  dbPath: string;
  proc: ServerProcess;
  readonly pid: number;
  /** Resolves once biboumi logged that the component handshake succeeded (needs logLevel <= 1). */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function startBiboumi(server: XmppServer, opts: BiboumiOptions = {}): Biboumi {
  const hostname = opts.hostname ?? 'biboumi.localhost';
  if (!server.components.includes(hostname)) {
    throw new Error(`startBiboumi: ${server.kind} does not accept the component ${hostname} (has ${server.components.join(', ')})`);
  }
  const logLevel = opts.logLevel ?? 1;
  const dir = tempDir('biboumi');
  removeOnExit(dir);
  const dbPath = join(dir, 'biboumi.sqlite');
  const configPath = join(dir, 'biboumi.cfg');
  writeFileSync(
    configPath,
    [
      `hostname=${hostname}`,
      `password=${server.componentSecret}`,
      `xmpp_server_ip=${server.host}`,
      `port=${server.componentPorts[hostname]}`,
      `db_name=${dbPath}`,
      `admin=${(opts.admins ?? []).join(':')}`,
      'identd_port=0',
      'ca_file=/etc/ssl/certs/ca-certificates.crt',
      `policy_directory=${dir}`,
      'realname_customization=true',
      'realname_from_jid=false',
      'log_file=',
      `log_level=${logLevel}`,
      '',
    ].join('\n'),
  );
  const binary = findBinary('biboumi');
  const prefix = opts.commandPrefix ?? [];
  const [command, ...args] = prefix.length > 0 ? [...prefix, binary, configPath] : [binary, configPath];
  // biboumi reads BIBOUMI_* variables as overrides: none may leak in from outside.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BIBOUMI_')));
  const proc = startProcess(`biboumi(${hostname})`, command!, args, { cwd: dir, env, logPath: join(dir, 'biboumi.log') });
  return {
    hostname,
    dir,
    dbPath,
    proc,
    get pid() {
      return proc.child.pid ?? -1;
    },
    async ready(timeoutMs = 20_000) {
      if (logLevel > 1) throw new Error('startBiboumi: ready() needs logLevel 0 or 1 (the handshake is logged at info)');
      await proc.waitFor('Authenticated with the XMPP server', timeoutMs);
    },
    async stop() {
      await proc.stop(10_000);
    },
  };
}
