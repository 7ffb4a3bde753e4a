// The IRC servers the end-to-end tests run ponte against (ngircd, InspIRCd with
// optional Atheme services), plus a small raw IRC client for the tests
// themselves: registration, SASL PLAIN and NickServ accounts, no library magic.
import { execFile } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface IrcServer {
  kind: 'ngircd' | 'inspircd';
  /** Server name: 'irc.localhost'. */
  name: string;
  host: '127.0.0.1';
  /** Plain-text client port. */
  port: number;
  /** TLS client port (self-signed certificate at certPath). */
  tlsPort: number;
  /** The instance's temp dir (config, cert, logs, services data). */
  dir: string;
  certPath: string;
  /** Password for `WEBIRC <password> <gateway> <hostname> <ip>`. */
  webircPassword?: string;
  /** Atheme services linked (NickServ, SASL PLAIN). */
  services: boolean;
  /** InspIRCd started with serverPassword: the TLS client port that requires it. */
  passwordPort?: number;
  /** Stop every process of the instance and wait for their exit. Idempotent. */
  stop(): Promise<void>;
  /** Stop, then start again on the same ports with the same data (accounts survive). */
  restart(): Promise<void>;
}

export { startNgircd } from './ngircd.js';
export { startInspircd, type InspircdOptions } from './inspircd.js';

