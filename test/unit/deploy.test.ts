// docker-compose.yml, the deploy configs and the README snippets must stay the
// ones the end-to-end tests run with.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { PROSODY_CONFIG } from '../harness/prosody.js';
import { EJABBERD_TEMPLATE, renderEjabberdConfig } from '../harness/ejabberd.js';
import { PONTE_DEPLOY_CONFIG } from '../harness/ponte.js';

interface ComposeService {
  volumes?: string[];
  environment?: Record<string, string>;
}
const compose = parseYaml(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, ComposeService> };

function mountedFile(service: string, target: string): string {
  const volume = compose.services[service]?.volumes?.find((v) => v.split(':')[1] === target);
  assert.ok(volume, `${service} does not mount ${target}`);
  return resolve(volume.split(':')[0]!);
}

/** The fenced code blocks of one language in a README section. */
function readmeBlocks(language: string): string[] {
  const readme = readFileSync('README.md', 'utf8');
  return [...readme.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

describe('deployment files', () => {
  test('docker-compose mounts the Prosody and ponte configs the e2e tests use', () => {
    assert.equal(mountedFile('prosody', '/etc/prosody/prosody.cfg.lua'), PROSODY_CONFIG);
    assert.equal(mountedFile('ponte', '/etc/ponte/ponte.yaml'), resolve(PONTE_DEPLOY_CONFIG));
  });

  test('the mounted ponte config is valid and agrees with the compose services', () => {
    const config = loadConfig({ file: PONTE_DEPLOY_CONFIG, env: {} });
    const environment = compose.services.ponte?.environment ?? {};
    const secret = environment.PONTE_XMPP_SECRET ?? config.xmpp.secret;
    assert.equal(compose.services.prosody?.environment?.PONTE_COMPONENT_SECRET, secret, 'Prosody and ponte share the component secret');
    assert.equal(config.xmpp.host, 'prosody');
    const pg = compose.services.postgres?.environment ?? {};
    assert.equal(config.store.url, `postgres://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`);
    assert.equal(config.http.host, '0.0.0.0', 'reachable from outside the container');
  });

  test("the README's ejabberd snippets stand as they are in the config the tests run", () => {
    const rendered = renderEjabberdConfig(readFileSync(EJABBERD_TEMPLATE, 'utf8'), {
      domain: 'localhost',
      ip: '127.0.0.1',
      c2sPort: 5222,
      components: [
        { domain: 'irc.localhost', port: 5347 },
        { domain: 'matrix.localhost', port: 5348 },
      ],
      secret: 'changeme',
    });
    const blocks = readmeBlocks('yaml');
    assert.equal(blocks.length, 2);
    const listeners = blocks[0]!.split('\n').slice(1).join('\n'); // without the `listen:` line
    assert.ok(rendered.includes(listeners), `listener blocks not found in the rendered template:\n${listeners}`);
    assert.ok(rendered.includes(blocks[1]!), `mod_privilege block not found:\n${blocks[1]}`);
  });

  test('the README has exactly one Prosody snippet (run for real in deploy.e2e.test.ts)', () => {
    const [snippet, ...rest] = readmeBlocks('lua');
    assert.equal(rest.length, 0);
    assert.match(snippet!, /Component "irc\.localhost"/);
    assert.match(snippet!, /Component "matrix\.localhost"/);
  });
});
