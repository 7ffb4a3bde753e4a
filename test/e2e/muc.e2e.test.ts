// MUC (XEP-0045) through real Prosody and ejabberd with a real client: join
// order and status codes, errors, several resources in one room, occupant
// events from the network, nick changes, kicks, bans, roles, subjects,
// invitations, self-ping (XEP-0410) and leaving. Each test uses its own room.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import type { Capability } from '../../src/networks/types.js';

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const DELAY = 'urn:xmpp:delay';

const roomJid = (room: string) => `${room}@${TEST_DOMAIN}`;
const bareOf = (jid: string | undefined) => (jid ?? '').split('/')[0]!;
const nickOf = (jid: string | undefined) => (jid ?? '').split('/').slice(1).join('/');
const codes = (el: XmlElement) => (el.getChild('x', MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code)).sort((a, b) => a - b);
const item = (el: XmlElement) => el.getChild('x', MUC_USER)?.getChild('item');
const condition = (el: XmlElement) => el.getChild('error')?.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')?.name;
const errorText = (el: XmlElement) => el.getChild('error')?.getChildText('text', STANZAS) ?? '';

function joinPresence(room: string, nick: string, options: { password?: string; history?: Record<string, string>; id?: string } = {}): XmlElement {
  return xml(
    'presence',
    { to: `${roomJid(room)}/${nick}`, id: options.id },
    xml('x', { xmlns: MUC }, options.password ? xml('password', {}, options.password) : null, options.history ? xml('history', options.history) : null),
  );
}

/** Everything from the room up to and including the subject message, which ends a join. */
async function joinSequence(client: TestXmppClient, room: string): Promise<XmlElement[]> {
  const out: XmlElement[] = [];
  for (;;) {
    const el = await client.waitFor((s) => bareOf(s.attrs.from) === roomJid(room));
    out.push(el);
    if (el.is('message') && el.getChild('subject') && !el.getChild('body')) return out;
    if (el.attrs.type === 'error') throw new Error(`join of ${room} failed: ${el.toString()}`);
    if (out.length > 500) throw new Error('no end to the join sequence');
  }
}

async function join(client: TestXmppClient, room: string, nick: string, options: Parameters<typeof joinPresence>[2] = {}): Promise<XmlElement[]> {
  await client.send(joinPresence(room, nick, options));
  return joinSequence(client, room);
}

const selfPresence = (sequence: XmlElement[]) => sequence.find((s) => s.is('presence') && codes(s).includes(110))!;

async function joinError(client: TestXmppClient, room: string, nick: string, options: Parameters<typeof joinPresence>[2] = {}): Promise<XmlElement> {
  await client.send(joinPresence(room, nick, options));
  return client.waitFor((s) => s.is('presence') && s.attrs.type === 'error' && s.attrs.from === `${roomJid(room)}/${nick}`);
}

