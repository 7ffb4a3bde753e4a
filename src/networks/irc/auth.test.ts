import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../core/errors.js';
import { clientOptions } from './auth.js';
import type { ConnectionProfile } from './settings.js';

const profile: ConnectionProfile = {
  server: 'irc.example.org',
  host: 'irc.example.org',
  port: 6697,
  tls: true,
  nick: 'alice',
  username: 'alice',
  realname: 'Alice Liddell',
  afterConnect: [],
  encodingOut: 'utf-8',
  encodingIn: 'iso-8859-1',
  channelEncodings: new Map(),
  persistent: false,
};

test('clientOptions passes the stored identity and secrets through', () => {
  const options = clientOptions({ ...profile, password: 'pass word', nickservPassword: 'ns', sasl: { mechanism: 'PLAIN', account: 'alice', password: 'sasl pw' } });
  assert.equal(options.nick, 'alice');
  assert.equal(options.gecos, 'Alice Liddell');
  assert.equal(options.password, 'pass word');
  assert.deepEqual(options.account, { account: 'alice', password: 'sasl pw' });
});

test('stored settings IRC cannot carry refuse the connection, naming the field', () => {
  const cases: Array<[Partial<ConnectionProfile>, RegExp]> = [
    [{ password: 'pw\r\nQUIT :x' }, /server password must not contain a line break/],
    [{ nickservPassword: 'pw\nPRIVMSG #c :x' }, /NickServ password must not contain a line break/],
    [{ sasl: { mechanism: 'PLAIN', account: 'alice', password: 'a\0b' } }, /SASL password must not contain a NUL/],
    [{ nick: 'a\r\nQUIT' }, /nickname must not contain a line break/],
    [{ username: 'a b' }, /user name must not contain spaces/],
    [{ realname: 'Alice\rQUIT' }, /real name must not contain a line break/],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => clientOptions({ ...profile, ...change }),
      (err: unknown) => err instanceof GatewayError && err.condition === 'not-acceptable' && message.test(err.message),
      JSON.stringify(change),
    );
  }
});
