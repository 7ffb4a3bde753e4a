// IRC reliability end to end, through Prosody and ejabberd, against real
// ngircd servers: a connection killed by an operator comes back (rejoined,
// members brought up to date, the user never put out of the room) and the
// messages sent meanwhile reach IRC once each, in order; a server that stays
// away ends in the rooms being left and the waiting message bounced; with
// one registration allowed at a time, many users' connections reach the
// server one after the other; the flood limit paces a burst of lines; and a
// netsplit between two linked ngircds shows nothing for those who come back
// and one batch of leaves for the others.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { startNgircd, type IrcConnection, type IrcMessage, type IrcServer } from '../harness/irc-server.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { codes, IRC_DOMAIN, ircUser, joinRoom, nickOfPrefix, roomJid, SERVER } from '../harness/irc-e2e.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

const groupchat = (channel: string, body: string, id: string) => xml('message', { to: roomJid(channel), type: 'groupchat', id }, xml('body', {}, body));

/** Subscribes the user to the gateway, whose presence then shows the connection state. */
async function subscribeToGateway(client: TestXmppClient): Promise<void> {
  const from = (type: string) => (s: XmlElement) => s.is('presence') && s.attrs.from === IRC_DOMAIN && s.attrs.type === type;
  await client.send(xml('presence', { to: IRC_DOMAIN, type: 'subscribe' }));
  // (Prosody takes the `subscribed` into the roster without passing it on.)
  await client.waitFor(from('subscribe'), 10_000);
  await client.send(xml('presence', { to: IRC_DOMAIN, type: 'subscribed' }));
}

const privmsgs = (conn: IrcConnection, channel: string) =>
  conn.pending().filter((m) => m.command === 'PRIVMSG' && m.params[0] === channel).map((m) => m.params[1]);

/** The server's log so far (ngircd writes one file per start). */
function serverLog(irc: IrcServer): string {
  return readdirSync(irc.dir)
    .filter((name) => /^ngircd-\d+\.log$/.test(name))
    .sort()
    .map((name) => readFileSync(join(irc.dir, name), 'utf8'))
    .join('');
}