const presenceFrom = (client: TestXmppClient, room: string, nick: string, type?: string) =>
  client.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(room)}/${nick}` && s.attrs.type === type);

function adminSet(room: string, attrs: Record<string, string>, reason?: string): XmlElement {
  return xml('iq', { type: 'set', to: roomJid(room) }, xml('query', { xmlns: MUC_ADMIN }, xml('item', attrs, reason ? xml('reason', {}, reason) : null)));
}

function ping(to: string): XmlElement {
  return xml('iq', { type: 'get', to }, xml('ping', { xmlns: 'urn:xmpp:ping' }));
}

/** Polls `check` until it holds (bounded). */
async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

for (const [kind, start] of SERVERS) {
  describe(`MUC through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    before(async () => {
      t = await startTestGateway(start);
      alice = await t.client('alice', 'desk');
    });
    after(async () => t?.stop());

    const callsFor = (method: string, room: string) => t.world.callsOf(method).filter((c) => (c.args[0] as { id: string }).id === room);

    test('joining a new room: own presence with 110 + 201 and the join id, then an empty subject', async () => {
      const sequence = await join(alice, '#fresh', 'alice', { id: 'join-fresh' });
      assert.equal(sequence.length, 2, sequence.join('\n'));
      const [self, subject] = sequence as [XmlElement, XmlElement];
      assert.equal(self.attrs.from, `${roomJid('#fresh')}/alice`);
      assert.equal(self.attrs.id, 'join-fresh');
      assert.deepEqual(codes(self), [110, 201]);
      assert.deepEqual({ ...item(self)!.attrs }, { affiliation: 'owner', role: 'moderator' }, 'semi-anonymous: no jid');
      assert.equal(subject.attrs.from, roomJid('#fresh'));
      assert.equal(subject.attrs.type, 'groupchat');
      assert.equal(subject.getChildText('subject'), '');
      assert.deepEqual(callsFor('joinRoom', '#fresh').map((c) => c.args[1]), ['alice']);
    });

    test('joining a busy room: occupants, own presence, the history asked for, then the subject', async () => {
      t.world.remoteJoin('#lobby', 'bob', 'moderator', 'owner');
      t.world.remoteJoin('#lobby', 'carol');
      for (const text of ['one', 'two', 'three']) t.world.remoteSay('#lobby', 'bob', text);
      t.world.remoteSubject('#lobby', 'bob', 'Welcome to the lobby');
      const sequence = await join(alice, '#lobby', 'alice', { history: { maxstanzas: '2' } });
      const kinds = sequence.map((s) => (s.is('presence') ? (codes(s).includes(110) ? 'self' : 'occupant') : s.getChild('subject') ? 'subject' : 'history'));
      assert.deepEqual(kinds, ['occupant', 'occupant', 'self', 'history', 'history', 'subject']);
      const occupants = sequence.slice(0, 2);
      assert.deepEqual(occupants.map((s) => nickOf(s.attrs.from)).sort(), ['bob', 'carol']);
      const bob = occupants.find((s) => nickOf(s.attrs.from) === 'bob')!;
      assert.deepEqual({ ...item(bob)!.attrs }, { affiliation: 'owner', role: 'moderator' });
      assert.deepEqual(codes(selfPresence(sequence)), [110], 'an existing room: no 201');
      assert.deepEqual(sequence.slice(3, 5).map((s) => s.getChildText('body')), ['two', 'three']);
      for (const message of sequence.slice(3, 5)) {
        assert.equal(message.attrs.type, 'groupchat');
        assert.equal(message.attrs.from, `${roomJid('#lobby')}/bob`);
        assert.ok(message.getChild('delay', DELAY)?.attrs.stamp, message.toString());
      }
      const subject = sequence[5]!;
      assert.equal(subject.getChildText('subject'), 'Welcome to the lobby');
      assert.equal(subject.attrs.from, `${roomJid('#lobby')}/bob`);
    });

    test('history maxchars=0 gives no history, and the subject still ends the join', async () => {
      t.world.remoteJoin('#quiet', 'bob');
      t.world.remoteSay('#quiet', 'bob', 'said before');
      const sequence = await join(alice, '#quiet', 'alice', { history: { maxchars: '0' } });
      assert.deepEqual(sequence.map((s) => s.name), ['presence', 'presence', 'message']);
    });

    test('a nick the network changed on join comes with 210', async () => {
      t.world.assignNick = (nick) => `${nick}_`;
      try {
        const sequence = await join(alice, '#renamed', 'alice');
        const self = selfPresence(sequence);
        assert.equal(self.attrs.from, `${roomJid('#renamed')}/alice_`);
        assert.deepEqual(codes(self), [110, 201, 210]);
      } finally {
        t.world.assignNick = undefined;
      }
    });

    test('join errors: not-authorized, conflict, forbidden, not-allowed, item-not-found, jid-malformed, registration-required', async () => {
      t.world.room('#secret', { password: 'sesame' });
      let error = await joinError(alice, '#secret', 'alice');
      assert.equal(error.attrs.type, 'error');
      assert.equal(condition(error), 'not-authorized');
      assert.match(errorText(error), /password/i);
      error = await joinError(alice, '#secret', 'alice', { password: 'wrong' });
      assert.equal(condition(error), 'not-authorized');
      const sequence = await join(alice, '#secret', 'alice', { password: 'sesame' });
      assert.deepEqual(codes(selfPresence(sequence)), [110]);
      assert.deepEqual(callsFor('joinRoom', '#secret').at(-1)?.args[2], { password: 'sesame' });

      t.world.remoteJoin('#busy', 'alice');
      assert.equal(condition(await joinError(alice, '#busy', 'alice')), 'conflict');

      t.world.room('#closed').banned.add('alice');
      assert.equal(condition(await joinError(alice, '#closed', 'alice')), 'forbidden');

      t.world.creationAllowed = false;
      try {
        const refused = await joinError(alice, '#nothere', 'alice');
        assert.equal(condition(refused), 'not-allowed');
        assert.match(errorText(refused), /does not exist/);
      } finally {
        t.world.creationAllowed = true;
      }

      // '%' cannot be in a test network room name: the JID names nothing.
      assert.equal(condition(await joinError(alice, '#bad%name', 'alice')), 'item-not-found');

      await alice.send(xml('presence', { to: roomJid('#nonick') }, xml('x', { xmlns: MUC })));
      const malformed = await alice.waitFor((s) => s.is('presence') && s.attrs.type === 'error' && s.attrs.from === roomJid('#nonick'));
      assert.equal(condition(malformed), 'jid-malformed');

      t.world.registrationRequired = true;
      try {
        const dave = await t.client('dave');
        const unregistered = await joinError(dave, '#lobby', 'dave');
        assert.equal(condition(unregistered), 'registration-required');
        assert.match(errorText(unregistered), /Register/);
      } finally {
        t.world.registrationRequired = false;
      }
      // After all that, the failed rooms are not half-joined: a self-ping says so.
      const pingReply = await alice.iqRaw(ping(`${roomJid('#closed')}/alice`));
      assert.equal(condition(pingReply), 'not-acceptable');
    });

    test('two resources share one network presence; one leaving keeps the other in; the last one leaves the network', async () => {
      const phone = await t.client('alice', 'phone');
      t.world.remoteJoin('#shared', 'bob');
      await join(alice, '#shared', 'alice');
      const second = await join(phone, '#shared', 'alice');
      assert.deepEqual(second.map((s) => nickOf(s.attrs.from)), ['bob', 'alice', ''], 'the full sequence from the gateway state');
      assert.deepEqual(codes(selfPresence(second)), [110]);
      assert.equal(callsFor('joinRoom', '#shared').length, 1, 'one network join');

      t.world.remoteJoin('#shared', 'zed');
      for (const client of [alice, phone]) assert.ok(item(await presenceFrom(client, '#shared', 'zed')));

      await phone.send(xml('presence', { to: `${roomJid('#shared')}/alice`, type: 'unavailable' }));
      const out = await presenceFrom(phone, '#shared', 'alice', 'unavailable');
      assert.deepEqual(codes(out), [110]);
      t.world.remoteJoin('#shared', 'yan');
      await presenceFrom(alice, '#shared', 'yan');
      assert.equal(callsFor('leaveRoom', '#shared').length, 0, 'the desk is still in');
      assert.ok(!alice.pending().some((s) => s.attrs.from === `${roomJid('#shared')}/alice` && s.attrs.type === 'unavailable'));

      // Back in with another nick: all resources share the nick, so it gets the current one with 210.
      const again = await join(phone, '#shared', 'other');
      const self = selfPresence(again);
      assert.equal(self.attrs.from, `${roomJid('#shared')}/alice`);
      assert.deepEqual(codes(self), [110, 210]);

      // The phone goes offline without a word: its server's unavailable takes it out.
      await phone.stop();
      const roomState = () => t.gateway.ponte.core.list({ userJid: alice.bareJid })[0]?.room({ kind: 'room', id: '#shared' });
      await eventually(() => roomState()?.resources.size === 1, 'the offline phone out of the room');
      await alice.send(xml('presence', { to: `${roomJid('#shared')}/alice`, type: 'unavailable' }, xml('status', {}, 'bye all')));
      assert.deepEqual(codes(await presenceFrom(alice, '#shared', 'alice', 'unavailable')), [110]);
      await eventually(() => callsFor('leaveRoom', '#shared').length === 1, 'the room left on the network');
      assert.equal(callsFor('leaveRoom', '#shared')[0]!.args[1], 'bye all', 'the status text is the part message');
    });

    test('a resource that goes offline leaves its rooms', async () => {
      const laptop = await t.client('alice', 'laptop');
      await join(laptop, '#offline', 'alice');
      await laptop.stop();
      await eventually(() => callsFor('leaveRoom', '#offline').length === 1, 'left after the resource went offline');
    });

    test('occupant events: join, part with reason, netsplit, rename (303), role change, kick (307), ban (301)', async () => {
      t.world.remoteJoin('#events', 'bob', 'moderator', 'owner');
      await join(alice, '#events', 'alice');

      t.world.remoteJoin('#events', 'carol');
      assert.deepEqual({ ...item(await presenceFrom(alice, '#events', 'carol'))!.attrs }, { affiliation: 'none', role: 'participant' });
      t.world.remotePart('#events', 'carol', 'gone fishing');
      const part = await presenceFrom(alice, '#events', 'carol', 'unavailable');
      assert.equal(part.getChildText('status'), 'gone fishing');
      assert.equal(item(part)?.attrs.role, 'none');

      const split = ['s1', 's2', 's3'];
      for (const nick of split) t.world.remoteJoin('#events', nick);
      for (const nick of split) await presenceFrom(alice, '#events', nick);
      t.world.remoteMassPart('#events', split, 'irc.a.net irc.b.net');
      for (const nick of split) assert.equal((await presenceFrom(alice, '#events', nick, 'unavailable')).getChildText('status'), 'irc.a.net irc.b.net');

      t.world.remoteJoin('#events', 'dan');
      await presenceFrom(alice, '#events', 'dan');
      t.world.remoteNick('#events', 'dan', 'daniel');
      const renamed = await presenceFrom(alice, '#events', 'dan', 'unavailable');
      assert.deepEqual(codes(renamed), [303]);
      assert.equal(item(renamed)?.attrs.nick, 'daniel');
      await presenceFrom(alice, '#events', 'daniel');

      t.world.remoteRole('#events', 'daniel', 'moderator', 'admin');
      assert.deepEqual({ ...item(await presenceFrom(alice, '#events', 'daniel'))!.attrs }, { affiliation: 'admin', role: 'moderator' });

      t.world.remoteKick('#events', 'daniel', 'bob', 'too loud');
      const kicked = await presenceFrom(alice, '#events', 'daniel', 'unavailable');
      assert.deepEqual(codes(kicked), [307]);
      assert.equal(item(kicked)?.getChild('actor')?.attrs.nick, 'bob');
      assert.equal(item(kicked)?.getChildText('reason'), 'too loud');

      t.world.remoteJoin('#events', 'eve');
      await presenceFrom(alice, '#events', 'eve');
      t.world.remoteBan('#events', 'eve', 'bob', 'spam');
      const banned = await presenceFrom(alice, '#events', 'eve', 'unavailable');
      assert.deepEqual(codes(banned), [301]);
      assert.equal(item(banned)?.attrs.affiliation, 'outcast');
      assert.equal(item(banned)?.getChild('actor')?.attrs.nick, 'bob');
    });

    test('the user kicked (110 + 307) and banned (110 + 301) by the network, then out of the room', async () => {
      const phone = await t.client('alice', 'phone2');
      t.world.remoteJoin('#kickme', 'op', 'moderator');
      await join(alice, '#kickme', 'alice');
      await join(phone, '#kickme', 'alice');
      t.world.remoteKick('#kickme', 'alice', 'op', 'out');
      for (const client of [alice, phone]) {
        const own = await presenceFrom(client, '#kickme', 'alice', 'unavailable');
        assert.deepEqual(codes(own), [110, 307]);
        assert.equal(item(own)?.getChild('actor')?.attrs.nick, 'op');
        assert.equal(item(own)?.getChildText('reason'), 'out');
      }
      assert.equal(condition(await alice.iqRaw(ping(`${roomJid('#kickme')}/alice`))), 'not-acceptable', 'out of the room');

      t.world.remoteJoin('#banme', 'op', 'moderator');
      await join(alice, '#banme', 'alice');
      t.world.remoteBan('#banme', 'alice', 'op', 'bye');
      const own = await presenceFrom(alice, '#banme', 'alice', 'unavailable');
      assert.deepEqual(codes(own), [110, 301]);
      assert.equal(item(own)?.attrs.affiliation, 'outcast');
      assert.equal(condition(await joinError(alice, '#banme', 'alice')), 'forbidden', 'banned: cannot come back');
      await phone.stop();
    });

    test('the network puts the user out: 110 + 333 with the reason', async () => {
      await join(alice, '#closing', 'alice');
      t.world.remoteRoomLeft('#closing', alice.bareJid, 'channel closed by services');
      const own = await presenceFrom(alice, '#closing', 'alice', 'unavailable');
      assert.deepEqual(codes(own), [110, 333]);
      assert.equal(own.getChildText('status'), 'channel closed by services');
    });

    test('nick changes both ways: by the user (303 to every resource), conflict, and forced by the network', async () => {
      const phone = await t.client('alice', 'phone3');
      t.world.remoteJoin('#nicks', 'bob');
      await join(alice, '#nicks', 'alice');
      await join(phone, '#nicks', 'alice');
      await alice.send(xml('presence', { to: `${roomJid('#nicks')}/alicia` }));
      for (const client of [alice, phone]) {
        const gone = await presenceFrom(client, '#nicks', 'alice', 'unavailable');
        assert.deepEqual(codes(gone), [110, 303]);
        assert.equal(item(gone)?.attrs.nick, 'alicia');
        assert.deepEqual(codes(await presenceFrom(client, '#nicks', 'alicia')), [110]);
      }
      assert.deepEqual(callsFor('changeNick', '#nicks').map((c) => c.args[1]), ['alicia']);

      await alice.send(xml('presence', { to: `${roomJid('#nicks')}/bob` }));
      const taken = await presenceFrom(alice, '#nicks', 'bob', 'error');
      assert.equal(condition(taken), 'conflict');

      // Self-ping after the change: the new nick answers, the old one is nobody.
      assert.equal((await alice.iqRaw(ping(`${roomJid('#nicks')}/alicia`))).attrs.type, 'result');
      assert.equal(condition(await alice.iqRaw(ping(`${roomJid('#nicks')}/alice`))), 'item-not-found');

      t.world.remoteNick('#nicks', 'alicia', 'alicia2');
      const forced = await presenceFrom(phone, '#nicks', 'alicia', 'unavailable');
      assert.deepEqual(codes(forced), [110, 303]);
      assert.equal(item(forced)?.attrs.nick, 'alicia2');
      assert.deepEqual(codes(await presenceFrom(phone, '#nicks', 'alicia2')), [110]);
      await phone.stop();
    });

    test('moderation as the actor: kick, ban, role change and lists through muc#admin', async () => {
      await join(alice, '#mod', 'alice'); // a new room: alice is its moderator
      for (const nick of ['bob', 'carol', 'dan']) {
        t.world.remoteJoin('#mod', nick);
        await presenceFrom(alice, '#mod', nick);
      }
      assert.equal((await alice.iqRaw(adminSet('#mod', { nick: 'bob', role: 'none' }, 'behave'))).attrs.type, 'result');
      const kicked = await presenceFrom(alice, '#mod', 'bob', 'unavailable');
      assert.deepEqual(codes(kicked), [307]);
      assert.equal(item(kicked)?.getChild('actor')?.attrs.nick, 'alice');
      assert.equal(item(kicked)?.getChildText('reason'), 'behave');

      assert.equal((await alice.iqRaw(adminSet('#mod', { nick: 'carol', affiliation: 'outcast' }))).attrs.type, 'result');
      assert.deepEqual(codes(await presenceFrom(alice, '#mod', 'carol', 'unavailable')), [301]);

      assert.equal((await alice.iqRaw(adminSet('#mod', { nick: 'dan', role: 'moderator' }))).attrs.type, 'result');
      assert.equal(item(await presenceFrom(alice, '#mod', 'dan'))?.attrs.role, 'moderator');
      assert.equal((await alice.iqRaw(adminSet('#mod', { nick: 'dan', affiliation: 'admin' }))).attrs.type, 'result');
      assert.equal(item(await presenceFrom(alice, '#mod', 'dan'))?.attrs.affiliation, 'admin');

      const moderators = await alice.iq(xml('iq', { type: 'get', to: roomJid('#mod') }, xml('query', { xmlns: MUC_ADMIN }, xml('item', { role: 'moderator' }))));
      const listed = moderators.getChild('query', MUC_ADMIN)!.getChildren('item').map((i) => i.attrs.nick).sort();
      assert.deepEqual(listed, ['alice', 'dan']);
      const outcasts = await alice.iq(xml('iq', { type: 'get', to: roomJid('#mod') }, xml('query', { xmlns: MUC_ADMIN }, xml('item', { affiliation: 'outcast' }))));
      assert.deepEqual(outcasts.getChild('query', MUC_ADMIN)!.getChildren('item').map((i) => i.attrs.nick), ['carol']);

      const nobody = await alice.iqRaw(adminSet('#mod', { nick: 'nobody', role: 'none' }));
      assert.equal(condition(nobody), 'item-not-found');
      const both = await alice.iqRaw(adminSet('#mod', { nick: 'dan', role: 'none', affiliation: 'none' }));
      assert.equal(condition(both), 'bad-request');
    });

    test('moderation without the right: forbidden from the network; outside the room: not-acceptable', async () => {
      t.world.remoteJoin('#nomod', 'bob', 'moderator', 'owner');
      await join(alice, '#nomod', 'alice');
      const refused = await alice.iqRaw(adminSet('#nomod', { nick: 'bob', role: 'none' }));
      assert.equal(condition(refused), 'forbidden');
      const outside = await alice.iqRaw(adminSet('#never-joined', { nick: 'bob', role: 'none' }));
      assert.equal(condition(outside), 'not-acceptable');
    });

    test('subject both ways: from the network, set by a moderator, refused to a participant', async () => {
      await join(alice, '#topic', 'alice'); // new room: moderator
      t.world.remoteJoin('#topic', 'bob');
      await presenceFrom(alice, '#topic', 'bob');
      t.world.remoteSubject('#topic', 'bob', 'from the network');
      const remote = await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === roomJid('#topic') && s.getChild('subject') !== undefined);
      assert.equal(remote.attrs.from, `${roomJid('#topic')}/bob`);
      assert.equal(remote.getChildText('subject'), 'from the network');

      await alice.send(xml('message', { to: roomJid('#topic'), type: 'groupchat' }, xml('subject', {}, 'from alice')));
      const own = await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === roomJid('#topic') && s.getChild('subject') !== undefined);
      assert.equal(own.attrs.from, `${roomJid('#topic')}/alice`);
      assert.equal(own.getChildText('subject'), 'from alice');
      assert.deepEqual(callsFor('setSubject', '#topic').map((c) => c.args[1]), ['from alice']);

      t.world.remoteJoin('#topic2', 'op', 'moderator');
      await join(alice, '#topic2', 'alice');
      await alice.send(xml('message', { to: roomJid('#topic2'), type: 'groupchat', id: 'subj-1' }, xml('subject', {}, 'mine now')));
      const refused = await alice.waitFor((s) => s.is('message') && s.attrs.id === 'subj-1');
      assert.equal(refused.attrs.type, 'error');
      assert.equal(refused.attrs.from, roomJid('#topic2'));
      assert.equal(condition(refused), 'forbidden');
    });

    test('invitations both ways: network to user (mediated), user to network (mediated and XEP-0249 direct)', async () => {
      t.world.remoteJoin('#party', 'bob');
      t.world.remoteInvite('#party', 'bob', alice.bareJid, 'come along', 'pw');
      const invite = await alice.waitFor((s) => s.is('message') && s.attrs.from === roomJid('#party'));
      const x = invite.getChild('x', MUC_USER)!;
      assert.equal(x.getChild('invite')?.attrs.from, `bob@${TEST_DOMAIN}`);
      assert.equal(x.getChild('invite')?.getChildText('reason'), 'come along');
      assert.equal(x.getChildText('password'), 'pw');

      await join(alice, '#party', 'alice');
      await alice.send(
        xml('message', { to: roomJid('#party') }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: `carol@${TEST_DOMAIN}` }, xml('reason', {}, 'you too')))),
      );
      await eventually(() => callsFor('invite', '#party').length === 1, 'the network invite');
      assert.deepEqual(callsFor('invite', '#party')[0]!.args.slice(1), [{ kind: 'contact', id: 'carol' }, 'you too']);

      // A mediated invitation to another XMPP user of the server is passed on from the room.
      const frank = await t.client('frank');
      await alice.send(xml('message', { to: roomJid('#party') }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: frank.bareJid }))));
      const forwarded = await frank.waitFor((s) => s.is('message') && s.attrs.from === roomJid('#party'));
      assert.equal(forwarded.getChild('x', MUC_USER)?.getChild('invite')?.attrs.from, alice.bareJid);

      // XEP-0249: addressed to the contact, so it passes through the messages module (handleDirectInvite).
      await alice.send(xml('message', { to: `dora@${TEST_DOMAIN}`, id: 'direct-1' }, xml('x', { xmlns: 'jabber:x:conference', jid: roomJid('#party'), reason: 'direct' })));
      const isBounce = (s: XmlElement) => s.is('message') && s.attrs.id === 'direct-1' && s.attrs.type === 'error';
      const directCall = () => t.world.callsOf('invite').find((c) => (c.args[1] as { id: string }).id === 'dora');
      // Either the messages module hands it to us (the network invite) or it answers with an error; never silence.
      await eventually(() => directCall() !== undefined || alice.pending().some(isBounce), 'a direct invitation passed on or answered');
      const call = directCall();
      if (call) assert.deepEqual(call.args, [{ kind: 'room', id: '#party' }, { kind: 'contact', id: 'dora' }, 'direct']);
      else assert.ok(condition(await alice.waitFor(isBounce)), 'an error with a condition');
    });

    test('what the network does not declare: nick change not-acceptable, kick, subject and invites feature-not-implemented', async () => {
      await join(alice, '#plain', 'alice'); // new room: alice could moderate, were the features there
      t.world.remoteJoin('#plain', 'bob');
      await presenceFrom(alice, '#plain', 'bob');
      // The running network's declared capabilities, narrowed for this test only.
      const capabilities = t.gateway.ponte.core.gateway(TEST_DOMAIN)!.network.capabilities as Set<Capability>;
      const removed: Capability[] = ['nick-change', 'kick', 'topic', 'invites'];
      for (const capability of removed) capabilities.delete(capability);
      try {
        await alice.send(xml('presence', { to: `${roomJid('#plain')}/newname` }));
        const nick = await presenceFrom(alice, '#plain', 'newname', 'error');
        assert.equal(condition(nick), 'not-acceptable');
        assert.match(errorText(nick), /does not support changing your nickname/);

        const kick = await alice.iqRaw(adminSet('#plain', { nick: 'bob', role: 'none' }));
        assert.equal(condition(kick), 'feature-not-implemented');
        assert.match(errorText(kick), /kicking/);

        await alice.send(xml('message', { to: roomJid('#plain'), type: 'groupchat', id: 'subj-x' }, xml('subject', {}, 'nope')));
        const subject = await alice.waitFor((s) => s.is('message') && s.attrs.id === 'subj-x');
        assert.equal(condition(subject), 'feature-not-implemented');

        await alice.send(
          xml('message', { to: roomJid('#plain'), id: 'inv-x' }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: `carol@${TEST_DOMAIN}` }))),
        );
        const invite = await alice.waitFor((s) => s.is('message') && s.attrs.id === 'inv-x');
        assert.equal(condition(invite), 'feature-not-implemented');
      } finally {
        for (const capability of removed) capabilities.add(capability);
      }
      for (const method of ['changeNick', 'kick', 'setSubject', 'invite']) assert.equal(callsFor(method, '#plain').length, 0, `${method} not called`);
    });

    test('self-ping (XEP-0410): result when joined, not-acceptable when not, for others present or not', async () => {
      t.world.remoteJoin('#pings', 'bob');
      await join(alice, '#pings', 'alice');
      assert.equal((await alice.iqRaw(ping(`${roomJid('#pings')}/alice`))).attrs.type, 'result');
      assert.equal((await alice.iqRaw(ping(`${roomJid('#pings')}/bob`))).attrs.type, 'result');
      assert.equal(condition(await alice.iqRaw(ping(`${roomJid('#pings')}/nobody`))), 'item-not-found');
      const other = await t.client('alice', 'other');
      assert.equal(condition(await other.iqRaw(ping(`${roomJid('#pings')}/alice`))), 'not-acceptable', 'this resource never joined');
      await other.stop();
    });

    test('leaving: own unavailable with 110, then the network leave', async () => {
      await join(alice, '#bye', 'alice');
      await alice.send(xml('presence', { to: `${roomJid('#bye')}/alice`, type: 'unavailable' }));
      const out = await presenceFrom(alice, '#bye', 'alice', 'unavailable');
      assert.deepEqual(codes(out), [110]);
      assert.equal(item(out)?.attrs.role, 'none');
      await eventually(() => callsFor('leaveRoom', '#bye').length === 1, 'left on the network');
      assert.equal(condition(await alice.iqRaw(ping(`${roomJid('#bye')}/alice`))), 'not-acceptable');
    });
  });
}
