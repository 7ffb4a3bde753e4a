import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../../core/errors.js';
import type { StoredAccount } from '../types.js';
import { applySettings, channelSettingsOf, checkAfterConnect, connectionProfile, isPersistent, settingsForm, type IrcNetworkConfig } from './settings.js';

const config: IrcNetworkConfig = { servers: ['plain.example.org/plain', 'tls.example.org:7000'], domain: 'irc.example.org', webirc: ['tls.example.org=wpw'] };
const server = (id: string) => ({ kind: 'server' as const, address: { kind: 'server' as const, id } });
const room = (id: string) => ({ kind: 'room' as const, address: { kind: 'room' as const, id } });
const row = (accountKey: string, stored: { credentials?: Record<string, unknown>; settings?: Record<string, unknown> }): StoredAccount => ({
  accountKey,
  credentials: stored.credentials ?? {},
  settings: stored.settings ?? {},
});
const refused = (fn: () => unknown, condition: string, text?: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof GatewayError && err.condition === condition && (!text || text.test(err.message)));

test('secrets: empty keeps, "-" removes, a value replaces; never in the form', () => {
  const first = applySettings(config, server('tls.example.org'), { password: 'pw1', nickserv_password: 'ns' }, undefined);
  assert.deepEqual(first.credentials, { password: 'pw1', nickservPassword: 'ns' });
  const stored = row('tls.example.org', first);
  const kept = applySettings(config, server('tls.example.org'), { password: '', nickserv_password: '-' }, stored);
  assert.deepEqual(kept.credentials, { password: 'pw1' });
  const form = settingsForm(config, server('tls.example.org'), stored);
  const field = form.fields.find((f) => f.var === 'password')!;
  assert.equal(field.value, undefined);
  assert.match(field.desc!, /One is stored/);
});

test('TLS off only where the admin allows it; a user may turn it on anywhere', () => {
  refused(() => applySettings(config, server('tls.example.org'), { tls: 'false' }, undefined), 'not-allowed');
  refused(() => applySettings(config, server('unlisted.example.org'), { tls: 'false' }, undefined), 'not-allowed');
  assert.equal(applySettings(config, server('plain.example.org'), { tls: 'false' }, undefined).settings.tls, undefined, 'same as listed: nothing stored');
  assert.equal(applySettings(config, server('plain.example.org'), { tls: 'true' }, undefined).settings.tls, true);
  assert.equal(applySettings({ ...config, allowPlaintext: true }, server('tls.example.org'), { tls: 'false' }, undefined).settings.tls, false);
});

test('the profile: endpoint with the user\'s TLS and port, nick precedence, SASL, WEBIRC, throttle', () => {
  const accounts = [
    row('', { settings: { nick: 'dflt', realname: 'Default' } }),
    row('plain.example.org', { settings: { tls: true, saslMechanism: 'PLAIN', saslAccount: 'acct', throttle: { burst: 5, rate: 1 } }, credentials: { saslPassword: 'spw' } }),
  ];
  const plain = connectionProfile({ config, accounts, server: 'plain.example.org', requestedNick: 'joinnick' });
  assert.deepEqual([plain.host, plain.port, plain.tls], ['plain.example.org', 6697, true]);
  assert.equal(plain.nick, 'dflt');
  assert.equal(plain.realname, 'Default');
  assert.deepEqual(plain.sasl, { mechanism: 'PLAIN', account: 'acct', password: 'spw' });
  assert.deepEqual(plain.throttle, { burst: 5, rate: 1 });
  assert.equal(plain.webirc, undefined);
  const tls = connectionProfile({ config, accounts: [], server: 'tls.example.org', requestedNick: 'Join|Nick', webircIdentity: { hostname: 'h.irc.example.org', address: 'fd70::1' } });
  assert.deepEqual([tls.port, tls.tls, tls.nick, tls.username], [7000, true, 'Join|Nick', 'joinnick']);
  assert.deepEqual(tls.webirc, { password: 'wpw', username: 'ponte', hostname: 'h.irc.example.org', address: 'fd70::1' });
});

test('channel settings live in the server row: key sealed, flags and encodings in settings', () => {
  const saved = applySettings(config, room('#Chan%tls.example.org'), { key: 'k1', persistent: 'true', encoding_out: 'iso-8859-1' }, undefined);
  assert.deepEqual(saved.credentials, { channelKeys: { '#chan': 'k1' } });
  assert.deepEqual(saved.settings, { channels: { '#chan': { encodingOut: 'iso-8859-1', persistent: true } } });
  const accounts = [row('tls.example.org', saved)];
  assert.deepEqual(channelSettingsOf(accounts, '#chan%tls.example.org'), { encodingOut: 'iso-8859-1', persistent: true, key: 'k1' });
  assert.equal(isPersistent(accounts, 'tls.example.org', '#chan'), true);
  assert.equal(isPersistent(accounts, 'tls.example.org'), false);
  refused(() => applySettings(config, room('#chan%tls.example.org'), { key: 'a b' }, undefined), 'not-acceptable');
  const profile = connectionProfile({ config, accounts, server: 'tls.example.org', requestedNick: 'n' });
  assert.deepEqual(profile.channelEncodings.get('#chan'), { out: 'iso-8859-1', in: 'iso-8859-1' });
});

test('after-connect commands: one IRC line each, bounded', () => {
  assert.deepEqual(checkAfterConnect('MODE me +i\n\n  PRIVMSG x :hi  '), ['MODE me +i', 'PRIVMSG x :hi']);
  refused(() => checkAfterConnect(':prefix NICK x'), 'not-acceptable');
  refused(() => checkAfterConnect(`PRIVMSG x :${'a'.repeat(600)}`), 'not-acceptable');
  refused(() => checkAfterConnect(Array.from({ length: 21 }, () => 'PING x').join('\n')), 'not-acceptable');
});

test('SASL set-ups that cannot work are refused', () => {
  refused(() => applySettings(config, server('tls.example.org'), { sasl_mechanism: 'PLAIN', sasl_account: 'a' }, undefined), 'not-acceptable', /password/);
  refused(() => applySettings(config, server('tls.example.org'), { sasl_mechanism: 'EXTERNAL' }, undefined), 'not-acceptable', /certificate/);
  refused(() => applySettings(config, server('tls.example.org'), { sasl_mechanism: 'SCRAM' }, undefined), 'not-acceptable');
  refused(() => applySettings(config, server('tls.example.org'), { client_certificate: 'not a pem' }, undefined), 'not-acceptable');
});
