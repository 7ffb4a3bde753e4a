// The README's Prosody snippet, run for real: Prosody with the component and
// privilege entries exactly as the README prints them, and ponte answering
// through it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROSODY_CONFIG, startProsody } from '../harness/prosody.js';
import { connectClient, xml } from '../harness/xmpp-client.js';
import { startPonte, type TestPonte } from '../harness/ponte.js';
import type { XmppServer } from '../harness/xmpp-server.js';

const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
let server: XmppServer | undefined;
let gateway: TestPonte | undefined;

after(async () => {
  await gateway?.stop();
  await server?.stop();
});

test("ponte works behind Prosody configured with the README's snippet", async () => {
  const readme = readFileSync('README.md', 'utf8');
  const snippet = /```lua\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(snippet, 'no Prosody snippet in the README');
  // The general part of the deploy config (ports, storage, modules), then the snippet instead of its own entries.
  const base = readFileSync(PROSODY_CONFIG, 'utf8');
  const cut = base.indexOf('-- Component domains:');
  assert.ok(cut > 0, 'marker not found in the deploy config');
  const file = join(mkdtempSync(join(tmpdir(), 'ponte-readme-')), 'prosody.cfg.lua');
  writeFileSync(file, `${base.slice(0, cut)}\n${snippet}`);

  server = await startProsody({ configFile: file, secret: 'changeme' });
  await server.registerUser('alice', 'alicepw');
  gateway = await startPonte(server);
  await gateway.ponte.waitOnline(20_000);
  const client = await connectClient(server, 'alice', 'alicepw');
  try {
    for (const [domain, type] of [
      ['irc.localhost', 'irc'],
      ['matrix.localhost', 'matrix'],
    ]) {
      const result = await client.iq(xml('iq', { type: 'get', to: domain }, xml('query', { xmlns: DISCO_INFO })));
      assert.equal(result.getChild('query', DISCO_INFO)?.getChild('identity')?.attrs.type, type);
    }
  } finally {
    await client.stop();
  }
});
