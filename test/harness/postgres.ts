// A throw-away PostgreSQL for tests: initdb into a short temp dir, postgres in
// the foreground under a PID we own (127.0.0.1, a free port, trust auth,
// fsync off), a fresh database. stop() = SIGINT (fast shutdown), wait for the
// exit, remove the directory. initdb and postgres refuse to run as root, so as
// root (this machine, CI) both run as the `postgres` system user through
// setpriv, which execs: the PID we hold is the postmaster itself.
// See /work/shared/notes/test-servers.md section 5.
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';
import { startProcess, tempDir, type ServerProcess } from './process.js';

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/DB (trust auth: no password). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const READY = 'database system is ready to accept connections';
const PG_USER = 'postgres';

/** The server binaries: $PONTE_PG_BIN, else the newest /usr/lib/postgresql/<v>/bin. */
function binDir(): string {
  const fromEnv = process.env.PONTE_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) {
    throw new Error(
      `no PostgreSQL server binaries under ${root} (apt-get install postgresql-15), and PONTE_PG_BIN is not set`,
    );
  }
  return join(root, versions[0], 'bin');
}

function systemUser(name: string): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error(`running as root, but there is no '${name}' user to run PostgreSQL as (initdb and postgres refuse root)`);
}

/** [command, args] that run `binary args` as the postgres user when we are root. */
function asServerUser(binary: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [binary, args];
  return ['setpriv', [`--reuid=${PG_USER}`, `--regid=${PG_USER}`, '--init-groups', binary, ...args]];
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', (err) => reject(new Error(`${command} could not be started: ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${[command, ...args].join(' ')} failed (${signal ?? `exit ${code}`}):\n${output}`));
    });
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = binDir();
  const dir = tempDir('pg'); // /tmp/ponte-pg-XXXXXX: short, the socket path stays far below 107 bytes
  const data = join(dir, 'data');
  const sockets = join(dir, 's');
  mkdirSync(sockets);
  if (process.getuid?.() === 0) {
    const { uid, gid } = systemUser(PG_USER);
    chownSync(dir, uid, gid);
    chownSync(sockets, uid, gid);
  }
  const env = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
  let server: ServerProcess | undefined;
  try {
    await run(
      ...asServerUser(join(bin, 'initdb'), [
        '-D', data, '-U', PG_USER, '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions',
      ]),
      env,
    );

    // The free port may be taken between probing and binding: then try another.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const [command, args] = asServerUser(join(bin, 'postgres'), [
        '-D', data, '-p', String(port), '-k', sockets,
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
        '-c', 'max_connections=50',
      ]);
      server = startProcess('postgres', command, args, { env });
      try {
        await server.waitFor(READY, 30_000);
        break;
      } catch (err) {
        await server.stop(2_000);
        const portTaken = /could not bind|Address already in use/i.test(server.output());
        server = undefined;
        if (!portTaken || attempt >= 3) throw err;
      }
    }

    const database = `ponte_test_${process.pid}_${Date.now().toString(36)}`;
    const admin = new pg.Client({ host: '127.0.0.1', port, user: PG_USER, database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }

    const running = server;
    let stopped: Promise<void> | undefined;
    return {
      url: `postgres://${PG_USER}@127.0.0.1:${port}/${database}`,
      port,
      stop: () => (stopped ??= stopServer(running, dir)),
    };
  } catch (err) {
    if (server) await server.stop(5_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** SIGINT = fast shutdown (SIGTERM would wait for clients); SIGKILL if it hangs. */
async function stopServer(server: ServerProcess, dir: string): Promise<void> {
  const child = server.child;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    clearTimeout(timer);
  }
  await server.stop(2_000); // no-op if it exited; else SIGTERM, then SIGKILL
  rmSync(dir, { recursive: true, force: true });
}
