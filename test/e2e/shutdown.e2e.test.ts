// The ponte command as an administrator runs it: a real process with its
// configuration from the environment only, up behind Prosody, then SIGTERM:
// it shuts down in the documented order and exits 0.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/ports.js';
import { startProsody } from '../harness/prosody.js';
import type { XmppServer } from '../harness/xmpp-server.js';

let server: XmppServer | undefined;
after(async () => {
  await server?.stop();
});

test('SIGTERM: HTTP, sessions, presences, components, store, in that order, exit 0', async () => {
  server = await startProsody();
  const httpPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      PONTE_XMPP_PORT: String(server.componentPort),
      PONTE_XMPP_SECRET: server.componentSecret,
      PONTE_STORE_DATA_DIR: join(mkdtempSync(join(tmpdir(), 'ponte-shutdown-')), 'pglite'),
      PONTE_STORE_ENCRYPTION_KEY: 'shutdown-test-key-0123',
      PONTE_HTTP_PORT: String(httpPort),
      PONTE_LOG_FORMAT: 'json',
      PONTE_SHUTDOWN_MESSAGE: 'maintenance window',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  try {
    const deadline = Date.now() + 60_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = await fetch(`http://127.0.0.1:${httpPort}/health`).then((r) => r.status, () => 0);
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, `ponte did not become ready:\n${output}`);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 20_000))]);
  if (code === 'timeout') child.kill('SIGKILL');
  assert.equal(code, 0, output);

  const messages = output
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string; reason?: string; signal?: string });
  const order = ['signal received', 'shutting down', 'HTTP closed', 'sessions closed', 'presences withdrawn', 'components closed', 'store closed', 'stopped'];
  const seen = messages.map((m) => m.msg).filter((msg) => order.includes(msg));
  assert.deepEqual(seen, order, output);
  assert.equal(messages.find((m) => m.msg === 'signal received')?.signal, 'SIGTERM');
  assert.equal(messages.find((m) => m.msg === 'shutting down')?.reason, 'maintenance window');
  // The HTTP server is really gone.
  const after = await fetch(`http://127.0.0.1:${httpPort}/health`).then(() => 'answered', () => 'refused');
  assert.equal(after, 'refused');
});
