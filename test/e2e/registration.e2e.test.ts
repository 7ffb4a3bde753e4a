// In-band registration (XEP-0077) with a data form, unregistration that
// deletes the user's data for the network (XEP-0100 §4.3), and
// jabber:iq:gateway (XEP-0100 §6.3), through real Prosody and ejabberd.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { TEST_PASSWORD } from '../networks/test-network.js';
import { xml, type XmlElement } from '../harness/xmpp-client.js';

const REGISTER = 'jabber:iq:register';
const GATEWAY = 'jabber:iq:gateway';
const DATA = 'jabber:x:data';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const ROSTER = 'jabber:iq:roster';

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`not true within ${timeoutMs} ms: ${check.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The item of a roster push (RFC 6121 §2.1.6), if the stanza is one. */
function rosterPush(stanza: XmlElement): XmlElement | undefined {
  if (!stanza.is('iq') || stanza.attrs.type !== 'set') return undefined;
  return stanza.getChild('query', ROSTER)?.getChild('item');
}

const getForm = () => xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: REGISTER }));
const submit = (values: Record<string, string>) =>
  xml(
    'iq',
    { type: 'set', to: TEST_DOMAIN },
    xml(
      'query',
      { xmlns: REGISTER },
      xml(
        'x',
        { xmlns: DATA, type: 'submit' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, REGISTER)),
        ...Object.entries(values).map(([name, value]) => xml('field', { var: name }, xml('value', {}, value))),
      ),
    ),
  );
const remove = (...extra: XmlElement[]) => xml('iq', { type: 'set', to: TEST_DOMAIN }, xml('query', { xmlns: REGISTER }, xml('remove'), ...extra));

function errorOf(reply: XmlElement): { condition: string; text: string } {
  assert.equal(reply.attrs.type, 'error', reply.toString());
  const error = reply.getChild('error')!;
  const condition = error.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')!.name;
  return { condition, text: error.getChildText('text', STANZAS) ?? '' };
}

function formFields(query: XmlElement): Map<string, XmlElement> {
  const form = query.getChild('x', DATA);
  assert.ok(form, query.toString());
  assert.equal(form.attrs.type, 'form');
  return new Map(form.getChildren('field').map((f) => [f.attrs.var!, f]));
}

for (const [kind, start] of SERVERS) {
  describe(`registration through ${kind}`, () => {
    let t: TestGateway;
    let minimal: TestGateway;

    before(async () => {
      // The second network asks for nothing at registration and has no jabber:iq:gateway.
      [t, minimal] = await Promise.all([startTestGateway(start), startTestGateway(start, { minimal: true })]);
    });
    after(async () => {
      await Promise.all([t?.stop(), minimal?.stop()]);
    });

    async function accountsOf(gateway: TestGateway, jid: string) {
      const { store } = gateway.gateway.ponte;
      const user = await store.users.find(jid);
      return user ? (await store.accounts.listForUser(user.id)).filter((a) => a.network === 'test') : [];
    }

    test('the form, a wrong password, a missing field, then a registration', async () => {
      const alice = await t.client('alice');
      const first = (await alice.iq(getForm())).getChild('query', REGISTER)!;
      assert.equal(first.getChild('registered'), undefined);
      assert.match(first.getChildText('instructions') ?? '', /username and password/);
      // Legacy fields for clients without data forms.
      assert.ok(first.getChild('username') && first.getChild('password'));
      const fields = formFields(first);
      assert.equal(fields.get('FORM_TYPE')?.getChildText('value'), REGISTER);
      assert.equal(fields.get('username')?.attrs.type, 'text-single');
      assert.ok(fields.get('username')?.getChild('required'));
      assert.equal(fields.get('password')?.attrs.type, 'text-private');

      const wrong = errorOf(await alice.iqRaw(submit({ username: 'alice-t', password: 'nope' })));
      assert.equal(wrong.condition, 'not-authorized');
      assert.match(wrong.text, /wrong password/);
      const missing = errorOf(await alice.iqRaw(submit({ username: 'alice-t' })));
      assert.equal(missing.condition, 'bad-request');
      assert.match(missing.text, /"Password" is required/);
      assert.deepEqual(await accountsOf(t, alice.bareJid), []);

      await alice.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
      await alice.iq(submit({ username: 'alice-t', password: TEST_PASSWORD }));
      const [account] = await accountsOf(t, alice.bareJid);
      assert.deepEqual(account?.credentials, { username: 'alice-t', password: TEST_PASSWORD });
      // XEP-0100 §4.1: the gateway then joins the roster, pushed (XEP-0356) or asking for a subscription.
      await alice.waitFor(
        (s) => rosterPush(s)?.attrs.jid === TEST_DOMAIN || (s.is('presence') && s.attrs.from === TEST_DOMAIN && s.attrs.type === 'subscribe'),
        5000,
      );

      // Registered: <registered/>, the current username, never the password, which becomes optional.
      const again = (await alice.iq(getForm())).getChild('query', REGISTER)!;
      assert.ok(again.getChild('registered'));
      assert.equal(again.getChildText('username'), 'alice-t');
      const current = formFields(again);
      assert.equal(current.get('username')?.getChildText('value'), 'alice-t');
      assert.equal(current.get('password')?.getChild('value'), undefined);
      assert.equal(current.get('password')?.getChild('required'), undefined);
      // An empty password keeps the stored one.
      await alice.iq(submit({ username: 'alice-2', password: '' }));
      assert.deepEqual((await accountsOf(t, alice.bareJid))[0]?.credentials, { username: 'alice-2', password: TEST_PASSWORD });
    });

    test('a legacy registration without a data form', async () => {
      const carol = await t.client('carol');
      await carol.iq(
        xml('iq', { type: 'set', to: TEST_DOMAIN }, xml('query', { xmlns: REGISTER }, xml('username', {}, 'carol-t'), xml('password', {}, TEST_PASSWORD))),
      );
      assert.equal((await accountsOf(t, carol.bareJid))[0]?.credentials.username, 'carol-t');
    });

    test('unregistering closes the session, deletes the data and says goodbye', async () => {
      const bob = await t.client('bob');
      const { store } = t.gateway.ponte;
      await bob.iq(submit({ username: 'bob-t', password: TEST_PASSWORD }));
      // The gateway in bob's roster, as after a client's registration flow: bob asks for its presence.
      await bob.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
      await bob.send(xml('presence', { to: TEST_DOMAIN, type: 'subscribe' }));
      await bob.waitFor((s) => rosterPush(s)?.attrs.jid === TEST_DOMAIN, 5000);
      await waitUntil(async () => (await store.roster.list(bob.bareJid, 'test')).some((r) => r.kind === 'gateway' && r.userSees));
      const core = t.gateway.ponte.core;
      const gateway = core.gateway(TEST_DOMAIN)!;
      await core.openSession(gateway, bob.bareJid);
      assert.ok(core.session(gateway, bob.bareJid));
      await store.archive.append({ userJid: bob.bareJid, network: 'test', kind: 'chat', conversation: `carol@${TEST_DOMAIN}`, outgoing: false, content: { body: 'hi' } });
      await store.archive.append({ userJid: bob.bareJid, network: 'other', kind: 'chat', conversation: 'x@other.localhost', outgoing: false, content: { body: 'kept' } });
      const archived = (network: string) => store.archive.bounds({ userJid: bob.bareJid, network, kind: 'chat' });
      assert.ok(await archived('test'));

      const bad = errorOf(await bob.iqRaw(remove(xml('username', {}, 'x'))));
      assert.equal(bad.condition, 'bad-request');

      const earlier = new Set(bob.pending());
      const result = await bob.iqRaw(remove());
      assert.equal(result.attrs.type, 'result', result.toString());
      assert.deepEqual(await accountsOf(t, bob.bareJid), []);
      assert.equal(await archived('test'), null);
      assert.ok(await archived('other'), 'only this network is forgotten');
      assert.equal(core.session(gateway, bob.bareJid), undefined);
      assert.ok(t.world.calls.some((c) => c.user === bob.bareJid && c.method === 'close'));
      // XEP-0100 §4.3: the gateway goes unavailable and cancels the subscriptions (the server shows it as a roster push).
      await bob.waitFor(
        (s) => !earlier.has(s) && s.is('presence') && s.attrs.from === TEST_DOMAIN && s.attrs.type === 'unavailable' && /no longer registered/.test(s.getChildText('status') ?? ''),
        5000,
      );
      await bob.waitFor((s) => {
        const item = rosterPush(s);
        return !earlier.has(s) && item?.attrs.jid === TEST_DOMAIN && item.attrs.subscription === 'none' && item.attrs.ask === undefined;
      }, 5000);
      // No subscription state is left (presence.ts may write an all-false entry again when bob's server answers the
      // cancellation with an unavailable presence: no subscription either).
      await waitUntil(async () => (await store.roster.list(bob.bareJid, 'test')).every((r) => !r.userSees && !r.entitySees && !r.entityAsked));

      const again = errorOf(await bob.iqRaw(remove()));
      assert.equal(again.condition, 'registration-required');
    });

    test('a network with nothing to ask still registers', async () => {
      const dave = await minimal.client('dave');
      const query = (await dave.iq(getForm())).getChild('query', REGISTER)!;
      assert.deepEqual([...formFields(query).keys()], ['FORM_TYPE']);
      await dave.iq(submit({}));
      const registered = (await dave.iq(getForm())).getChild('query', REGISTER)!;
      assert.ok(registered.getChild('registered'));
      assert.equal((await accountsOf(minimal, dave.bareJid)).length, 1);
    });

    test('jabber:iq:gateway: the prompt, and the JID for an address', async () => {
      const erin = await t.client('erin');
      const prompt = (await erin.iq(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: GATEWAY })))).getChild('query', GATEWAY)!;
      assert.equal(prompt.getChildText('prompt'), 'Contact ID');
      assert.match(prompt.getChildText('desc') ?? '', /Test network gateway/);

      const ask = (text: string) => xml('iq', { type: 'set', to: TEST_DOMAIN }, xml('query', { xmlns: GATEWAY }, xml('prompt', {}, text)));
      const answer = (await erin.iq(ask(' Frank '))).getChild('query', GATEWAY)!;
      assert.equal(answer.getChildText('jid'), `frank@${TEST_DOMAIN}`);
      assert.equal(errorOf(await erin.iqRaw(ask('not an address!'))).condition, 'item-not-found');
      assert.equal(errorOf(await erin.iqRaw(ask(''))).condition, 'bad-request');

      const other = await minimal.client('erin');
      const missing = errorOf(await other.iqRaw(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: GATEWAY }))));
      assert.equal(missing.condition, 'feature-not-implemented');
    });
  });
}
