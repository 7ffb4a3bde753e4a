// Ad-hoc commands (XEP-0050) through real Prosody and ejabberd: the list a
// user and an admin see, every user command (register as a multi-step
// command with a wrong password on the way, unregister, configure, status,
// reconnect, disconnect, list-rooms, list-contacts), the admin commands and
// their refusal to others, the network's own command, cancel and sessions.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RoomState } from '../../src/core/rooms.js';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { TEST_PASSWORD } from '../networks/test-network.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';

const COMMANDS = 'http://jabber.org/protocol/commands';
const ITEMS = 'http://jabber.org/protocol/disco#items';
const INFO = 'http://jabber.org/protocol/disco#info';
const DATA = 'jabber:x:data';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

function errorOf(reply: XmlElement): { condition: string; text: string } {
  assert.equal(reply.attrs.type, 'error', reply.toString());
  const error = reply.getChild('error')!;
  const condition = error.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')!.name;
  return { condition, text: error.getChildText('text', STANZAS) ?? '' };
}

interface CommandReply {
  status: string;
  sessionid: string;
  notes: string[];
  /** Field var -> values of the form or result. */
  fields: Map<string, string[]>;
  formType: string | undefined;
  actions: string[];
  defaultAction: string | undefined;
}

function parseCommand(reply: XmlElement): CommandReply {
  assert.equal(reply.attrs.type, 'result', reply.toString());
  const command = reply.getChild('command', COMMANDS)!;
  const x = command.getChild('x', DATA);
  const actions = command.getChild('actions');
  return {
    status: command.attrs.status!,
    sessionid: command.attrs.sessionid!,
    notes: command.getChildren('note').map((n) => `${n.attrs.type}: ${n.text()}`),
    fields: new Map((x?.getChildren('field') ?? []).map((f) => [f.attrs.var!, f.getChildren('value').map((v) => v.text())])),
    formType: x?.attrs.type,
    actions: actions?.getChildElements().map((a) => a.name) ?? [],
    defaultAction: actions?.attrs.execute,
  };
}

const execute = (node: string) => xml('iq', { type: 'set', to: TEST_DOMAIN }, xml('command', { xmlns: COMMANDS, node, action: 'execute' }));
const continueWith = (node: string, sessionid: string, values: Record<string, string | string[]>, action = 'complete') =>
  xml(
    'iq',
    { type: 'set', to: TEST_DOMAIN },
    xml(
      'command',
      { xmlns: COMMANDS, node, sessionid, action },
      xml(
        'x',
        { xmlns: DATA, type: 'submit' },
        ...Object.entries(values).map(([name, value]) =>
          xml('field', { var: name }, ...(Array.isArray(value) ? value : [value]).map((v) => xml('value', {}, v))),
        ),
      ),
    ),
  );

async function run(client: TestXmppClient, node: string, values?: Record<string, string | string[]>): Promise<CommandReply> {
  const first = parseCommand(await client.iq(execute(node)));
  if (!values) return first;
  assert.equal(first.status, 'executing');
  return parseCommand(await client.iq(continueWith(node, first.sessionid, values)));
}

async function commandNodes(client: TestXmppClient): Promise<string[]> {
  const reply = await client.iq(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: ITEMS, node: COMMANDS })));
  const items = reply.getChild('query', ITEMS)!.getChildren('item');
  for (const item of items) assert.equal(item.attrs.jid, TEST_DOMAIN);
  return items.map((i) => i.attrs.node!).sort();
}

