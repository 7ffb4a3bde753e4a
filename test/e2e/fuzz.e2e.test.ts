// Hostile input: a seeded stream of at least 10,000 malformed and hostile
// stanzas from a real client through real Prosody at every kind of gateway
// JID. Every iq and every message that deserves an answer gets one (a result
// or a stanza error with the same id), and afterwards ponte still serves
// everyone normally. A second stream aims at a real IRC channel on ngircd
// (bodies, subjects, private messages, joins with keys, kicks, all with
// CR/LF payloads) while an IRC user watches: no line ponte writes ever
// becomes a second command. Bounded in count and time.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, TEST_DOMAIN, type TestGateway } from '../harness/gateway.js';
import { startProsody } from '../harness/xmpp-server.js';
import { startNgircd, type IrcMessage, type IrcServer } from '../harness/irc-server.js';
import { bareOf, ircUser, joinRoom, nickOfPrefix, roomJid, SERVER } from '../harness/irc-e2e.js';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';

const SEED = 0x5eed;
const STANZAS = 10_000;
const TIME_LIMIT_MS = 240_000;

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMESPACES = [
  'http://jabber.org/protocol/disco#info',
  'http://jabber.org/protocol/disco#items',
  'jabber:iq:register',
  'jabber:iq:gateway',
  'http://jabber.org/protocol/commands',
  'vcard-temp',
  'urn:xmpp:mam:2',
  'http://jabber.org/protocol/muc#admin',
  'http://jabber.org/protocol/muc#owner',
  'urn:xmpp:ping',
  'jabber:iq:version',
  'urn:xmpp:time',
  'jabber:iq:roster',
  'urn:example:unknown',
  '',
];

// Strings that have broken parsers, splitters and IRC lines elsewhere. All legal XML characters.
const HOSTILE = [
  '',
  ' ',
  '\r\nQUIT :pwned\r\n',
  'PRIVMSG #x :\nJOIN #y',
  '%%%%',
  '#',
  '#%',
  '!',
  '@',
  '\\20\\40',
  'a'.repeat(3000),
  '😀'.repeat(400),
  '\u202e\u200b\ufeff',
  '<![CDATA[x]]>',
  '&amp;&lt;',
  '../../etc/passwd',
  '${jndi:ldap://127.0.0.1/x}',
  "'; DROP TABLE users; --",
  '\t\t\t',
  'x'.repeat(70_000),
];

const DOMAINS = [TEST_DOMAIN, 'irc.localhost', 'matrix.localhost'];

type Expectation = 'reply' | 'none';

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** One hostile stanza and whether it must be answered. */
function generate(random: () => number, n: number): { stanza: XmlElement; expect: Expectation } {
  const domain = pick(random, DOMAINS);
  const local = random() < 0.3 ? '' : pick(random, ['#room', '#', 'bob', '!nohandle', 'server.test', `#r${n % 7}`, pick(random, HOSTILE).slice(0, 200).replace(/[\s@/\\]/g, '') || 'x']);
  const resource = random() < 0.3 ? `/${pick(random, HOSTILE).slice(0, 100).replace(/\s/g, '_') || 'r'}` : '';
  const to = `${local ? `${local}@` : ''}${domain}${resource}`;
  const id = `fz${n}`;
  const kind = random();
  if (kind < 0.55) {
    // An iq: get/set must always be answered (result or error).
    const type = pick(random, ['get', 'set', 'get', 'set', 'result', 'error', 'bogus']);
    const children: XmlElement[] = [];
    const count = random() < 0.1 ? 0 : random() < 0.1 ? 2 : 1;
    for (let i = 0; i < count; i++) {
      const ns = pick(random, NAMESPACES);
      const grandchild =
        random() < 0.5
          ? xml(pick(random, ['x', 'field', 'item', 'set', 'remove', 'value']), { var: pick(random, HOSTILE).slice(0, 50), node: pick(random, HOSTILE).slice(0, 50) }, pick(random, HOSTILE))
          : null;
      children.push(xml(pick(random, ['query', 'command', 'vCard', 'ping', 'time', 'x', 'prompt']), ns ? { xmlns: ns } : {}, grandchild));
    }
    const stanza = xml('iq', { type, to, id }, ...children);
    return { stanza, expect: type === 'get' || type === 'set' || type === 'bogus' ? 'reply' : 'none' };
  }
  if (kind < 0.85) {
    // A message to a JID that names nothing usable, or with hostile content: answered with an error.
    const type = pick(random, ['chat', 'groupchat', 'normal', 'error', 'headline']);
    const stanza = xml(
      'message',
      { type, to: `${pick(random, ['!nohandle', '#nojoin', 'bob/x', 'nobody', ''])}${pick(random, ['', '@'])}${domain}`.replace(/^@/, ''), id },
      xml('body', {}, pick(random, HOSTILE)),
      random() < 0.3 ? xml('replace', { xmlns: 'urn:xmpp:message-correct:0', id: pick(random, HOSTILE).slice(0, 40) }) : null,
      random() < 0.3 ? xml('reactions', { xmlns: 'urn:xmpp:reactions:0', id: 'nope' }, xml('reaction', {}, '👍')) : null,
      random() < 0.2 ? xml('subject', {}, pick(random, HOSTILE)) : null,
    );
    return { stanza, expect: 'none' };
  }
  // A presence: no answer is required (joins may be answered, errors never are).
  const type = pick(random, [undefined, 'unavailable', 'subscribe', 'probe', 'error', 'bogus']);
  const stanza = xml(
    'presence',
    { to, id, ...(type ? { type } : {}) },
    random() < 0.5 ? xml('x', { xmlns: 'http://jabber.org/protocol/muc' }, xml('password', {}, pick(random, HOSTILE))) : null,
    random() < 0.3 ? xml('status', {}, pick(random, HOSTILE)) : null,
  );
  return { stanza, expect: 'none' };
}

