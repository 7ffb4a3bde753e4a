// The channel list of an IRC server end to end: disco#items on
// `server@irc.localhost` runs LIST on a real ngircd and pages it with RSM
// (XEP-0059), through Prosody and ejabberd with a real XMPP client.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { connectIrc, startNgircd, type IrcConnection, type IrcServer } from '../harness/irc-server.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';

const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const RSM = 'http://jabber.org/protocol/rsm';
const COMMANDS = 'http://jabber.org/protocol/commands';
const IRC_DOMAIN = 'irc.localhost';
const SERVER = '127.0.0.1';
const SERVER_JID = `${SERVER}@${IRC_DOMAIN}`;

function itemsQuery(set: XmlElement[]): XmlElement {
  return xml('iq', { type: 'get', to: SERVER_JID }, xml('query', { xmlns: DISCO_ITEMS }, xml('set', { xmlns: RSM }, ...set)));
}

interface Page {
  jids: string[];
  names: string[];
  first?: string;
  firstIndex?: string;
  last?: string;
  count?: number;
}

async function page(client: TestXmppClient, set: XmlElement[]): Promise<Page> {
  const reply = await client.iq(itemsQuery(set), 60_000);
  const query = reply.getChild('query', DISCO_ITEMS)!;
  const items = query.getChildren('item');
  const rsm = query.getChild('set', RSM);
  const count = rsm?.getChildText('count');
  return {
    jids: items.map((item) => item.attrs.jid!),
    names: items.map((item) => item.attrs.name ?? ''),
    first: rsm?.getChildText('first') ?? undefined,
    firstIndex: rsm?.getChild('first')?.attrs.index,
    last: rsm?.getChildText('last') ?? undefined,
    count: count === null || count === undefined ? undefined : Number(count),
  };
}

let irc: IrcServer;
before(async () => {
  irc = await startNgircd();
});
after(async () => {
  await irc?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`IRC channel list through ${kind} and ngircd`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const channels = Array.from({ length: 23 }, (_, i) => `#list${tag}${String(i).padStart(2, '0')}`);
    const holders: IrcConnection[] = [];

    before(async () => {
      // Channels exist while someone is in them: three IRC users hold them.
      for (let h = 0; h < 3; h++) {
        const holder = await connectIrc(irc, `hold${tag}${h}`);
        holders.push(holder);
        const mine = channels.filter((_, i) => i % 3 === h);
        holder.send(`JOIN ${mine.join(',')}`);
        for (const channel of mine) await holder.waitFor((m) => m.command === '366' && m.params[1] === channel, 10_000, `NAMES end of ${channel}`);
      }
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain` } });
      alice = await t.client(`alice${tag}`);
    });
    after(async () => {
      await Promise.all(holders.map((h) => h.close().catch(() => undefined)));
      await t?.stop();
    });

    test('the server JID offers the room list with RSM and the settings command', async () => {
      const reply = await alice.iq(xml('iq', { type: 'get', to: SERVER_JID }, xml('query', { xmlns: DISCO_INFO })));
      const features = reply.getChild('query', DISCO_INFO)!.getChildren('feature').map((f) => f.attrs.var);
      assert.ok(features.includes(RSM), `no RSM in ${features.join(' ')}`);
      assert.ok(features.includes(COMMANDS), `no commands in ${features.join(' ')}`);
    });

    test('disco#items pages through every channel of the server, in a stable order, with the count', async () => {
      const seen: string[] = [];
      let current = await page(alice, [xml('max', {}, '10')]);
      assert.equal(current.firstIndex, '0');
      assert.equal(current.jids.length, 10);
      const total = current.count;
      assert.ok(total !== undefined && total >= channels.length, `count ${total}`);
      for (let guard = 0; guard < 20; guard++) {
        seen.push(...current.jids);
        if (current.jids.length < 10 || seen.length >= total!) break;
        current = await page(alice, [xml('max', {}, '10'), xml('after', {}, current.last!)]);
      }
      assert.equal(seen.length, total, 'every item exactly once');
      assert.equal(new Set(seen).size, seen.length, 'no duplicates');
      for (const channel of channels) assert.ok(seen.includes(`${channel}%${SERVER}@${IRC_DOMAIN}`), `${channel} is listed`);
      const ours = seen.filter((jid) => jid.startsWith(`#list${tag}`));
      assert.deepEqual(ours, [...ours].sort(), 'sorted by channel name');
    });

    test('the last page (<before/>) ends with the last channel; an unknown position is item-not-found', async () => {
      const all = await page(alice, [xml('max', {}, '500')]);
      const last = await page(alice, [xml('max', {}, '5'), xml('before', {})]);
      assert.deepEqual(last.jids, all.jids.slice(-5));
      assert.equal(last.firstIndex, String(all.jids.length - 5));
      const reply = await alice.iqRaw(itemsQuery([xml('max', {}, '5'), xml('after', {}, `#nosuch%${SERVER}@${IRC_DOMAIN}`)]));
      assert.equal(reply.attrs.type, 'error');
      assert.ok(reply.getChild('error')?.getChild('item-not-found', 'urn:ietf:params:xml:ns:xmpp-stanzas'), reply.toString());
    });

    test('a connection opened only to list the channels is closed afterwards', async () => {
      const watcher = await connectIrc(irc, `watch${tag}`);
      holders.push(watcher);
      // alice's LIST connection uses her JID's local part as nick; it must be gone again.
      const end = Date.now() + 10_000;
      for (;;) {
        watcher.send(`WHOIS alice${tag}`);
        const reply = await watcher.waitFor((m) => (m.command === '401' || m.command === '311') && m.params[1]?.toLowerCase() === `alice${tag}`, 10_000, 'WHOIS answer');
        if (reply.command === '401') break;
        if (Date.now() > end) assert.fail(`alice${tag} is still connected to the IRC server`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
  });
}
