// Starting and stopping throw-away server processes for tests.
// Each server runs in the foreground under a PID we own; readiness is a line
// on its output (or a file), never a sleep. Stop sends SIGTERM, then SIGKILL
// after a grace period, and waits for the exit, so a test leaves nothing behind.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, createWriteStream, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves when `pattern` appears in the output (or in `logFile`, if given). */
  waitFor(pattern: RegExp | string, timeoutMs?: number, logFile?: string): Promise<void>;
  stop(timeoutMs?: number): Promise<number | null>;
}

const running = new Set<ServerProcess>();

/** A short-named temporary directory (Unix socket paths are limited to ~107 bytes). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ponte-${prefix}-`));
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { logPath?: string } = {},
): ServerProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let buffer = '';
  const log = options.logPath ? createWriteStream(options.logPath) : null;
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    if (buffer.length > 1_000_000) buffer = buffer.slice(-500_000);
    log?.write(chunk);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null);
      log?.end();
      resolve(exitCode);
    });
    child.once('error', (err) => {
      buffer += `\n[spawn error] ${err.message}\n`;
      exitCode = 127;
      resolve(127);
    });
  });

  const proc: ServerProcess = {
    name,
    child,
    output: () => buffer,
    async waitFor(pattern, timeoutMs = 20_000, logFile) {
      const matches = () => {
        const text = logFile ? (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') : buffer;
        return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
      };
      const deadline = Date.now() + timeoutMs;
      while (!matches()) {
        if (exitCode !== undefined) {
          throw new Error(`${name} exited (code ${exitCode}) before it was ready; output:\n${buffer.slice(-4000)}`);
        }
        if (Date.now() > deadline) {
          throw new Error(`${name} not ready after ${timeoutMs} ms (waiting for ${String(pattern)}); output:\n${buffer.slice(-4000)}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop(timeoutMs = 10_000) {
      running.delete(proc);
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  running.add(proc);
  return proc;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Wait until every string in `ready` has appeared in the output (or in
 * `logFile`). If `failure` shows up first (e.g. "address already in use"), or
 * the process exits with it in its output, throw at once an Error whose `code`
 * is 'EADDRINUSE', so a caller can retry on other ports.
 */
export async function waitReady(
  proc: ServerProcess,
  ready: string[],
  failure: RegExp,
  timeoutMs = 20_000,
  logFile?: string,
): Promise<void> {
  const all = ready.map((text) => `(?=[\\s\\S]*${escapeRegExp(text)})`).join('');
  const pattern = new RegExp(`^${all}|${failure.source}`, failure.flags.replace('g', ''));
  const text = () => proc.output() + (logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const fail = (cause?: unknown) => {
    const out = text();
    const match = failure.exec(out);
    if (!match) return null;
    const err = new Error(`${proc.name} could not bind: ${match[0]}\n${out.slice(-3000)}`, { cause }) as Error & { code: string };
    err.code = 'EADDRINUSE';
    return err;
  };
  try {
    await proc.waitFor(pattern, timeoutMs, logFile);
  } catch (err) {
    throw fail(err) ?? err;
  }
  const err = fail();
  if (err) throw err;
}

/** Kill whatever a crashed test left running, so the runner can exit. */
function killAll() {
  for (const proc of running) proc.child.kill('SIGKILL');
}
process.once('exit', killAll);

const removeAtExit = new Set<string>();

/**
 * Delete `dir` (recursively) when this process exits with code 0. Kept after a
 * failure, or always with PONTE_KEEP_TEST_DIRS=1, so logs can be read.
 */
export function removeOnExit(dir: string): void {
  removeAtExit.add(dir);
}
process.once('exit', (code) => {
  if (code !== 0 || process.env.PONTE_KEEP_TEST_DIRS === '1') return;
  for (const dir of removeAtExit) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});
