// The README's first command, `npm run demo`, run the way a newcomer runs it
// (with --exit-when-ready so it stops once everything is up).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('npm run demo starts Prosody, ngircd and ponte and says how to log in', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ponte-demo-'));
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PONTE_STORE_DATA_DIR: dataDir, PONTE_LOG_FORMAT: 'json' };
  const run = spawnSync('npm', ['run', '--silent', 'demo', '--', '--exit-when-ready'], { env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /ponte is running\./);
  assert.match(run.stdout, /log in as\s+demo@localhost\s+password: [0-9a-f]{12}/);
  assert.match(run.stdout, /XMPP server\s+127\.0\.0\.1, port \d+/);
  assert.match(run.stdout, /gateways\s+irc\.localhost, matrix\.localhost/);
  assert.match(run.stdout, /join\s+#demo%127\.0\.0\.1@irc\.localhost/);
  assert.match(run.stdout, /demo stopped/);
});
