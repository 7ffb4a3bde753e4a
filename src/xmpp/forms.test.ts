// XEP-0004 forms: what buildForm writes (compared as elements) and what
// parseSubmittedForm accepts and refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../core/errors.js';
import type { FormField } from '../networks/types.js';
import { buildForm, formTypeOf, parseSubmittedForm, type DataFormField } from './forms.js';
import { xml, type Element } from './stanza.js';

const X = 'jabber:x:data';

function submit(fields: Record<string, string | string[]>, type = 'submit'): Element {
  return xml(
    'x',
    { xmlns: X, type },
    ...Object.entries(fields).map(([name, value]) =>
      xml('field', { var: name }, ...(Array.isArray(value) ? value : [value]).map((v) => xml('value', {}, v))),
    ),
  );
}

function refusal(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err;
  }
  assert.fail('expected a GatewayError');
}

const REGISTRATION: FormField[] = [
  { var: 'username', label: 'Username', type: 'text-single', required: true, desc: 'Your login' },
  { var: 'password', label: 'Password', type: 'text-private', required: true },
  { var: 'tls', label: 'Use TLS', type: 'boolean', value: 'true' },
  {
    var: 'mode',
    label: 'Mode',
    type: 'list-single',
    value: 'a',
    options: [
      { label: 'Mode A', value: 'a' },
      { label: 'Mode B', value: 'b' },
    ],
  },
  { var: 'note', label: 'Read this', type: 'fixed', value: 'Passwords are stored encrypted.' },
];

test('builds a form from the contract fields', () => {
  const built = buildForm({ type: 'form', title: 'Register', instructions: 'Line one\nLine two', formType: 'jabber:iq:register', fields: REGISTRATION });
  const expected = xml(
    'x',
    { xmlns: X, type: 'form' },
    xml('title', {}, 'Register'),
    xml('instructions', {}, 'Line one'),
    xml('instructions', {}, 'Line two'),
    xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, 'jabber:iq:register')),
    xml('field', { type: 'text-single', var: 'username', label: 'Username' }, xml('desc', {}, 'Your login'), xml('required')),
    xml('field', { type: 'text-private', var: 'password', label: 'Password' }, xml('required')),
    xml('field', { type: 'boolean', var: 'tls', label: 'Use TLS' }, xml('value', {}, 'true')),
    xml(
      'field',
      { type: 'list-single', var: 'mode', label: 'Mode' },
      xml('value', {}, 'a'),
      xml('option', { label: 'Mode A' }, xml('value', {}, 'a')),
      xml('option', { label: 'Mode B' }, xml('value', {}, 'b')),
    ),
    xml('field', { type: 'fixed', var: 'note', label: 'Read this' }, xml('value', {}, 'Passwords are stored encrypted.')),
  );
  assert.deepEqual(built, expected);
  assert.equal(formTypeOf(built), 'jabber:iq:register');
});

test('builds a result with multi-valued fields', () => {
  const fields: DataFormField[] = [
    { var: 'rooms', label: 'Rooms', type: 'jid-multi', values: ['#a@gw', '#b@gw'] },
    { var: 'lines', label: 'Lines', type: 'text-multi', value: 'one\ntwo' },
  ];
  assert.deepEqual(
    buildForm({ type: 'result', fields }),
    xml(
      'x',
      { xmlns: X, type: 'result' },
      xml('field', { type: 'jid-multi', var: 'rooms', label: 'Rooms' }, xml('value', {}, '#a@gw'), xml('value', {}, '#b@gw')),
      xml('field', { type: 'text-multi', var: 'lines', label: 'Lines' }, xml('value', {}, 'one'), xml('value', {}, 'two')),
    ),
  );
});

test('parses a submitted form into values', () => {
  const values = parseSubmittedForm(
    submit({ FORM_TYPE: 'jabber:iq:register', username: 'alice', password: 'p w', tls: '0', mode: 'b', unknown: 'ignored' }),
    REGISTRATION,
  );
  assert.deepEqual(values, { username: 'alice', password: 'p w', tls: 'false', mode: 'b' });
});

test('booleans are normalised; absent optional fields stay absent', () => {
  assert.deepEqual(parseSubmittedForm(submit({ username: 'a', password: 'b', tls: '1' }), REGISTRATION), {
    username: 'a',
    password: 'b',
    tls: 'true',
  });
  const bad = refusal(() => parseSubmittedForm(submit({ username: 'a', password: 'b', tls: 'maybe' }), REGISTRATION));
  assert.equal(bad.condition, 'bad-request');
  assert.match(bad.message, /Use TLS/);
});

test('a missing or empty required field is a bad-request naming it', () => {
  const missing = refusal(() => parseSubmittedForm(submit({ username: 'alice' }), REGISTRATION));
  assert.equal(missing.condition, 'bad-request');
  assert.match(missing.message, /"Password" is required/);
  const empty = refusal(() => parseSubmittedForm(submit({ username: '', password: 'x' }), REGISTRATION));
  assert.match(empty.message, /"Username" is required/);
});

test('anything but a submitted data form is a bad-request', () => {
  assert.match(refusal(() => parseSubmittedForm(undefined, REGISTRATION)).message, /data form/);
  assert.match(refusal(() => parseSubmittedForm(submit({ username: 'a' }, 'form'), REGISTRATION)).message, /type "submit"/);
  assert.match(refusal(() => parseSubmittedForm(xml('x', { xmlns: 'other', type: 'submit' }), REGISTRATION)).message, /data form/);
});

test('values that do not fit their field are refused', () => {
  const choice = refusal(() => parseSubmittedForm(submit({ username: 'a', password: 'b', mode: 'c' }), REGISTRATION));
  assert.match(choice.message, /not one of the choices of "Mode"/);
  const newline = refusal(() => parseSubmittedForm(submit({ username: 'a\r\nQUIT', password: 'b' }), REGISTRATION));
  assert.match(newline.message, /single line/);
  const twice = refusal(() => parseSubmittedForm(submit({ username: ['a', 'b'], password: 'b' }), REGISTRATION));
  assert.match(twice.message, /single value/);
  const jid = refusal(() => parseSubmittedForm(submit({ who: 'not a jid@@' }), [{ var: 'who', type: 'jid-single', label: 'Who' }]));
  assert.match(jid.message, /not a valid XMPP address/);
  const huge = refusal(() => parseSubmittedForm(submit({ username: 'x'.repeat(20_000), password: 'b' }), REGISTRATION));
  assert.match(huge.message, /too long/);
});

test('multi-valued fields are joined with newlines', () => {
  const fields: DataFormField[] = [{ var: 'body', type: 'text-multi', label: 'Body', required: true }];
  assert.deepEqual(parseSubmittedForm(submit({ body: ['line 1', 'line 2'] }), fields), { body: 'line 1\nline 2' });
});
