import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { CONFIG_KEYS, envName } from '../../src/config/env.js';

const MINIMAL_ENV = { PONTE_XMPP_SECRET: 's3cret', PONTE_STORE_ENCRYPTION_KEY: '0123456789abcdef' };

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the config to be rejected');
}

function writeTemp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ponte-config-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('configuration', () => {
  test('environment variable names follow the key paths', () => {
    assert.equal(envName(['store', 'encryptionKey']), 'PONTE_STORE_ENCRYPTION_KEY');
    assert.equal(envName(['networks', 'irc', 'domain']), 'PONTE_NETWORKS_IRC_DOMAIN');
    assert.equal(envName(['xmpp', 'reconnectMaxMs']), 'PONTE_XMPP_RECONNECT_MAX_MS');
  });

  test('starts with no file at all: environment and defaults', () => {
    const config = loadConfig({ env: { ...MINIMAL_ENV, PONTE_XMPP_PORT: '5999', PONTE_ADMINS: 'a@x.org, b@y.org', PONTE_NETWORKS_MATRIX_ENABLED: 'false' } });
    assert.equal(config.xmpp.port, 5999);
    assert.equal(config.xmpp.host, '127.0.0.1');
    assert.deepEqual(config.admins, ['a@x.org', 'b@y.org']);
    assert.equal(config.networks.matrix.enabled, false);
    assert.equal(config.networks.irc.domain, 'irc.localhost');
    assert.equal(config.http.host, '127.0.0.1', 'HTTP is loopback by default');
    assert.equal(config.store.url, undefined, 'embedded store by default');
  });

  test('the environment wins over the file', () => {
    const file = writeTemp('c.yaml', 'xmpp:\n  port: 1234\n  secret: fromfile\nstore:\n  encryptionKey: fromfile-fromfile\n');
    const config = loadConfig({ file, env: { PONTE_XMPP_PORT: '4321' } });
    assert.equal(config.xmpp.port, 4321);
    assert.equal(config.xmpp.secret, 'fromfile');
  });

  test('one line per problem, each naming the key', () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { PONTE_XMPP_PORT: 'abc', PONTE_HTTP_PORT: '70000', PONTE_STORE_ENCRYPTION_KEY: 'short', PONTE_LOG_LEVEL: 'loud' } }),
    );
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(problems[0]!, /^xmpp\.port \(from PONTE_XMPP_PORT\): .*number/);
    assert.match(problems.find((p) => p.startsWith('xmpp.secret'))!, /is required.*PONTE_XMPP_SECRET/);
    assert.match(problems.find((p) => p.startsWith('store.encryptionKey'))!, /at least 16 characters/);
    assert.match(problems.find((p) => p.startsWith('http.port'))!, /65535/);
    assert.match(problems.find((p) => p.startsWith('log.level'))!, /info/);
  });

  test('unknown keys and bad YAML are reported', () => {
    const typo = writeTemp('t.yaml', 'xmpp:\n  secert: x\n');
    assert.ok(problemsOf(() => loadConfig({ file: typo, env: MINIMAL_ENV })).includes('xmpp.secert: unknown key'));
    const broken = writeTemp('b.yaml', 'xmpp: [unclosed\n');
    assert.match(problemsOf(() => loadConfig({ file: broken, env: MINIMAL_ENV }))[0]!, /not valid YAML/);
    assert.match(problemsOf(() => loadConfig({ file: '/nonexistent/ponte.yaml' }))[0]!, /cannot read the config file: ENOENT/);
  });

  test('the annotated example is valid and documents every key with its variable', () => {
    const text = readFileSync('config/ponte.example.yaml', 'utf8');
    const config = loadConfig({ file: 'config/ponte.example.yaml', env: {} });
    assert.equal(config.xmpp.port, 5347);
    const parsed = parseYaml(text) as Record<string, unknown>;
    assert.ok(parsed);
    for (const key of CONFIG_KEYS) {
      assert.ok(text.includes(key.env), `config/ponte.example.yaml does not mention ${key.env}`);
      assert.ok(text.includes(`${key.path[key.path.length - 1]}:`), `config/ponte.example.yaml does not show the key ${key.path.join('.')}`);
    }
  });

  test('the README lists every environment variable', () => {
    const readme = readFileSync('README.md', 'utf8');
    for (const key of CONFIG_KEYS) assert.ok(readme.includes(key.env), `README.md does not document ${key.env}`);
  });
});

test('an empty variable clears a key from the file, so its default applies', () => {
  const file = writeTemp('u.yaml', 'store:\n  url: postgres://x@127.0.0.1/db\n  encryptionKey: 0123456789abcdef\nxmpp:\n  secret: s\n');
  assert.equal(loadConfig({ file, env: {} }).store.url, 'postgres://x@127.0.0.1/db');
  assert.equal(loadConfig({ file, env: { PONTE_STORE_URL: '' } }).store.url, undefined);
});