describe('fuzz: hostile stanzas through Prosody', () => {
  let t: TestGateway;
  let attacker: TestXmppClient;

  before(async () => {
    t = await startTestGateway(startProsody, { env: { PONTE_LOG_LEVEL: 'info' } });
    attacker = await t.client('mallory');
  });
  after(async () => t?.stop());

  test(`${STANZAS} seeded hostile stanzas: every iq answered, the gateway keeps serving`, async () => {
    const random = prng(SEED);
    const awaiting = new Map<string, string>();
    const answered = new Set<string>();
    attacker.raw.on('stanza', (stanza: XmlElement) => {
      const id = stanza.attrs.id;
      if (id?.startsWith('fz') && (stanza.attrs.type === 'result' || stanza.attrs.type === 'error')) {
        answered.add(id);
        awaiting.delete(id);
      }
    });
    const deadline = Date.now() + TIME_LIMIT_MS;
    let sent = 0;
    for (let n = 0; n < STANZAS && Date.now() < deadline; n++) {
      const { stanza, expect } = generate(random, n);
      if (expect === 'reply') awaiting.set(stanza.attrs.id!, stanza.toString().slice(0, 300));
      await attacker.send(stanza);
      sent++;
      // Keep a bounded window in flight, as any client would.
      while (awaiting.size > 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(sent, STANZAS, 'sent all stanzas within the time limit');
    const settle = Date.now() + 30_000;
    while (awaiting.size > 0 && Date.now() < settle) await new Promise((r) => setTimeout(r, 50));
    assert.equal(awaiting.size, 0, `iqs never answered:\n${[...awaiting.values()].slice(0, 5).join('\n')}`);
    assert.ok(answered.size > 4000, `answered ${answered.size}`);

    // ponte never made the server drop its component stream (an invalid
    // stanza from a component is a stream error, and loses what is in flight).
    const drops = t.gateway.logs().filter((line) => line.includes('component disconnected') || line.includes('component connection error'));
    assert.deepEqual(drops, [], 'the component connection was dropped');

    // Still serving: another user, a normal disco and a normal join.
    const alice = await t.client('alice');
    const info = await alice.iq(xml('iq', { type: 'get', to: TEST_DOMAIN }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
    assert.equal(info.getChild('query')?.getChild('identity')?.attrs.category, 'gateway');
    const health = await fetch(`${t.gateway.ponte.httpUrl}/health`);
    assert.equal(health.status, 200);
  });
});

// --- the same, at a real IRC channel ------------------------------------------------

const IRC_STANZAS = 3_000;
const IRC_TIME_LIMIT_MS = 150_000;
const MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
/** Channels the watcher sits in that no stanza names: a JOIN or PRIVMSG there can only be an injection. */
const BAIT = ['#x', '#y', '#pwned'];
/** IRC commands a line from the attacker's connection may carry, as the watcher sees them. */
const ALLOWED_FROM_ATTACKER = new Set(['PRIVMSG', 'NOTICE', 'TOPIC', 'KICK', 'JOIN', 'PART', 'MODE']);

/** One hostile stanza aimed at the IRC side; iqs must be answered. */
function generateIrc(random: () => number, n: number, channel: string, watcher: string): { stanza: XmlElement; expect: Expectation } {
  const id = `fi${n}`;
  const hostile = () => pick(random, HOSTILE);
  const kind = random();
  if (kind < 0.4) {
    // Groupchat bodies, sometimes with a subject (a TOPIC), corrections and reactions.
    return {
      stanza: xml(
        'message',
        { type: 'groupchat', to: roomJid(channel), id },
        random() < 0.85 ? xml('body', {}, hostile()) : null,
        random() < 0.2 ? xml('subject', {}, hostile()) : null,
        random() < 0.1 ? xml('replace', { xmlns: 'urn:xmpp:message-correct:0', id: `fi${Math.floor(random() * n)}` }) : null,
      ),
      expect: 'none',
    };
  }
  if (kind < 0.65) {
    // Private messages: to the watcher as a contact and as an occupant, and to hostile nicks.
    const to = pick(random, [
      `${watcher}%${SERVER}@irc.localhost`,
      `${roomJid(channel)}/${watcher}`,
      `${roomJid(channel)}/${hostile().slice(0, 60) || 'r'}`,
      `${hostile().slice(0, 60).replace(/[\s@/\\#&]/g, '') || 'n'}%${SERVER}@irc.localhost`,
    ]);
    return { stanza: xml('message', { type: 'chat', to, id }, xml('body', {}, hostile())), expect: 'none' };
  }
  if (kind < 0.8) {
    // Joins of hostile channel names with hostile keys (never the bait channels).
    const name = `#${hostile().slice(0, 40).replace(/[\s@/\\%]/g, '') || 'k'}`;
    const to = `${BAIT.includes(name.toLowerCase()) ? '#k' : name}%${SERVER}@irc.localhost/mallory`;
    return {
      stanza: xml('presence', { to, id }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' }, xml('password', {}, hostile()))),
      expect: 'none',
    };
  }
  // Moderation with hostile reasons and nicks: KICK / MODE lines (IRC refuses them: not an operator).
  const item =
    random() < 0.5
      ? xml('item', { nick: random() < 0.5 ? watcher : hostile().slice(0, 60) || 'x', role: 'none' }, xml('reason', {}, hostile()))
      : xml('item', { nick: random() < 0.5 ? watcher : hostile().slice(0, 60) || 'x', role: pick(random, ['participant', 'moderator', 'visitor']) });
  return { stanza: xml('iq', { type: 'set', to: roomJid(channel), id }, xml('query', { xmlns: MUC_ADMIN }, item)), expect: 'reply' };
}

describe('fuzz: hostile stanzas at an IRC channel, through Prosody and ngircd', () => {
  let irc: IrcServer;
  let t: TestGateway;

  before(async () => {
    irc = await startNgircd();
    t = await startTestGateway(startProsody, {
      env: { PONTE_NETWORKS_IRC_SERVERS: `${SERVER}:${irc.port}/plain`, PONTE_NETWORKS_IRC_THROTTLE_BURST: '-1', PONTE_LOG_LEVEL: 'info' },
    });
  });
  after(async () => {
    await t?.stop();
    await irc?.stop();
  });

  test(`${IRC_STANZAS} seeded hostile stanzas at IRC JIDs: no injected IRC command, every iq answered`, async () => {
    const channel = '#fz';
    const watcher = await ircUser(irc, 'watcher', channel);
    for (const bait of BAIT) {
      watcher.send(`JOIN ${bait}`);
      await watcher.waitFor((m) => m.command === '366' && m.params[1] === bait, 10_000, `NAMES of ${bait}`);
    }
    const mallory = await t.client('mallory');
    await joinRoom(mallory, channel, 'mallory');
    await watcher.waitFor((m) => m.command === 'JOIN' && nickOfPrefix(m.prefix) === 'mallory', 10_000, 'JOIN of mallory');
    watcher.clear();

    // Every line the watcher gets from mallory's connection, checked as it comes.
    const violations: string[] = [];
    let seen = 0;
    const check = (m: IrcMessage) => {
      if (nickOfPrefix(m.prefix) !== 'mallory') return;
      seen++;
      const target = (m.params[0] ?? '').toLowerCase();
      if (!ALLOWED_FROM_ATTACKER.has(m.command)) violations.push(m.raw);
      else if (BAIT.includes(target)) violations.push(m.raw);
    };
    const drain = () => {
      for (const m of watcher.pending()) check(m);
      watcher.clear();
    };

    const random = prng(SEED ^ 0x1cc);
    const awaiting = new Map<string, string>();
    mallory.raw.on('stanza', (stanza: XmlElement) => {
      const id = stanza.attrs.id;
      if (id?.startsWith('fi') && (stanza.attrs.type === 'result' || stanza.attrs.type === 'error')) awaiting.delete(id);
    });
    const deadline = Date.now() + IRC_TIME_LIMIT_MS;
    let sent = 0;
    for (let n = 0; n < IRC_STANZAS && Date.now() < deadline; n++) {
      const { stanza, expect } = generateIrc(random, n, channel, watcher.nick);
      if (expect === 'reply') awaiting.set(stanza.attrs.id!, stanza.toString().slice(0, 300));
      await mallory.send(stanza);
      sent++;
      if (n % 100 === 0) drain();
      while (awaiting.size > 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(sent, IRC_STANZAS, 'sent all stanzas within the time limit');
    const settle = Date.now() + 30_000;
    while (awaiting.size > 0 && Date.now() < settle) await new Promise((r) => setTimeout(r, 50));
    assert.equal(awaiting.size, 0, `iqs never answered:\n${[...awaiting.values()].slice(0, 5).join('\n')}`);

    // A last message marks the end: everything before it has reached the watcher.
    await mallory.send(xml('message', { type: 'groupchat', to: roomJid(channel), id: 'fi-end' }, xml('body', {}, 'end of the stream')));
    const end = Date.now() + 60_000;
    let done = false;
    while (!done && Date.now() < end) {
      for (const m of watcher.pending()) {
        check(m);
        if (m.command === 'PRIVMSG' && m.params[0] === channel && m.params[1] === 'end of the stream') done = true;
      }
      watcher.clear();
      if (!done) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(done, 'the closing message reached the IRC channel');
    assert.deepEqual(violations, [], 'lines from the attacker that are not what its stanzas asked for');
    assert.ok(seen > 500, `the watcher saw ${seen} lines from the attacker`);

    // mallory's one connection survived everything: still in the channel, never quit.
    watcher.send(`NAMES ${channel}`);
    const names = await watcher.waitFor((m) => m.command === '353' && m.params[2] === channel, 10_000, 'NAMES');
    assert.ok(names.params[3]!.split(' ').some((n) => n.replace(/^[@+%]/, '') === 'mallory'), `mallory not in ${names.params[3]}`);
    const drops = t.gateway.logs().filter((line) => line.includes('component disconnected') || line.includes('component connection error'));
    assert.deepEqual(drops, [], 'the component connection was dropped');

    // A line over IRC's 510 bytes is refused with a reason, never written (ngircd stops reading a connection that sends one).
    await mallory.send(xml('message', { type: 'groupchat', to: roomJid(channel), id: 'fi-topic' }, xml('subject', {}, 't'.repeat(600))));
    const refused = await mallory.waitFor((s) => s.attrs.id === 'fi-topic' && s.attrs.type === 'error', 10_000);
    assert.ok(refused.getChild('error')?.getChild('not-acceptable', 'urn:ietf:params:xml:ns:xmpp-stanzas'), refused.toString());
    assert.match(refused.getChild('error')?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas') ?? '', /topic is 600 bytes/);

    // Still serving: an ordinary message both ways.
    await mallory.send(xml('message', { type: 'groupchat', to: roomJid(channel) }, xml('body', {}, 'still here')));
    await watcher.waitFor((m) => m.command === 'PRIVMSG' && m.params[1] === 'still here', 10_000, 'the ordinary message');
    watcher.send(`PRIVMSG ${channel} :and back`);
    await mallory.waitFor((s) => s.is('message') && bareOf(s.attrs.from) === roomJid(channel) && s.getChildText('body') === 'and back', 10_000);
    await watcher.close();
  });
});
