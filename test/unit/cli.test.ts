import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

function ponte(args: string[], env: Record<string, string>) {
  // A clean environment: nothing from the developer's shell leaks in.
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the ponte command', () => {
  test('--check-config accepts a valid configuration without starting', () => {
    const run = ponte(['--check-config', '--config', 'config/ponte.example.yaml'], {});
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /config OK \(config\/ponte\.example\.yaml\)/);
  });

  test('an invalid configuration exits non-zero with one line per problem', () => {
    const run = ponte(['--check-config'], { PONTE_XMPP_PORT: 'x', PONTE_STORE_ENCRYPTION_KEY: 'short' });
    assert.equal(run.code, 1);
    const lines = run.stderr.trim().split('\n');
    assert.deepEqual(
      lines.map((line) => line.split(':')[1]?.trim().split(' ')[0]),
      ['xmpp.port', 'xmpp.secret', 'store.encryptionKey'],
      run.stderr,
    );
    for (const line of lines) assert.match(line, /^config: /);
  });

  test('an invalid configuration also stops a real start', () => {
    const run = ponte([], {});
    assert.equal(run.code, 1);
    assert.match(run.stderr, /config: xmpp\.secret: is required/);
  });

  test('unknown flags are refused with the usage', () => {
    const run = ponte(['--frobnicate'], {});
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Usage: ponte/);
  });
});
