// IRCv3 chathistory on join and draft/multiline, end to end on the protocol
// lines: a real XMPP client (through Prosody and ejabberd), ponte, and the
// scripted IRC server (test/harness/scripted-irc.ts: no packaged server
// offers these caps), which records every line ponte writes. The last test
// takes the caps away (for connections made after that) and checks that
// ponte then behaves as before.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SERVERS, startTestGateway, type TestGateway } from '../harness/gateway.js';
import { connectIrc, type IrcConnection } from '../harness/irc-server.js';
import { startScriptedIrc, type ReceivedLine, type ScriptedIrcServer } from '../harness/scripted-irc.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';

const MUC = 'http://jabber.org/protocol/muc';
const DELAY = 'urn:xmpp:delay';
const IRC_DOMAIN = 'irc.localhost';
const SERVER = '127.0.0.1';
const CAPS = {
  batch: '',
  'server-time': '',
  'message-tags': '',
  'echo-message': '',
  'labeled-response': '',
  'draft/chathistory': '',
  'draft/multiline': 'max-bytes=4096,max-lines=24',
};

const roomJid = (channel: string) => `${channel}%${SERVER}@${IRC_DOMAIN}`;
const bareOf = (jid: string | undefined) => (jid ?? '').split('/')[0]!;
const groupchat = (to: string, body: string) => xml('message', { to, type: 'groupchat' }, xml('body', {}, body));

async function joinRoom(client: TestXmppClient, room: string, nick: string): Promise<XmlElement[]> {
  await client.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: MUC })));
  const out: XmlElement[] = [];
  for (;;) {
    const el = await client.waitFor((s) => bareOf(s.attrs.from) === room, 20_000);
    out.push(el);
    if (el.attrs.type === 'error') throw new Error(`join of ${room} failed: ${el.toString()}`);
    if (el.is('message') && el.getChild('subject') && !el.getChild('body')) return out;
  }
}

