// Restart is routine for Matrix: the sync position is stored after every
// batch, so a ponte restarted on the same store delivers what was said in a
// direct chat while it was down exactly once, and nothing from before again.
// Real Prosody and ejabberd, the homeserver stand-in, an on-disk PGlite store.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { startPonte, type TestPonte } from '../harness/ponte.js';
import { xml, type TestXmppClient } from '../harness/xmpp-client.js';
import { startHomeserver, type Homeserver } from '../matrix/homeserver.js';
import { registrationForm } from '../harness/matrix-e2e.js';

const DOMAIN = 'matrix.localhost';
const bareOf = (jid: string | undefined) => (jid ?? '').split('/')[0]!;

async function eventually(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The user's presence to the gateway logs them in (XEP-0100 auto-login).
 * Sent as unavailable then available: the gateway may have seen the client's
 * initial presence before the registration (XEP-0356 presence permission),
 * and only a user's first available resource logs in.
 */
async function online(client: TestXmppClient): Promise<void> {
  await client.send(xml('presence', { to: DOMAIN, type: 'unavailable' }));
  await client.send(xml('presence', { to: DOMAIN }));
}

let hs: Homeserver;
before(async () => {
  hs = await startHomeserver();
});
after(async () => {
  await hs?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`Matrix across a restart of ponte (${kind})`, () => {
    let t: TestGateway;
    let second: TestPonte | undefined;
    let dir: string;
    const tag = kind === 'Prosody' ? 'p' : 'e';

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ponte-matrix-restart-'));
      t = await startTestGateway(start, { env: { PONTE_STORE_DATA_DIR: join(dir, 'pglite') } });
    });
    after(async () => {
      await second?.stop();
      await t?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    test('what was said while ponte was down arrives once; nothing is repeated', async () => {
      const me = hs.registerUser(`rita${tag}`, 'rita-secret', 'Rita');
      const sam = hs.registerUser(`sam${tag}`, 'sam-secret', 'Sam');
      const samJid = `sam${tag}%localhost@${DOMAIN}`;
      // Rita is already in a room on Matrix: the new login offers it as an invitation.
      const lounge = hs.as(sam).createRoom({ alias: `lounge${tag}` });
      hs.as(me).join(lounge);
      let alice: TestXmppClient = await t.client('alice');
      await alice.iq(registrationForm({ homeserver: hs.url, username: `rita${tag}`, password: 'rita-secret' }));
      await online(alice);
      const invitation = await alice.waitFor((s) => s.is('message') && s.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChild('invite') !== undefined, 10_000);
      assert.equal(bareOf(invitation.attrs.from), `#lounge${tag}%localhost@${DOMAIN}`);
      const dm = hs.as(sam).createRoom({ public: false, invite: [me], direct: true });
      await eventually(() => hs.membership(dm, me) === 'join', 'the direct chat accepted');
      hs.as(sam).say(dm, 'before the restart');
      await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === samJid && s.getChildText('body') === 'before the restart', 10_000);

      await t.gateway.stop();
      await alice.stop();
      hs.as(sam).say(dm, 'while ponte was down');

      second = await startPonte(t.server, { PONTE_STORE_DATA_DIR: join(dir, 'pglite') });
      await second.ponte.waitOnline(30_000);
      alice = await t.client('alice', 'again');
      await online(alice);
      await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === samJid && s.getChildText('body') === 'while ponte was down', 20_000);
      hs.as(sam).say(dm, 'after the restart');
      await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === samJid && s.getChildText('body') === 'after the restart', 10_000);
      assert.ok(!alice.pending().some((s) => s.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChild('invite')), 'no invitations again after the restart');
      const bodies = alice.pending().filter((s) => s.is('message') && bareOf(s.attrs.from) === samJid).map((s) => s.getChildText('body'));
      assert.ok(!bodies.includes('before the restart'), `repeated: ${bodies.join(', ')}`);
      assert.ok(!bodies.includes('while ponte was down'), `twice: ${bodies.join(', ')}`);
      // Writing to Sam after the restart reuses the direct chat (m.direct), no new room.
      const rooms = hs.rooms.size;
      await alice.send(xml('message', { to: samJid, type: 'chat' }, xml('body', {}, 'still the same room')));
      await hs.waitForEvent(dm, (e) => e.sender === me && e.content.body === 'still the same room', 10_000, 'the answer in the same direct chat');
      assert.equal(hs.rooms.size, rooms);
      // The login was reused: no second password login happened.
      assert.equal(hs.logins.filter((l) => (l.identifier as { user?: string }).user === `rita${tag}`).length, 1);
    });
  });
}