/** Absolute path of a server binary; also looks in the sbin dirs a non-root PATH may lack. */
export function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} not found (install it: scripts/ensure-servers.sh)`);
}

/** A self-signed certificate for CN=localhost (EC P-256: fast to make). */
export async function makeSelfSignedCert(dir: string): Promise<{ certPath: string; keyPath: string }> {
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  await execFileAsync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '7',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,DNS:irc.localhost,IP:127.0.0.1',
      '-keyout', keyPath, '-out', certPath],
    { timeout: 30_000 },
  );
  return { certPath, keyPath };
}

// ---------------------------------------------------------------------------
// Raw IRC client

export interface IrcMessage {
  raw: string;
  tags: Record<string, string>;
  /** nick!user@host or server name, without the colon. */
  prefix: string | undefined;
  /** Upper-case command or three-digit numeric. */
  command: string;
  params: string[];
  /** When the line arrived (Date.now()), for tests of pacing. */
  receivedAt?: number;
}

export function parseIrcLine(raw: string): IrcMessage {
  let rest = raw;
  const tags: Record<string, string> = {};
  if (rest.startsWith('@')) {
    const sp = rest.indexOf(' ');
    for (const tag of rest.slice(1, sp).split(';')) {
      const eq = tag.indexOf('=');
      if (eq < 0) tags[tag] = '';
      else tags[tag.slice(0, eq)] = tag.slice(eq + 1);
    }
    rest = rest.slice(sp + 1).trimStart();
  }
  let prefix: string | undefined;
  if (rest.startsWith(':')) {
    const sp = rest.indexOf(' ');
    prefix = rest.slice(1, sp);
    rest = rest.slice(sp + 1).trimStart();
  }
  const params: string[] = [];
  let command = '';
  while (rest.length > 0) {
    if (rest.startsWith(':') && command) {
      params.push(rest.slice(1));
      break;
    }
    const sp = rest.indexOf(' ');
    const word = sp < 0 ? rest : rest.slice(0, sp);
    rest = sp < 0 ? '' : rest.slice(sp + 1).trimStart();
    if (!command) command = word.toUpperCase();
    else params.push(word);
  }
  return { raw, tags, prefix, command, params };
}

export interface IrcConnection {
  /** Current nick (after registration: as the server confirmed it in 001). */
  nick: string;
  /** The 001 message (after connectIrc; undefined from openIrc). */
  welcome: IrcMessage | undefined;
  /** Set by connectIrc with sasl: the account the server logged us into (900). */
  account: string | undefined;
  /** Capabilities the server offered in CAP LS 302 (name -> value); empty without CAP negotiation. */
  capsOffered: Record<string, string>;
  send(line: string): void;
  /**
   * The first incoming message matching `predicate`, including ones received
   * before this call that no earlier waitFor took. A matched message is consumed.
   */
  waitFor(predicate: (m: IrcMessage) => boolean, timeoutMs?: number, what?: string): Promise<IrcMessage>;
  /** Messages not consumed by waitFor yet. */
  pending(): IrcMessage[];
  /** Forget the unconsumed messages. */
  clear(): void;
  /** Every line received so far (for diagnostics; capped). */
  transcript(): string[];
  /** QUIT (if still connected) and wait for the socket to close. */
  close(): Promise<void>;
  readonly closed: boolean;
}

const MAX_BUFFERED = 5000;

/** Open a TCP (or TLS) connection and parse lines; answers PING. No registration. */
export async function openIrc(
  server: Pick<IrcServer, 'host' | 'port' | 'tlsPort'>,
  opts: { tls?: boolean; timeoutMs?: number } = {},
): Promise<IrcConnection> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const socket: Socket = opts.tls
    ? tlsConnect({ host: server.host, port: server.tlsPort, rejectUnauthorized: false, servername: 'localhost' })
    : netConnect({ host: server.host, port: server.port });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`IRC connect to ${server.host}:${opts.tls ? server.tlsPort : server.port} timed out`));
    }, timeoutMs);
    socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });

  const buffered: IrcMessage[] = [];
  const transcript: string[] = [];
  const waiters: Array<{ predicate: (m: IrcMessage) => boolean; resolve: (m: IrcMessage) => void }> = [];
  let closed = false;
  let partial = '';
  const closedPromise = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {
    /* surfaced as 'close'; waitFor reports the transcript */
  });
  socket.on('close', () => {
    closed = true;
  });

  const conn: IrcConnection = {
    nick: '',
    welcome: undefined,
    account: undefined,
    capsOffered: {},
    send(line) {
      if (closed) throw new Error(`IRC connection closed; cannot send: ${line}`);
      socket.write(`${line}\r\n`);
    },
    waitFor(predicate, ms = 10_000, what = 'matching message') {
      const index = buffered.findIndex((m) => predicate(m));
      if (index >= 0) return Promise.resolve(buffered.splice(index, 1)[0]!);
      return new Promise<IrcMessage>((resolve, reject) => {
        const fail = (why: string) => {
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          clearTimeout(timer);
          reject(new Error(`IRC ${conn.nick || '(unregistered)'}: ${what} ${why}; last lines:\n${transcript.slice(-15).join('\n')}`));
        };
        const waiter = {
          predicate,
          resolve: (m: IrcMessage) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => fail(`not received within ${ms} ms`), ms);
        void closedPromise.then(() => {
          // Give lines that arrived with the close a chance to be dispatched first.
          setImmediate(() => {
            if (waiters.includes(waiter)) fail('not received before the connection closed');
          });
        });
        waiters.push(waiter);
      });
    },
    pending: () => [...buffered],
    clear() {
      buffered.length = 0;
    },
    transcript: () => [...transcript],
    async close() {
      if (!closed) {
        try {
          socket.write('QUIT :bye\r\n');
        } catch {
          /* ignore */
        }
        socket.end();
        const timer = setTimeout(() => socket.destroy(), 3_000);
        await closedPromise;
        clearTimeout(timer);
      }
    },
    get closed() {
      return closed;
    },
  };

  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split(/\r?\n/);
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      transcript.push(line);
      if (transcript.length > MAX_BUFFERED) transcript.shift();
      const m = { ...parseIrcLine(line), receivedAt: Date.now() };
      if (m.command === 'PING') {
        socket.write(`PONG :${m.params[0] ?? ''}\r\n`);
        continue;
      }
      const index = waiters.findIndex((w) => {
        try {
          return w.predicate(m);
        } catch {
          return false;
        }
      });
      if (index >= 0) {
        waiters.splice(index, 1)[0]!.resolve(m);
        continue;
      }
      buffered.push(m);
      if (buffered.length > MAX_BUFFERED) buffered.shift();
    }
  });
  return conn;
}

export interface ConnectIrcOptions {
  tls?: boolean;
  /** USER name (default: the nick). */
  user?: string;
  realname?: string;
  /** Authenticate with SASL PLAIN before registration; 904/905 -> rejects. */
  sasl?: { account: string; password: string };
  /** Send `WEBIRC <password> gateway <hostname> <ip>` first. */
  webirc?: { password: string; hostname: string; ip: string };
  /** Capabilities to request (besides sasl). */
  caps?: string[];
  /** Time allowed for 001 (default 15 s; InspIRCd takes ~1 s). */
  timeoutMs?: number;
}

/** Connect and register (CAP negotiation, optional SASL PLAIN); resolves after 001. */
export async function connectIrc(
  server: Pick<IrcServer, 'host' | 'port' | 'tlsPort'>,
  nick: string,
  opts: ConnectIrcOptions = {},
): Promise<IrcConnection> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const conn = await openIrc(server, { tls: opts.tls, timeoutMs });
  try {
    const caps = [...(opts.caps ?? []), ...(opts.sasl ? ['sasl'] : [])];
    if (opts.webirc) conn.send(`WEBIRC ${opts.webirc.password} gateway ${opts.webirc.hostname} ${opts.webirc.ip}`);
    if (caps.length > 0) conn.send('CAP LS 302');
    conn.send(`NICK ${nick}`);
    conn.send(`USER ${opts.user ?? nick} 0 * :${opts.realname ?? nick}`);
    conn.nick = nick;
    if (caps.length > 0) {
      const last = await conn.waitFor((m) => m.command === 'CAP' && m.params[1] === 'LS' && m.params[2] !== '*', timeoutMs, 'CAP LS');
      // CAP LS 302 may span lines: `CAP * LS * :a b` ... `CAP * LS :c d`.
      const lsLines = [...conn.pending().filter((m) => m.command === 'CAP' && m.params[1] === 'LS'), last];
      for (const m of lsLines) {
        for (const cap of (m.params[m.params.length - 1] ?? '').split(' ').filter(Boolean)) {
          const eq = cap.indexOf('=');
          if (eq < 0) conn.capsOffered[cap] = '';
          else conn.capsOffered[cap.slice(0, eq)] = cap.slice(eq + 1);
        }
      }
      conn.send(`CAP REQ :${caps.join(' ')}`);
      const reply = await conn.waitFor(
        (m) => m.command === 'CAP' && (m.params[1] === 'ACK' || m.params[1] === 'NAK'),
        timeoutMs,
        'CAP ACK',
      );
      if (reply.params[1] === 'NAK') throw new Error(`CAP REQ ${caps.join(' ')} refused: ${reply.raw}`);
      if (opts.sasl) {
        conn.send('AUTHENTICATE PLAIN');
        await conn.waitFor((m) => m.command === 'AUTHENTICATE' && m.params[0] === '+', timeoutMs, 'AUTHENTICATE +');
        const { account, password } = opts.sasl;
        conn.send(`AUTHENTICATE ${Buffer.from(`${account}\0${account}\0${password}`).toString('base64')}`);
        const done = await conn.waitFor(
          (m) => ['903', '904', '905', '906', '907', '908'].includes(m.command),
          timeoutMs,
          'SASL result (903/904)',
        );
        if (done.command !== '903') throw new Error(`SASL PLAIN as ${account} failed: ${done.raw}`);
        const loggedIn = conn.pending().find((m) => m.command === '900');
        conn.account = loggedIn?.params[2] ?? account;
      }
      conn.send('CAP END');
    }
    conn.welcome = await conn.waitFor((m) => m.command === '001', timeoutMs, '001 (registration)');
    conn.nick = conn.welcome.params[0] ?? nick;
    return conn;
  } catch (err) {
    await conn.close();
    throw err;
  }
}

/**
 * Register a NickServ account `nick` (Atheme) over a fresh connection, then
 * disconnect. Needs an IrcServer started with services.
 */
export async function registerAccount(
  server: IrcServer,
  nick: string,
  password: string,
  email = `${nick}@example.com`,
): Promise<void> {
  if (!server.services) throw new Error(`registerAccount: ${server.kind} was started without services`);
  const conn = await connectIrc(server, nick);
  try {
    conn.clear();
    conn.send(`PRIVMSG NickServ :REGISTER ${password} ${email}`);
    const reply = await conn.waitFor(
      (m) => m.command === 'NOTICE' && (m.prefix ?? '').toLowerCase().startsWith('nickserv!'),
      10_000,
      'NickServ reply to REGISTER',
    );
    const text = reply.params[1] ?? '';
    if (!/is now registered/i.test(text)) throw new Error(`NickServ REGISTER ${nick} failed: ${text}`);
  } finally {
    await conn.close();
  }
}
