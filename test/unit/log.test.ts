import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';

test('secrets are redacted at any depth we log, the rest is kept', () => {
  let out = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const log = createLogger({ level: 'info', format: 'json', destination });
  log.info({ password: 'pw-1', user: 'alice' }, 'top level');
  log.info({ config: { xmpp: { secret: 'sec-2', host: 'h' }, store: { encryptionKey: 'key-3' } } }, 'nested');
  log.info({ account: { credentials: { token: 'tok-4' }, accessToken: 'tok-5' } }, 'credentials');
  for (const secret of ['pw-1', 'sec-2', 'key-3', 'tok-4', 'tok-5']) assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
  const lines = out.trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines.length, 3);
  assert.equal(lines[0].user, 'alice');
  assert.equal(lines[0].password, '[redacted]');
  assert.equal(lines[1].config.xmpp.host, 'h');
  assert.equal(lines[1].config.xmpp.secret, '[redacted]');
});
