// A throw-away ngircd 26 (GnuTLS build) for end-to-end tests: loopback only,
// plain + TLS client ports, no DNS/ident/PAM, flood limits off, WEBIRC enabled.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onFreePorts } from './ports.js';
import { removeOnExit, startProcess, tempDir, type ServerProcess } from './process.js';
import { findBinary, makeSelfSignedCert, type IrcServer } from './irc-server.js';

const execFileAsync = promisify(execFile);

const NAME = 'irc.localhost';

export interface NgircdOptions {
  /** Server name (default irc.localhost); two linked servers need two names. */
  name?: string;
  /**
   * Another ngircd to link with (a network of two): with `port` this one
   * connects to it, without it waits for it to connect. Same password both ways.
   */
  peer?: { name: string; port?: number; password: string };
}

export async function startNgircd(opts: NgircdOptions = {}): Promise<IrcServer> {
  const name = opts.name ?? NAME;
  const peer = opts.peer
    ? `[Server]
	Name = ${opts.peer.name}
	Host = 127.0.0.1
${opts.peer.port !== undefined ? `	Port = ${opts.peer.port}
` : ''}	MyPassword = ${opts.peer.password}
	PeerPassword = ${opts.peer.password}
`
    : '';
  const dir = tempDir('ngircd');
  removeOnExit(dir);
  // As root ngircd always drops to "nobody" after reading its config, cert and
  // key; the dir must be traversable and the pid file's dir writable for it.
  chmodSync(dir, 0o755);
  const runDir = join(dir, 'run');
  mkdirSync(runDir);
  chmodSync(runDir, 0o777);
  let port = 0;
  let tlsPort = 0;
  const webircPassword = randomBytes(8).toString('hex');
  const { certPath, keyPath } = await makeSelfSignedCert(dir);
  const dhPath = join(dir, 'dh.pem');
  // Without a DH file ngircd generates parameters at start ("This may take a while").
  await execFileAsync('openssl', ['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'dh_param:ffdhe2048', '-out', dhPath], {
    timeout: 30_000,
  });

  const configPath = join(dir, 'ngircd.conf');
  const writeConfig = () =>
    writeFileSync(
      configPath,
      `[Global]
	Name = ${name}
	Info = ponte test ngircd
	Listen = 127.0.0.1
	Ports = ${port}
	PidFile = ${join(runDir, 'ngircd.pid')}
	MotdPhrase = "test server"
	HelpFile = /dev/null
[Limits]
	MaxConnections = 0
	MaxConnectionsIP = 0
	MaxJoins = 0
	MaxNickLength = 30
	MaxPenaltyTime = 0
	MaxListSize = 1000
	PingTimeout = 300
	PongTimeout = 60
	IdleTimeout = 0
[Options]
	DNS = no
	Ident = no
	PAM = no
	ConnectIPv6 = no
	ConnectIPv4 = yes
	RequireAuthPing = no
	OperCanUseMode = yes
	WebircPassword = ${webircPassword}
[SSL]
	CertFile = ${certPath}
	KeyFile = ${keyPath}
	DHFile = ${dhPath}
	Ports = ${tlsPort}
[Operator]
	Name = admin
	Password = adminpw
${peer}`,
    );

  let proc: ServerProcess | null = null;
  let starts = 0;

  async function start(): Promise<void> {
    starts++;
    rmSync(join(runDir, 'ngircd.pid'), { force: true });
    const p = startProcess(`ngircd(${port})`, findBinary('ngircd'), ['-n', '-f', configPath], {
      cwd: dir,
      logPath: join(dir, `ngircd-${starts}.log`),
    });
    proc = p;
    try {
      // Exactly `) ready.`; `" ready` would also match earlier lines. A port it
      // cannot bind is only logged; ngircd keeps running on the others.
      await p.waitFor(new RegExp(`Server "${name.replaceAll('.', '\\.')}" \\(on "[^"]*"\\) ready\\.`), 20_000);
      const bindError = /Can't bind socket to address [^\n]*/.exec(p.output());
      if (bindError) throw Object.assign(new Error(`ngircd: ${bindError[0]}`), { code: 'EADDRINUSE' });
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
    [port, tlsPort] = ports as [number, number];
    writeConfig();
    await start();
  });

  return {
    kind: 'ngircd',
    name,
    host: '127.0.0.1',
    port,
    tlsPort,
    dir,
    certPath,
    webircPassword,
    services: false,
    stop,
    async restart() {
      await stop();
      await start();
    },
  };
}