async function leaveRoom(client: TestXmppClient, room: string, nick: string): Promise<void> {
  await client.send(xml('presence', { to: `${room}/${nick}`, type: 'unavailable' }));
  await client.waitFor((s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${room}/${nick}`, 10_000);
}

/** The lines of the first complete client batch `nick` sent to `target`, from BATCH +ref to BATCH -ref. */
async function batchFrom(server: ScriptedIrcServer, nick: string, target: string): Promise<ReceivedLine[]> {
  const opening = await server.waitForLine((l) => l.nick === nick && l.command === 'BATCH' && l.params[0]!.startsWith('+') && l.params[2] === target, 10_000, `BATCH + from ${nick}`);
  const ref = opening.params[0]!.slice(1);
  await server.waitForLine((l) => l.nick === nick && l.command === 'BATCH' && l.params[0] === `-${ref}`, 10_000, `BATCH -${ref}`);
  const all = server.receivedFrom(nick);
  return all.slice(all.indexOf(opening), all.findIndex((l) => l.command === 'BATCH' && l.params[0] === `-${ref}`) + 1);
}

/** The bodies and senders of a room's MAM archive, in archive order. */
async function archived(client: TestXmppClient, room: string): Promise<Array<[string | undefined, string | null]>> {
  const queryId = `q${Math.random().toString(36).slice(2)}`;
  await client.iq(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: 'urn:xmpp:mam:2', queryid: queryId })));
  return client
    .pending()
    .filter((s) => s.is('message') && s.getChild('result', 'urn:xmpp:mam:2')?.attrs.queryid === queryId)
    .map((s) => s.getChild('result', 'urn:xmpp:mam:2')!.getChild('forwarded', 'urn:xmpp:forward:0')!.getChild('message')!)
    .map((m) => [m.attrs.from, m.getChildText('body')]);
}

/** Polls `check` until it holds (bounded). */
async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let full: ScriptedIrcServer;
before(async () => {
  full = await startScriptedIrc({ caps: CAPS, chathistoryLimit: 100 });
});
after(async () => {
  await full?.stop();
});

for (const [kind, start] of SERVERS) {
  describe(`IRCv3 history and multi-line through ${kind}`, () => {
    let t: TestGateway;
    let alice: TestXmppClient;
    const tag = kind === 'Prosody' ? 'p' : 'e';
    const nick = `alice${tag}`;
    const ircClients: IrcConnection[] = [];

    before(async () => {
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${full.port}/plain` } });
      alice = await t.client('alice');
    });
    after(async () => {
      full.setCaps(CAPS);
      await Promise.all(ircClients.map((c) => c.close().catch(() => undefined)));
      await t?.stop();
    });

    test('joining gets the channel history from CHATHISTORY, with its times as delays and its msgids as ids', async () => {
      const channel = `#hist${tag}`;
      const seeded = [
        { nick: 'bob', text: 'first of the day', time: new Date('2026-01-02T03:04:05.000Z'), msgid: `h1${tag}` },
        { nick: 'carol', text: '', time: new Date('2026-01-02T03:05:00.000Z'), msgid: `h2${tag}`, lines: [{ text: 'a paste:', concat: false }, { text: 'line two is ', concat: false }, { text: 'long', concat: true }] },
        { nick: 'bob', text: 'latest', time: new Date('2026-01-02T04:00:00.000Z'), msgid: `h3${tag}` },
      ];
      full.seedHistory(channel, seeded);
      const sequence = await joinRoom(alice, roomJid(channel), nick);

      const request = await full.waitForLine((l) => l.nick === nick && l.command === 'CHATHISTORY', 5_000, 'CHATHISTORY');
      // The server allows 100; ponte asks at most 50.
      assert.deepEqual(request.params, ['LATEST', channel, '*', '50']);
      const capReq = full.receivedFrom(nick).find((l) => l.command === 'CAP' && l.params[0] === 'REQ');
      assert.ok(capReq?.params[1]?.split(' ').includes('draft/chathistory'), capReq?.raw);

      const history = sequence.filter((s) => s.is('message') && s.getChild('body') !== undefined);
      assert.deepEqual(
        history.map((m) => [m.attrs.from, m.attrs.id, m.getChildText('body'), m.getChild('delay', DELAY)?.attrs.stamp]),
        [
          [`${roomJid(channel)}/bob`, `h1${tag}`, 'first of the day', '2026-01-02T03:04:05Z'],
          [`${roomJid(channel)}/carol`, `h2${tag}`, 'a paste:\nline two is long', '2026-01-02T03:05:00Z'],
          [`${roomJid(channel)}/bob`, `h3${tag}`, 'latest', '2026-01-02T04:00:00Z'],
        ],
      );
      // History comes before the subject, which ends the join (XEP-0045 §7.2).
      assert.ok(sequence.at(-1)!.getChild('subject'));

      // The history is archived (MAM); a rejoin gets it again and archives only what is new.
      await leaveRoom(alice, roomJid(channel), nick);
      full.seedHistory(channel, [{ nick: 'bob', text: 'said while away', time: new Date('2026-01-02T05:00:00.000Z'), msgid: `h4${tag}` }]);
      const again = await joinRoom(alice, roomJid(channel), nick);
      assert.deepEqual(again.filter((s) => s.is('message') && s.getChild('body') !== undefined).map((m) => m.attrs.id), [`h1${tag}`, `h2${tag}`, `h3${tag}`, `h4${tag}`]);
      const expected: Array<[string, string]> = [
        [`${roomJid(channel)}/bob`, 'first of the day'],
        [`${roomJid(channel)}/carol`, 'a paste:\nline two is long'],
        [`${roomJid(channel)}/bob`, 'latest'],
        [`${roomJid(channel)}/bob`, 'said while away'],
      ];
      let rows: Array<[string | undefined, string | null]> = [];
      await eventually(async () => (rows = await archived(alice, roomJid(channel))).length >= expected.length, 'the history in the archive');
      assert.deepEqual(rows, expected);
    });

    test('a server that refuses CHATHISTORY, or does not answer, still lets the join finish, without history', async () => {
      for (const answer of ['fail', 'silent'] as const) {
        const channel = `#nohist${answer}${tag}`;
        full.seedHistory(channel, [{ nick: 'bob', text: 'not to be shown', time: new Date('2026-01-02T03:04:05.000Z') }]);
        full.setChathistoryAnswer(answer);
        try {
          // Bounded: the join waits at most 5 s for the history.
          const sequence = await joinRoom(alice, roomJid(channel), nick);
          assert.deepEqual(sequence.filter((s) => s.is('message') && s.getChild('body') !== undefined).map(String), [], answer);
          assert.ok(full.receivedFrom(nick).some((l) => l.command === 'CHATHISTORY' && l.params[1] === channel), `asked (${answer})`);
        } finally {
          full.setChathistoryAnswer('batch');
        }
        await leaveRoom(alice, roomJid(channel), nick);
      }
    });

    test('a multi-line body goes out as exactly one draft/multiline batch, long lines cut with multiline-concat', async () => {
      const channel = `#ml${tag}`;
      await joinRoom(alice, roomJid(channel), nick);
      const words: string[] = [];
      while (Buffer.byteLength(words.join(' ')) < 700) words.push(`wörd${words.length}`);
      const long = words.join(' ');
      const body = `first line\n\n${long}\nlast line`;
      await alice.send(groupchat(roomJid(channel), body));

      const batch = await batchFrom(full, nick, channel);
      const ref = batch[0]!.params[0]!.slice(1);
      assert.deepEqual(batch[0]!.params, [`+${ref}`, 'draft/multiline', channel]);
      assert.deepEqual(batch.at(-1)!.params, [`-${ref}`]);
      const inner = batch.slice(1, -1);
      for (const line of inner) {
        assert.equal(line.command, 'PRIVMSG', line.raw);
        assert.equal(line.params[0], channel, line.raw);
        assert.equal(line.tags.batch, ref, line.raw);
        // Only batch and multiline-concat may be on the lines (the spec).
        assert.deepEqual(Object.keys(line.tags).filter((k) => k !== 'batch' && k !== 'draft/multiline-concat'), [], line.raw);
        // Relayed with the longest prefix the server could add, it stays within 512 bytes.
        assert.ok(Buffer.byteLength(`:${nick}!${'u'.repeat(10)}@${'h'.repeat(63)} PRIVMSG ${channel} :${line.params[1]}\r\n`) <= 512, line.raw);
      }
      const texts = inner.map((l) => ({ text: l.params[1], concat: 'draft/multiline-concat' in l.tags }));
      assert.deepEqual(texts.slice(0, 2), [{ text: 'first line', concat: false }, { text: '', concat: false }]);
      assert.deepEqual(texts.at(-1), { text: 'last line', concat: false });
      const longPieces = texts.slice(2, -1);
      assert.ok(longPieces.length >= 2, `the long line in ${longPieces.length} piece(s)`);
      assert.equal(longPieces[0]!.concat, false);
      for (const piece of longPieces.slice(1)) assert.equal(piece.concat, true);
      // The cut space stays at the end of a piece (the spec's recommendation), so joining restores the line.
      for (const piece of longPieces.slice(0, -1)) assert.match(piece.text!, / $/);
      assert.equal(longPieces.map((p) => p.text).join(''), long);
      // Nothing else came from alice between the batch lines, and no plain PRIVMSG of the body went out.
      const all = full.receivedFrom(nick);
      const first = all.indexOf(batch[0]!);
      assert.deepEqual(all.slice(first, first + batch.length).map((l) => l.raw), batch.map((l) => l.raw));
      assert.equal(all.filter((l) => l.command === 'PRIVMSG' && l.params[0] === channel && l.tags.batch === undefined).length, 0);
      // The server took it: the channel's history holds one message with the whole body.
      assert.equal(full.history(channel).at(-1)?.text, body);
      // The message's label is on the opening BATCH; the server's echo (one batch) completes it: reflected once, whole.
      assert.ok(batch[0]!.tags.label, batch[0]!.raw);
      const reflected = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${roomJid(channel)}/${nick}` && s.getChild('body') !== undefined, 10_000);
      assert.equal(reflected.getChildText('body'), body);
    });

    test('an incoming multiline batch arrives as one message', async () => {
      const channel = `#in${tag}`;
      const dave = await connectIrc(full, `dave${tag}`, { caps: ['batch', 'message-tags', 'draft/multiline'] });
      ircClients.push(dave);
      dave.send(`JOIN ${channel}`);
      await dave.waitFor((m) => m.command === '366', 10_000, 'end of NAMES');
      await joinRoom(alice, roomJid(channel), nick);
      dave.send(`BATCH +b1 draft/multiline ${channel}`);
      dave.send(`@batch=b1 PRIVMSG ${channel} hello`);
      dave.send(`@batch=b1 PRIVMSG ${channel} :how is `);
      dave.send(`@batch=b1;draft/multiline-concat PRIVMSG ${channel} :everyone?`);
      dave.send(`@batch=b1 PRIVMSG ${channel} :`);
      dave.send(`@batch=b1 PRIVMSG ${channel} :bye`);
      dave.send('BATCH -b1');
      dave.send(`PRIVMSG ${channel} :done`);
      const from = `${roomJid(channel)}/dave${tag}`;
      await alice.waitFor((s) => s.is('message') && s.attrs.from === from && s.getChildText('body') === 'done', 10_000);
      const before = alice.pending().filter((s) => s.is('message') && s.attrs.from === from);
      assert.deepEqual(before.map((m) => m.getChildText('body')), ['hello\nhow is everyone?\n\nbye']);
    });

    test('without the caps: no CHATHISTORY on join, separate PRIVMSGs for a multi-line body', async () => {
      // Out of every room: the connection closes, and the next one finds no caps.
      for (const earlier of ['#hist', '#ml', '#in']) await leaveRoom(alice, roomJid(`${earlier}${tag}`), nick);
      await eventually(() => t.gateway.ponte.core.connections('irc') === 0, 'the IRC connection to close');
      full.setCaps({});
      const channel = `#plain${tag}`;
      const room = roomJid(channel);
      const classic = full;
      const before = full.receivedFrom(nick).length;
      classic.seedHistory(channel, [{ nick: 'bob', text: 'never asked for', time: new Date('2026-01-02T03:04:05.000Z') }]);
      const sequence = await joinRoom(alice, room, nick);
      assert.deepEqual(sequence.filter((s) => s.is('message') && s.getChild('body') !== undefined).map(String), []);
      await alice.send(groupchat(room, 'one\ntwo\n\nthree'));
      await classic.waitForLine((l) => l.nick === nick && l.command === 'PRIVMSG' && l.params[1] === 'three', 10_000, 'the last line');
      const sent = classic.receivedFrom(nick).slice(before);
      assert.ok(sent.some((l) => l.command === 'USER'), 'a new connection');
      assert.deepEqual(sent.filter((l) => l.command === 'PRIVMSG').map((l) => [l.params[0], l.params[1], Object.keys(l.tags).length]), [
        [channel, 'one', 0],
        [channel, 'two', 0],
        [channel, 'three', 0],
      ]);
      assert.deepEqual(sent.filter((l) => l.command === 'CHATHISTORY' || l.command === 'BATCH').map((l) => l.raw), []);
      await leaveRoom(alice, room, nick);
      full.setCaps(CAPS);
    });
  });
}

