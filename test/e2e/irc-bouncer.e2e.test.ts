// Bouncer mode end to end, through Prosody and ejabberd on ngircd: a channel
// the user marked persistent (ad-hoc "configure" on the channel JID) stays
// joined on IRC when the user's last resource leaves it; what is said
// meanwhile is in the room's history and in MAM when they come back, also
// when the client simply goes offline (its server's unavailable presence,
// no MUC leave). A channel not marked so is left (PART) as before.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { startNgircd, type IrcConnection, type IrcServer } from '../harness/irc-server.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';
import { configure, joinRoom } from './irc-settings-adhoc.js';
import { ircUser, nickOfPrefix, roomJid, SERVER } from '../harness/irc-e2e.js';

const MAM = 'urn:xmpp:mam:2';
const DELAY = 'urn:xmpp:delay';
const FORWARD = 'urn:xmpp:forward:0';

async function leave(client: TestXmppClient, channel: string, nick: string): Promise<void> {
  await client.send(xml('presence', { to: `${roomJid(channel)}/${nick}`, type: 'unavailable' }));
  await client.waitFor((s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${roomJid(channel)}/${nick}`, 10_000);
}

let irc: IrcServer;
before(async () => {
  irc = await startNgircd();
});
after(async () => {
  await irc?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`IRC bouncer mode through ${kind} and ngircd`, () => {
    const tag = kind === 'Prosody' ? 'p' : 'e';
    let t: TestGateway;
    let alice: TestXmppClient;
    const ircClients: IrcConnection[] = [];

    before(async () => {
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain` } });
      alice = await t.client('alice');
    });
    after(async () => {
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
    });

    test('a persistent channel stays joined while the user is away; what was said is there on return', async () => {
      const channel = `#stay${tag}`;
      const nick = `alice${tag}`;
      const bob = await ircUser(irc, `bob${tag}`, channel);
      ircClients.push(bob);
      await configure(alice, roomJid(channel), { persistent: 'true' });
      const joined = await joinRoom(alice, roomJid(channel), nick);
      assert.equal(joined.error, undefined);
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick, 10_000, 'JOIN of alice');

      await leave(alice, channel, nick);
      bob.send(`PRIVMSG ${channel} :said while alice was away`);
      // Still on IRC: no PART came, and NAMES shows alice.
      assert.deepEqual(bob.pending().filter((m) => m.command === 'PART').map((m) => m.raw), []);
      bob.clear();
      bob.send(`NAMES ${channel}`);
      const names = await bob.waitFor((m) => m.command === '353', 10_000, 'NAMES');
      assert.match(names.params.at(-1) ?? '', new RegExp(`(^|[ @+])${nick}( |$)`));
      assert.equal(t.gateway.ponte.core.connections('irc'), 1);

      // Back: the message is in the join's history, with its delay...
      const back = await joinRoom(alice, roomJid(channel), nick);
      const history = back.stanzas.find((s: XmlElement) => s.is('message') && s.getChildText('body') === 'said while alice was away');
      assert.ok(history, back.stanzas.map(String).join('\n'));
      assert.ok(history.getChild('delay', DELAY), history.toString());
      // Never left, never rejoined on IRC.
      assert.deepEqual(bob.pending().filter((m) => ['JOIN', 'PART', 'QUIT'].includes(m.command) && nickOfPrefix(m.prefix) === nick).map((m) => m.raw), []);

      // ...and in MAM.
      const queryId = `q${tag}`;
      const fin = alice.iq(xml('iq', { type: 'set', to: roomJid(channel) }, xml('query', { xmlns: MAM, queryid: queryId })));
      const result = await alice.waitFor(
        (s) => s.is('message') && s.getChild('result', MAM)?.attrs.queryid === queryId && s.getChild('result', MAM)?.getChild('forwarded', FORWARD)?.getChild('message')?.getChildText('body') === 'said while alice was away',
        10_000,
      );
      assert.ok(result);
      await fin;
    });

    test('the client going offline (no MUC leave) keeps a persistent channel joined; what was said is in MAM on return', async () => {
      const channel = `#offline${tag}`;
      const nick = `dora${tag}`;
      const bob = await ircUser(irc, `obob${tag}`, channel);
      ircClients.push(bob);
      const dora = await t.client('dora', 'phone');
      await configure(dora, roomJid(channel), { persistent: 'true' });
      assert.equal((await joinRoom(dora, roomJid(channel), nick)).error, undefined);
      await bob.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick, 10_000, 'JOIN of dora');
      const connectionsBefore = t.gateway.ponte.core.connections('irc');

      // The only resource disconnects: its server tells the room with an unavailable presence.
      await dora.stop();
      bob.send(`PRIVMSG ${channel} :said while dora was offline`);
      bob.clear();
      bob.send(`NAMES ${channel}`);
      const names = await bob.waitFor((m) => m.command === '353', 10_000, 'NAMES');
      assert.match(names.params.at(-1) ?? '', new RegExp(`(^|[ @+])${nick}( |$)`), 'dora is still in the channel');
      assert.equal(t.gateway.ponte.core.connections('irc'), connectionsBefore);

      // Back on another device: the message is in MAM.
      const back = await t.client('dora', 'laptop');
      const queryId = `off${tag}`;
      const fin = back.iq(xml('iq', { type: 'set', to: roomJid(channel) }, xml('query', { xmlns: MAM, queryid: queryId })));
      const result = await back.waitFor(
        (s) => s.is('message') && s.getChild('result', MAM)?.attrs.queryid === queryId && s.getChild('result', MAM)?.getChild('forwarded', FORWARD)?.getChild('message')?.getChildText('body') === 'said while dora was offline',
        10_000,
      );
      assert.ok(result);
      await fin;
      // Joining again shows it too, and does not rejoin on IRC.
      const rejoined = await joinRoom(back, roomJid(channel), nick);
      assert.ok(rejoined.stanzas.some((s) => s.is('message') && s.getChildText('body') === 'said while dora was offline'), rejoined.stanzas.map(String).join('\n'));
      assert.deepEqual(bob.pending().filter((m) => ['JOIN', 'PART', 'QUIT'].includes(m.command) && nickOfPrefix(m.prefix) === nick).map((m) => m.raw), []);
    });

    test('the client going offline leaves a channel not marked persistent on IRC', async () => {
      const channel = `#gone${tag}`;
      const nick = `erin${tag}`;
      const carol = await ircUser(irc, `ocarol${tag}`, channel);
      ircClients.push(carol);
      const erin = await t.client('erin');
      await joinRoom(erin, roomJid(channel), nick);
      await carol.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick, 10_000, 'JOIN of erin');
      await erin.stop();
      const gone = await carol.waitFor((m) => (m.command === 'PART' || m.command === 'QUIT') && nickOfPrefix(m.prefix) === nick, 10_000, 'erin leaves');
      assert.ok(gone);
    });

    test('a channel not marked persistent is left on IRC with the last resource', async () => {
      const channel = `#go${tag}`;
      const nick = `alice${tag}`;
      const carol = await ircUser(irc, `carol${tag}`, channel);
      ircClients.push(carol);
      await joinRoom(alice, roomJid(channel), nick);
      await carol.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === nick, 10_000, 'JOIN of alice');
      await leave(alice, channel, nick);
      const part = await carol.waitFor((m) => m.command === 'PART' && m.params[0] === channel, 10_000, 'PART of alice');
      assert.equal(nickOfPrefix(part.prefix), nick);
    });
  });
}