for (const [kind, start] of SERVERS) {
  const tag = kind === 'Prosody' ? 'p' : 'e';

  describe(`IRC reconnect through ${kind} and ngircd`, () => {
    let irc: IrcServer;
    let t: TestGateway;
    let alice: TestXmppClient;
    const ircClients: IrcConnection[] = [];

    before(async () => {
      irc = await startNgircd();
      t = await startTestGateway(start, {
        env: {
          PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain`,
          // Long enough for the test to act between the loss and the first attempt.
          PONTE_NETWORKS_IRC_RECONNECT_INITIAL_MS: '5000',
          PONTE_NETWORKS_IRC_RECONNECT_MAX_MS: '5000',
        },
      });
      alice = await t.client('alice');
      await subscribeToGateway(alice);
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
      await irc?.stop();
    });

    test('a killed connection comes back: rejoined, members updated, waiting messages sent once, in order', async () => {
      const channel = `#rc${tag}`;
      const nick = `alice${tag}`;
      const bob = await ircUser(irc, `bob${tag}`, channel);
      const carol = await ircUser(irc, `carol${tag}`, channel);
      ircClients.push(bob, carol);
      await joinRoom(alice, channel, nick);
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick, 10_000, 'JOIN of alice');

      bob.send('OPER admin adminpw');
      await bob.waitFor((m) => m.command === '381', 10_000, 'OPER');
      bob.send(`KILL ${nick} :testing reconnects`);
      await bob.waitFor((m) => m.command === 'QUIT' && nickOfPrefix(m.prefix) === nick, 10_000, 'QUIT of the killed alice');
      // The gateway says it is reconnecting; the user is not put out of the room.
      const state = await alice.waitFor((s) => s.is('presence') && s.attrs.from === IRC_DOMAIN && /reconnecting/i.test(s.getChildText('status') ?? ''), 10_000);
      assert.equal(state.getChildText('show'), 'away');

      // While ponte waits to reconnect: carol leaves, dave comes, alice writes twice.
      carol.send(`PART ${channel} :bye`);
      const dave = await ircUser(irc, `dave${tag}`, channel);
      ircClients.push(dave);
      await alice.send(groupchat(channel, 'first while away', `w1${tag}`));
      await alice.send(groupchat(channel, 'second while away', `w2${tag}`));

      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick, 20_000, 'JOIN of alice after the reconnect');
      const first = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 10_000, 'first waiting message');
      const second = await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 10_000, 'second waiting message');
      assert.deepEqual([first.params[1], second.params[1]], ['first while away', 'second while away']);
      assert.equal(nickOfPrefix(first.prefix), nick);

      // Exactly once: a later message arrives and nothing repeated in between.
      await alice.send(groupchat(channel, 'after the return', `w3${tag}`));
      await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === 'after the return', 10_000, 'the later message');
      assert.deepEqual(privmsgs(bob, channel), []);

      // The reflections came only now, in order, with the client's ids.
      const reflected: string[] = [];
      for (const id of [`w1${tag}`, `w2${tag}`, `w3${tag}`]) {
        const echo = await alice.waitFor((s) => s.is('message') && s.attrs.id === id, 10_000);
        assert.equal(echo.attrs.type, 'groupchat', echo.toString());
        reflected.push(echo.getChildText('body') ?? '');
      }
      assert.deepEqual(reflected, ['first while away', 'second while away', 'after the return']);

      // Members as they are now: carol gone, dave there.
      const carolGone = await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/carol${tag}` && s.attrs.type === 'unavailable', 10_000);
      assert.ok(carolGone);
      const daveHere = await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/dave${tag}` && s.attrs.type !== 'unavailable', 10_000);
      assert.ok(daveHere);
      await alice.waitFor((s) => s.is('presence') && s.attrs.from === IRC_DOMAIN && s.attrs.type !== 'unavailable' && !s.getChild('show'), 10_000);
      // Never put out of the room on the way.
      const putOut = alice.pending().filter((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${nick}` && s.attrs.type === 'unavailable');
      assert.deepEqual(putOut.map(String), []);
      assert.equal(t.gateway.ponte.core.connections('irc'), 1);
    });
  });

  describe(`IRC server gone for good, through ${kind}`, () => {
    let irc: IrcServer;
    let t: TestGateway;
    let alice: TestXmppClient;

    before(async () => {
      irc = await startNgircd();
      t = await startTestGateway(start, {
        env: {
          PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain`,
          PONTE_NETWORKS_IRC_RECONNECT_ATTEMPTS: '2',
          PONTE_NETWORKS_IRC_RECONNECT_INITIAL_MS: '1500',
          PONTE_NETWORKS_IRC_RECONNECT_MAX_MS: '1500',
        },
      });
      alice = await t.client('alice');
      await subscribeToGateway(alice);
    });
    after(async () => {
      await t?.stop();
      await irc?.stop();
    });

    test('after the last attempt the room is left and the waiting message bounces with the reason', async () => {
      const channel = `#gone${tag}`;
      const nick = `alice${tag}`;
      await joinRoom(alice, channel, nick);
      await irc.stop();
      await alice.waitFor((s) => s.is('presence') && s.attrs.from === IRC_DOMAIN && /reconnecting/i.test(s.getChildText('status') ?? ''), 10_000);
      await alice.send(groupchat(channel, 'into the void', `void${tag}`));

      const bounce = await alice.waitFor((s) => s.is('message') && s.attrs.id === `void${tag}`, 20_000);
      assert.equal(bounce.attrs.type, 'error', bounce.toString());
      const error = bounce.getChild('error')!;
      assert.ok(error.getChild('remote-server-timeout', STANZAS), error.toString());
      assert.match(error.getChildText('text', STANZAS) ?? '', /could not be re-established/);

      const out = await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/${nick}` && s.attrs.type === 'unavailable', 10_000);
      assert.ok(codes(out).includes(110), out.toString());
      assert.ok(codes(out).includes(333), out.toString());
      assert.equal(t.gateway.ponte.core.connections('irc'), 0);
    });
  });

  describe(`IRC connection limits through ${kind}`, () => {
    let irc: IrcServer;
    let t: TestGateway;

    before(async () => {
      irc = await startNgircd();
      t = await startTestGateway(start, {
        env: {
          PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain`,
          PONTE_NETWORKS_IRC_MAX_CONNECTING_PER_SERVER: '1',
          PONTE_NETWORKS_IRC_THROTTLE_BURST: '3',
          PONTE_NETWORKS_IRC_THROTTLE_LINES_PER_SECOND: '2',
        },
      });
    });
    after(async () => {
      await t?.stop();
      await irc?.stop();
    });

    test('with one registration at a time, five users joining together reach the server one after the other', async () => {
      const channel = `#gate${tag}`;
      const users = await Promise.all(['u1', 'u2', 'u3', 'u4', 'u5'].map((name) => t.client(`${name}${tag}`)));
      await Promise.all(users.map((client, i) => joinRoom(client, channel, `u${i + 1}${tag}`)));
      // In the server's log, every accepted connection registers before the next is accepted.
      const events = [...serverLog(irc).matchAll(/Accepted connection (\d+) |User "[^"]*" registered \(connection (\d+)\)/g)].map((m) =>
        m[1] !== undefined ? `accept ${m[1]}` : `registered ${m[2]}`,
      );
      assert.equal(events.length, 10, events.join(', '));
      for (let i = 0; i < events.length; i += 2) {
        const connection = events[i]!.split(' ')[1];
        assert.deepEqual([events[i], events[i + 1]], [`accept ${connection}`, `registered ${connection}`], events.join(', '));
      }
      assert.equal(t.gateway.ponte.core.connections('irc'), 5);
    });

    test('a burst beyond the flood limit goes out paced, every line once and in order', async () => {
      const channel = `#flood${tag}`;
      const bob = await ircUser(irc, `bob${tag}`, channel);
      const alice = await t.client(`alice${tag}`);
      await joinRoom(alice, channel, `alice${tag}`);
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === `alice${tag}`, 10_000, 'JOIN of alice');
      // Let the bucket fill again after the join (3 lines at 2 per second).
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const bodies = Array.from({ length: 9 }, (_, i) => `line ${i + 1}`);
      for (const [i, body] of bodies.entries()) await alice.send(groupchat(channel, body, `f${i}${tag}`));
      const received: IrcMessage[] = [];
      for (let i = 0; i < bodies.length; i++) {
        received.push(await bob.waitFor((m) => m.command === 'PRIVMSG' && m.params[0] === channel, 15_000, `line ${i + 1}`));
      }
      assert.deepEqual(received.map((m) => m.params[1]), bodies);
      // 3 at once, then 2 a second: the ninth line is written at least 3 s after the first.
      const spread = received.at(-1)!.receivedAt! - received[0]!.receivedAt!;
      assert.ok(spread >= 2_500, `9 lines arrived within ${spread} ms: not paced`);
      await bob.close();
    });
  });
}