for (const [kind, start] of SERVERS) {
  describe(`ad-hoc commands through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    let admin: TestXmppClient;

    before(async () => {
      t = await startTestGateway(start, { env: { PONTE_ADMINS: 'admin@localhost' } });
      [alice, admin] = await Promise.all([t.client('alice'), t.client('admin')]);
    });
    after(async () => t?.stop());

    const gateway = () => t.gateway.ponte.core.gateway(TEST_DOMAIN)!;
    const accounts = async (jid: string) => {
      const { store } = t.gateway.ponte;
      const user = await store.users.find(jid);
      return user ? (await store.accounts.listForUser(user.id)).filter((a) => a.network === 'test') : [];
    };

    test('users see their commands, admins also the admin ones', async () => {
      const user = ['configure', 'disconnect', 'list-contacts', 'list-rooms', 'reconnect', 'register', 'status', 'test-echo'];
      assert.deepEqual(await commandNodes(alice), user);
      assert.deepEqual(await commandNodes(admin), [...user, 'announce', 'disconnect-user', 'list-users', 'statistics'].sort());
      const info = await alice.iq(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: INFO, node: 'status' })));
      const query = info.getChild('query', INFO)!;
      assert.equal(query.getChild('identity')?.attrs.category, 'automation');
      assert.equal(query.getChild('identity')?.attrs.type, 'command-node');
      assert.ok(query.getChildren('feature').some((f) => f.attrs.var === COMMANDS));
    });

    test('register is a multi-step command; a wrong password is an error and the form can be sent again', async () => {
      const form = parseCommand(await alice.iq(execute('register')));
      assert.equal(form.status, 'executing');
      assert.equal(form.formType, 'form');
      assert.deepEqual(form.actions, ['complete']);
      assert.equal(form.defaultAction, 'complete');
      assert.ok(form.fields.has('username') && form.fields.has('password'));

      const wrong = errorOf(await alice.iqRaw(continueWith('register', form.sessionid, { username: 'alice-t', password: 'bad' })));
      assert.equal(wrong.condition, 'not-authorized');
      assert.match(wrong.text, /wrong password/);
      // "execute" on a session is its default action (complete).
      const done = parseCommand(await alice.iq(continueWith('register', form.sessionid, { username: 'alice-t', password: TEST_PASSWORD }, 'execute')));
      assert.equal(done.status, 'completed');
      assert.match(done.notes.join(), /^info: You are registered/);
      assert.equal((await accounts(alice.bareJid))[0]?.credentials.username, 'alice-t');
      // The finished session is gone.
      const stale = errorOf(await alice.iqRaw(continueWith('register', form.sessionid, { username: 'x', password: TEST_PASSWORD })));
      assert.equal(stale.condition, 'bad-request');
      assert.ok((await commandNodes(alice)).includes('unregister'));
    });

    test('configure shows the current values and keeps an empty password', async () => {
      const form = parseCommand(await alice.iq(execute('configure')));
      assert.deepEqual(form.fields.get('username'), ['alice-t']);
      assert.deepEqual(form.fields.get('password'), []);
      const saved = parseCommand(await alice.iq(continueWith('configure', form.sessionid, { username: 'alice-new', password: '' })));
      assert.equal(saved.status, 'completed');
      assert.match(saved.notes.join(), /Saved/);
      assert.deepEqual((await accounts(alice.bareJid))[0]?.credentials, { username: 'alice-new', password: TEST_PASSWORD });
    });

    test('status, reconnect, list-rooms, list-contacts, disconnect', async () => {
      // Registered while online, alice may be logged in already (the gateway asked for her presence,
      // XEP-0100); disconnecting ends that, and the presences that follow do not log her in again.
      await run(alice, 'disconnect');
      await alice.send(xml('presence', { to: TEST_DOMAIN }, xml('show', {}, 'away')));
      const offline = await run(alice, 'status');
      assert.equal(offline.status, 'completed');
      assert.deepEqual(offline.fields.get('state'), ['offline']);
      assert.deepEqual(offline.fields.get('registered'), ['true']);

      // No session yet: reconnect connects.
      assert.match((await run(alice, 'reconnect')).notes.join(), /Connected to Test network gateway/);
      const session = t.gateway.ponte.core.session(gateway(), alice.bareJid)!;
      assert.ok(session?.loggedIn);
      // With a session: the network reconnects it in place.
      assert.match((await run(alice, 'reconnect')).notes.join(), /Reconnecting/);
      assert.ok(t.world.calls.some((c) => c.user === alice.bareJid && c.method === 'reconnect'));

      const room = new RoomState({ kind: 'room', id: '#adhoc' }, `#adhoc@${TEST_DOMAIN}`, 'alice');
      room.resources.add(alice.jid);
      session.rooms.set('#adhoc', room);
      const status = await run(alice, 'status');
      assert.deepEqual(status.fields.get('state'), ['online']);
      assert.deepEqual(status.fields.get('connections'), ['1']);
      assert.deepEqual(status.fields.get('rooms'), [`#adhoc@${TEST_DOMAIN}`]);
      const rooms = await run(alice, 'list-rooms');
      assert.deepEqual(rooms.fields.get('rooms'), [`#adhoc@${TEST_DOMAIN}`]);
      assert.deepEqual(rooms.fields.get('nicks'), [`#adhoc@${TEST_DOMAIN} as alice`]);
      session.rooms.delete('#adhoc');

      t.world.remoteDirect('carol', alice.bareJid, 'hello alice');
      t.world.remotePresence('dave', alice.bareJid, 'away');
      const contacts = await run(alice, 'list-contacts');
      assert.deepEqual(contacts.fields.get('contacts'), [`carol@${TEST_DOMAIN}`, `dave@${TEST_DOMAIN}`]);

      assert.match((await run(alice, 'disconnect')).notes.join(), /Disconnected from/);
      assert.equal(t.world.sessionOf(alice.bareJid), undefined);
      assert.equal(t.gateway.ponte.core.session(gateway(), alice.bareJid), undefined);
      assert.match((await run(alice, 'disconnect')).notes.join(), /were not connected/);
    });

    test('the network’s own command', async () => {
      const echo = await run(alice, 'test-echo', { text: 'ping' });
      assert.equal(echo.status, 'completed');
      assert.deepEqual(echo.notes, ['info: echo: ping']);
    });

    test('cancel ends a session; bad requests are refused', async () => {
      const form = parseCommand(await alice.iq(execute('register')));
      const cancelled = parseCommand(
        await alice.iq(xml('iq', { type: 'set', to: TEST_DOMAIN }, xml('command', { xmlns: COMMANDS, node: 'register', sessionid: form.sessionid, action: 'cancel' }))),
      );
      assert.equal(cancelled.status, 'canceled');
      assert.equal(errorOf(await alice.iqRaw(continueWith('register', form.sessionid, { username: 'x', password: 'y' }))).condition, 'bad-request');
      assert.equal(errorOf(await alice.iqRaw(execute('no-such-command'))).condition, 'item-not-found');
      const malformed = xml('iq', { type: 'set', to: TEST_DOMAIN }, xml('command', { xmlns: COMMANDS, node: 'status', action: 'jump' }));
      assert.equal(errorOf(await alice.iqRaw(malformed)).condition, 'bad-request');
      // Another user cannot continue alice's session.
      const other = parseCommand(await alice.iq(execute('test-echo')));
      assert.equal(errorOf(await admin.iqRaw(continueWith('test-echo', other.sessionid, { text: 'x' }))).condition, 'bad-request');
      // A required field left out.
      assert.match(errorOf(await alice.iqRaw(continueWith('test-echo', other.sessionid, {}))).text, /"Text" is required/);
    });

    test('admin commands are refused to others, with a text', async () => {
      for (const node of ['list-users', 'statistics', 'disconnect-user', 'announce']) {
        const refused = errorOf(await alice.iqRaw(execute(node)));
        assert.equal(refused.condition, 'forbidden', node);
        assert.match(refused.text, /administrators/);
      }
      const info = errorOf(await alice.iqRaw(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: INFO, node: 'list-users' }))));
      assert.equal(info.condition, 'forbidden');
    });

    test('admins: list-users, statistics, disconnect-user, announce', async () => {
      await t.gateway.ponte.core.openSession(gateway(), alice.bareJid);
      const users = await run(admin, 'list-users');
      assert.ok(users.fields.get('users')!.includes(alice.bareJid));
      assert.ok(users.fields.get('details')!.some((line) => line.startsWith(`${alice.bareJid}: registered`) && /online|connecting/.test(line)));

      const stats = await run(admin, 'statistics');
      assert.deepEqual(stats.fields.get('sessions-test'), ['1']);
      assert.deepEqual(stats.fields.get('connections-test'), ['1']);
      assert.deepEqual(stats.fields.get('registered'), ['1']);
      assert.ok(Number(stats.fields.get('users')![0]) >= 1);

      const announced = await run(admin, 'announce', { body: ['Maintenance at noon', 'Back soon'], audience: 'sessions' });
      assert.match(announced.notes.join(), /Sent to 1 user\b/);
      const notice = await alice.waitFor((s) => s.is('message') && s.attrs.from === TEST_DOMAIN && (s.getChildText('body') ?? '').startsWith('Maintenance'));
      assert.equal(notice.getChildText('body'), 'Maintenance at noon\nBack soon');

      const disconnected = await run(admin, 'disconnect-user', { jid: alice.bareJid, reason: 'maintenance' });
      assert.match(disconnected.notes.join(), /was disconnected/);
      assert.equal(t.gateway.ponte.core.session(gateway(), alice.bareJid), undefined);
      assert.ok(t.world.calls.some((c) => c.user === alice.bareJid && c.method === 'close' && c.args[0] === 'maintenance'));
      const again = await run(admin, 'disconnect-user', { jid: alice.bareJid });
      assert.match(again.notes.join(), /had no session/);
    });

    test('unregister asks first, then deletes the registration', async () => {
      const kept = await run(alice, 'unregister', { confirm: 'false' });
      assert.match(kept.notes.join(), /Nothing was deleted/);
      assert.equal((await accounts(alice.bareJid)).length, 1);
      const gone = await run(alice, 'unregister', { confirm: 'true' });
      assert.equal(gone.status, 'completed');
      assert.deepEqual(await accounts(alice.bareJid), []);
      assert.ok(!(await commandNodes(alice)).includes('unregister'));
      assert.equal(errorOf(await alice.iqRaw(execute('unregister'))).condition, 'registration-required');
    });
  });
}