// Every capability of issue 4's list that the server offers is asked for, after CAP LS 302.
const EVERY_CAP = [
  'server-time', 'echo-message', 'message-tags', 'labeled-response', 'batch', 'draft/chathistory', 'away-notify',
  'account-notify', 'extended-join', 'multi-prefix', 'userhost-in-names', 'draft/multiline', 'cap-notify', 'chghost',
];

for (const [kind, start] of SERVERS) {
  describe(`IRCv3 capability negotiation through ${kind}`, () => {
    let server: ScriptedIrcServer;
    let t: TestGateway;

    before(async () => {
      server = await startScriptedIrc({ caps: Object.fromEntries(EVERY_CAP.map((cap) => [cap, cap === 'draft/multiline' ? 'max-bytes=4096' : ''])) });
      t = await startTestGateway(start, { env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${server.port}/plain` } });
    });
    after(async () => {
      await t?.stop();
      await server?.stop();
    });

    test('CAP LS 302, then a request for every capability ponte uses that the server offers', async () => {
      const alice = await t.client('alice');
      const room = `#caps%${SERVER}@${IRC_DOMAIN}`;
      await alice.send(xml('presence', { to: `${room}/alice` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })));
      await alice.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === room && s.getChild('subject') !== undefined, 20_000);
      const capLines = server.received().filter((l) => l.command === 'CAP');
      assert.deepEqual(capLines[0]?.params, ['LS', '302']);
      const requested = new Set(capLines.filter((l) => l.params[0] === 'REQ').flatMap((l) => (l.params.at(-1) ?? '').split(' ')));
      assert.deepEqual(EVERY_CAP.filter((cap) => !requested.has(cap)), []);
    });
  });
}