for (const [kind, start] of SERVERS) {
  const tag = kind === 'Prosody' ? 'p' : 'e';

  describe(`IRC netsplit through ${kind}, on two linked ngircds`, () => {
    let hub: IrcServer;
    let leaf: IrcServer;
    let t: TestGateway;
    let alice: TestXmppClient;
    const ircClients: IrcConnection[] = [];
    const linkPassword = `link${tag}pw`;

    /** Starts the leaf ngircd linked to the hub and waits for the link. */
    async function startLeaf(): Promise<IrcServer> {
      const server = await startNgircd({ name: 'leaf.localhost', peer: { name: 'irc.localhost', port: hub.port, password: linkPassword } });
      const end = Date.now() + 15_000;
      while (countLinks(serverLog(hub)) < links + 1) {
        if (Date.now() > end) throw new Error(`the leaf did not link to the hub:\n${serverLog(hub).slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      links += 1;
      return server;
    }
    let links = 0;
    const countLinks = (log: string) => (log.match(/Synchronization with "leaf\.localhost" done/g) ?? []).length;

    before(async () => {
      hub = await startNgircd({ peer: { name: 'leaf.localhost', password: linkPassword } });
      leaf = await startLeaf();
      t = await startTestGateway(start, {
        env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${hub.port}/plain`, PONTE_NETWORKS_IRC_NETSPLIT_HOLD_MS: '3000' },
      });
      alice = await t.client('alice');
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
      await leaf?.stop();
      await hub?.stop();
    });

    test('those who return within the hold show nothing; the others leave in one batch with the split as reason and one summary', async () => {
      const channel = `#split${tag}`;
      const nick = `alice${tag}`;
      // A dozen who stay away, and bob, who comes back.
      const stayAway = Array.from({ length: 12 }, (_, i) => `u${i + 1}${tag}`);
      for (const name of [`bob${tag}`, ...stayAway]) ircClients.push(await ircUser(leaf, name, channel));
      const joined = await joinRoom(alice, channel, nick);
      const occupants = joined.filter((s) => s.is('presence')).map((s) => s.attrs.from);
      for (const name of [`bob${tag}`, ...stayAway]) assert.ok(occupants.includes(`${roomJid(channel)}/${name}`), name);

      await leaf.stop();
      // bob comes back at once (on the hub, as after a healed split), the others do not.
      const bob = await ircUser(hub, `bob${tag}`, channel);
      ircClients.push(bob);
      const gone = [];
      for (const name of stayAway) {
        gone.push(await alice.waitFor((s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${roomJid(channel)}/${name}`, 15_000));
      }
      for (const presence of gone) assert.equal(presence.getChildText('status'), 'irc.localhost leaf.localhost');
      // One notice from the room sums it up.
      const summary = await alice.waitFor((s) => s.is('message') && s.attrs.from === roomJid(channel) && /netsplit/.test(s.getChildText('body') ?? ''), 10_000);
      const summed = /^12 users left in a netsplit of irc\.localhost leaf\.localhost: (.+) and 2 more$/.exec(summary.getChildText('body') ?? '');
      assert.ok(summed, summary.toString());
      // Ten of them named (in the order their QUITs came), each once.
      const named = summed[1]!.split(', ');
      assert.equal(new Set(named).size, 10, summed[1]);
      for (const name of named) assert.ok(stayAway.includes(name), name);
      // Nothing at all about bob: neither his leaving nor his return; and no second summary.
      const aboutBob = alice.pending().filter((s) => s.is('presence') && s.attrs.from === `${roomJid(channel)}/bob${tag}`);
      assert.deepEqual(aboutBob.map(String), []);
      // And he is in the room as before: his message arrives from his nick.
      bob.send(`PRIVMSG ${channel} :still here`);
      const message = await alice.waitFor((s) => s.is('message') && s.getChildText('body') === 'still here', 10_000);
      assert.equal(message.attrs.from, `${roomJid(channel)}/bob${tag}`);
      const summaries = alice.pending().filter((s) => s.is('message') && s.attrs.from === roomJid(channel) && /netsplit/.test(s.getChildText('body') ?? ''));
      assert.deepEqual(summaries.map(String), []);
    });
  });
}
