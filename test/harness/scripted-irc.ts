// A small IRC server for tests of IRCv3 features no Debian-packaged server
// offers: `draft/chathistory` (CHATHISTORY LATEST/BEFORE answered with a
// `chathistory` batch) and `draft/multiline` (client batches accepted,
// relayed as batches or as plain lines). It is a protocol peer that follows
// the specs (ircv3.net: capability negotiation 3.2, batch, message-tags,
// server-time, message-ids, chathistory, multiline), not a stand-in for an
// installable server: it speaks real IRC over TCP on 127.0.0.1, and records
// every line each client sends so tests can assert the exact protocol lines.
//
// What it does: CAP LS 302 / REQ / ACK / NAK / END, NICK/USER, 001-005 (ISUPPORT
// with CHATHISTORY=<n> and MSGREFTYPES=timestamp,msgid when chathistory is
// offered), PING, JOIN (echo, 353/366), PART, QUIT, PRIVMSG/NOTICE relayed to the
// channel with `msgid` and `time` (to clients that negotiated message-tags /
// server-time) and kept as the channel's history, BATCH +ref draft/multiline
// from a client (checked against max-bytes/max-lines, FAIL BATCH on errors),
// echo-message with labeled-response labels (on the opening BATCH of a
// multiline echo, as the multiline spec says).
// Lines it does not know get 421.
import { createServer, type Server, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { ircLineParser, MessageTags } from 'irc-framework';
import { freePort } from './ports.js';

export interface ScriptedIrcOptions {
  /** Capabilities offered in CAP LS, with their values ('' for none). Default: none (a classic server). */
  caps?: Record<string, string>;
  /** ISUPPORT CHATHISTORY=<n> (default 100) when chathistory is offered. */
  chathistoryLimit?: number;
}

/** One stored channel message. */
export interface StoredMessage {
  nick: string;
  command: 'PRIVMSG' | 'NOTICE';
  text: string;
  time: Date;
  msgid: string;
  /** Lines of a multiline message (text is them joined); undefined for a one-line message. */
  lines?: Array<{ text: string; concat: boolean }>;
}

/** A line a client sent, as received. */
export interface ReceivedLine {
  /** The client's nick when the line arrived ('' before NICK). */
  nick: string;
  raw: string;
  command: string;
  params: string[];
  tags: Record<string, string>;
}

export interface ScriptedIrcServer {
  host: '127.0.0.1';
  port: number;
  /** Not served (the connectIrc helper's type wants it). */
  tlsPort: number;
  name: string;
  /** Every line every client sent, in order of arrival. */
  received(): ReceivedLine[];
  /** Lines received from `nick` (case-insensitive). */
  receivedFrom(nick: string): ReceivedLine[];
  /** Resolves with the first received line (past or future) matching `predicate`. */
  waitForLine(predicate: (line: ReceivedLine) => boolean, timeoutMs?: number, what?: string): Promise<ReceivedLine>;
  /** Adds messages to a channel's history as if they had been said then (oldest first). */
  seedHistory(channel: string, messages: Array<{ nick: string; text: string; time: Date; msgid?: string; lines?: StoredMessage['lines'] }>): void;
  history(channel: string): StoredMessage[];
  /** How CHATHISTORY is answered from now on: a batch (the default), a FAIL, or not at all. */
  setChathistoryAnswer(answer: 'batch' | 'fail' | 'silent'): void;
  /** Changes the capabilities offered to connections that register from now on. */
  setCaps(caps: Record<string, string>): void;
  stop(): Promise<void>;
}

const SERVER_NAME = 'scripted.localhost';

interface ClientState {
  socket: Socket;
  nick: string;
  user: string;
  registered: boolean;
  capNegotiating: boolean;
  caps: Set<string>;
  /** Client batches being received, by reference. */
  batches: Map<string, { type: string; target: string; lines: Array<{ text: string; concat: boolean }>; tags: Record<string, string> }>;
}

function stampOf(date: Date): string {
  return date.toISOString();
}

export async function startScriptedIrc(options: ScriptedIrcOptions = {}): Promise<ScriptedIrcServer> {
  let offered = options.caps ?? {};
  const chathistoryOffered = () => 'draft/chathistory' in offered || 'chathistory' in offered;
  const multilineLimits = () => parseLimits(offered['draft/multiline']);
  const received: ReceivedLine[] = [];
  const lineWaiters: Array<{ predicate: (line: ReceivedLine) => boolean; resolve: (line: ReceivedLine) => void }> = [];
  const clients = new Set<ClientState>();
  const channels = new Map<string, { name: string; members: Set<ClientState>; history: StoredMessage[] }>();
  let batchCounter = 0;
  let chathistoryAnswer: 'batch' | 'fail' | 'silent' = 'batch';

  const channelOf = (name: string) => {
    const key = name.toLowerCase();
    let channel = channels.get(key);
    if (!channel) {
      channel = { name, members: new Set(), history: [] };
      channels.set(key, channel);
    }
    return channel;
  };
  const mask = (c: ClientState) => `${c.nick}!${c.user}@127.0.0.1`;
  const write = (c: ClientState, line: string) => {
    if (!c.socket.destroyed) c.socket.write(`${line}\r\n`);
  };
  const numeric = (c: ClientState, code: string, ...params: string[]) => {
    const last = params.length > 0 ? params.length - 1 : -1;
    const text = params.map((p, i) => (i === last ? `:${p}` : p)).join(' ');
    write(c, `:${SERVER_NAME} ${code} ${c.nick || '*'}${text ? ` ${text}` : ''}`);
  };
  /** Tags a client negotiated, on a line to it. */
  const tagged = (c: ClientState, tags: Record<string, string | true>, line: string) => {
    const allowed: Record<string, string | true> = {};
    for (const [key, value] of Object.entries(tags)) {
      if (key === 'time' && !c.caps.has('server-time')) continue;
      if (key === 'batch' && !c.caps.has('batch')) continue;
      if (key !== 'time' && key !== 'batch' && !c.caps.has('message-tags')) continue;
      allowed[key] = value;
    }
    const encoded = MessageTags.encode(allowed);
    return encoded ? `@${encoded} ${line}` : line;
  };
  const trailing = (text: string) => `:${text}`;

  const register = (c: ClientState) => {
    if (c.registered || c.capNegotiating || !c.nick || !c.user) return;
    c.registered = true;
    numeric(c, '001', `Welcome to the scripted IRC server ${mask(c)}`);
    numeric(c, '002', `Your host is ${SERVER_NAME}`);
    numeric(c, '003', 'This server was created for a test');
    write(c, `:${SERVER_NAME} 004 ${c.nick} ${SERVER_NAME} scripted-1 io ovntk`);
    const isupport = ['CHANTYPES=#', 'PREFIX=(ov)@+', 'CHANMODES=b,k,l,imnt', 'CASEMAPPING=ascii', 'NETWORK=Scripted'];
    if (chathistoryOffered()) isupport.push(`CHATHISTORY=${options.chathistoryLimit ?? 100}`, 'MSGREFTYPES=timestamp,msgid');
    write(c, `:${SERVER_NAME} 005 ${c.nick} ${isupport.join(' ')} :are supported by this server`);
    numeric(c, '422', 'MOTD File is missing');
  };

  /** A message from `from` to the channel's other members (and into its history). */
  /** A message to the channel's members (back to the sender too with echo-message, labelled per labeled-response), kept as history. */
  const relay = (from: { nick: string; mask: string; state?: ClientState; label?: string }, channelName: string, message: StoredMessage) => {
    const channel = channelOf(channelName);
    channel.history.push(message);
    for (const member of channel.members) {
      if (member === from.state && !member.caps.has('echo-message')) continue;
      const tags: Record<string, string> = { msgid: message.msgid, time: stampOf(message.time) };
      if (member === from.state && from.label !== undefined && member.caps.has('labeled-response')) tags.label = from.label;
      if (message.lines && member.caps.has('draft/multiline') && member.caps.has('batch')) {
        const ref = `ml${++batchCounter}`;
        write(member, tagged(member, tags, `:${from.mask} BATCH +${ref} draft/multiline ${channel.name}`));
        for (const line of message.lines) {
          const lineTags: Record<string, string | true> = { batch: ref };
          if (line.concat) lineTags['draft/multiline-concat'] = true;
          write(member, tagged(member, lineTags, `:${from.mask} ${message.command} ${channel.name} ${trailing(line.text)}`));
        }
        write(member, `:${from.mask} BATCH -${ref}`);
      } else if (message.lines) {
        // Fallback (spec): the lines as they were sent, no blank ones, the msgid on the first only.
        let first = true;
        for (const line of message.lines) {
          if (line.text === '') continue;
          write(member, tagged(member, first ? tags : { time: tags.time! }, `:${from.mask} ${message.command} ${channel.name} ${trailing(line.text)}`));
          first = false;
        }
      } else {
        write(member, tagged(member, tags, `:${from.mask} ${message.command} ${channel.name} ${trailing(message.text)}`));
      }
    }
  };

  const chathistory = (c: ClientState, params: string[]) => {
    const [sub, target, ref, limitText] = params;
    if (chathistoryAnswer === 'silent') return;
    if (chathistoryAnswer === 'fail') return write(c, `:${SERVER_NAME} FAIL CHATHISTORY MESSAGE_ERROR ${sub ?? '*'} ${target ?? '*'} :Messages could not be retrieved`);
    if (!sub || !target || !ref || !limitText) return write(c, `:${SERVER_NAME} FAIL CHATHISTORY NEED_MORE_PARAMS ${sub ?? '*'} :Missing parameters`);
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1) return write(c, `:${SERVER_NAME} FAIL CHATHISTORY INVALID_PARAMS ${sub} ${limitText} :Invalid limit`);
    const channel = channels.get(target.toLowerCase());
    if (!channel?.members.has(c)) return write(c, `:${SERVER_NAME} FAIL CHATHISTORY INVALID_TARGET ${sub} ${target} :Messages could not be retrieved`);
    let pool: StoredMessage[];
    const upper = sub.toUpperCase();
    if (upper === 'LATEST') {
      if (ref !== '*') return write(c, `:${SERVER_NAME} FAIL CHATHISTORY INVALID_PARAMS LATEST ${ref} :Only * is supported here`);
      pool = channel.history;
    } else if (upper === 'BEFORE') {
      const bound = boundOf(channel.history, ref);
      if (bound === null) return write(c, `:${SERVER_NAME} FAIL CHATHISTORY INVALID_MSGREFTYPE BEFORE ${ref} :Unknown message reference`);
      pool = channel.history.filter((m) => m.time.getTime() < bound);
    } else {
      return write(c, `:${SERVER_NAME} FAIL CHATHISTORY INVALID_PARAMS ${sub} :Unknown subcommand`);
    }
    const chosen = pool.slice(-Math.min(limit, options.chathistoryLimit ?? 100));
    const ref2 = `ch${++batchCounter}`;
    write(c, `:${SERVER_NAME} BATCH +${ref2} chathistory ${channel.name}`);
    for (const message of chosen) {
      const source = `${message.nick}!${message.nick.toLowerCase().slice(0, 10)}@127.0.0.1`;
      const tags = { batch: ref2, time: stampOf(message.time), msgid: message.msgid };
      if (message.lines && c.caps.has('draft/multiline')) {
        const inner = `ml${++batchCounter}`;
        write(c, tagged(c, tags, `:${source} BATCH +${inner} draft/multiline ${channel.name}`));
        for (const line of message.lines) {
          const lineTags: Record<string, string | true> = { batch: inner };
          if (line.concat) lineTags['draft/multiline-concat'] = true;
          write(c, tagged(c, lineTags, `:${source} ${message.command} ${channel.name} ${trailing(line.text)}`));
        }
        write(c, tagged(c, { batch: ref2 }, `:${source} BATCH -${inner}`));
      } else {
        write(c, tagged(c, tags, `:${source} ${message.command} ${channel.name} ${trailing(message.text)}`));
      }
    }
    write(c, `:${SERVER_NAME} BATCH -${ref2}`);
  };

  const clientBatch = (c: ClientState, params: string[], tags: Record<string, string>) => {
    const [refArg, type, target] = params;
    if (!refArg || refArg.length < 2) return write(c, `:${SERVER_NAME} FAIL BATCH MULTILINE_INVALID :Invalid batch reference`);
    const ref = refArg.slice(1);
    if (refArg.startsWith('+')) {
      if (type !== 'draft/multiline' || !target || !c.caps.has('draft/multiline')) {
        return write(c, `:${SERVER_NAME} FAIL BATCH MULTILINE_INVALID :Unsupported batch`);
      }
      c.batches.set(ref, { type, target, lines: [], tags: { ...tags } });
      return;
    }
    const batch = c.batches.get(ref);
    c.batches.delete(ref);
    if (!batch) return write(c, `:${SERVER_NAME} FAIL BATCH MULTILINE_INVALID :Unknown batch ${ref}`);
    const bytes = batch.lines.reduce((sum, line, i) => sum + Buffer.byteLength(line.text) + (i > 0 && !line.concat ? 1 : 0), 0);
    const limits = multilineLimits();
    if (limits.maxBytes !== undefined && bytes > limits.maxBytes) {
      return write(c, `:${SERVER_NAME} FAIL BATCH MULTILINE_MAX_BYTES ${limits.maxBytes} :Multiline batch max-bytes exceeded`);
    }
    if (limits.maxLines !== undefined && batch.lines.length > limits.maxLines) {
      return write(c, `:${SERVER_NAME} FAIL BATCH MULTILINE_MAX_LINES ${limits.maxLines} :Multiline batch max-lines exceeded`);
    }
    if (batch.lines.length === 0 || batch.lines.every((line) => line.text === '')) {
      return write(c, `:${SERVER_NAME} FAIL BATCH MULTILINE_INVALID :Empty multiline batch`);
    }
    const text = batch.lines.reduce((all, line, i) => (i === 0 ? line.text : line.concat ? all + line.text : `${all}\n${line.text}`), '');
    relay({ nick: c.nick, mask: mask(c), state: c, ...(batch.tags.label !== undefined ? { label: batch.tags.label } : {}) }, batch.target, { nick: c.nick, command: 'PRIVMSG', text, time: new Date(), msgid: randomUUID(), lines: batch.lines });
  };

  const handle = (c: ClientState, raw: string) => {
    const message = ircLineParser(raw);
    const line: ReceivedLine = { nick: c.nick, raw, command: message.command, params: message.params, tags: { ...message.tags } };
    received.push(line);
    for (const waiter of [...lineWaiters]) {
      if (waiter.predicate(line)) {
        lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
    const params = message.params;
    // Lines inside an open client batch.
    const batchRef = message.tags.batch;
    if (batchRef !== undefined) {
      const batch = c.batches.get(batchRef);
      if (!batch) return write(c, `:${SERVER_NAME} FAIL BATCH MULTILINE_INVALID :Unknown batch ${batchRef}`);
      if (message.command !== 'PRIVMSG') return write(c, `:${SERVER_NAME} FAIL BATCH MULTILINE_INVALID :Only PRIVMSG in a multiline batch`);
      if (params[0] !== batch.target) {
        c.batches.delete(batchRef);
        return write(c, `:${SERVER_NAME} FAIL BATCH MULTILINE_INVALID_TARGET ${batch.target} ${params[0] ?? '*'} :Invalid multiline target`);
      }
      batch.lines.push({ text: params[1] ?? '', concat: 'draft/multiline-concat' in message.tags });
      return;
    }
    switch (message.command) {
      case 'CAP': {
        const sub = (params[0] ?? '').toUpperCase();
        if (sub === 'LS') {
          if (!c.registered) c.capNegotiating = true;
          const list = Object.entries(offered).map(([name, value]) => (value && params[1] === '302' ? `${name}=${value}` : name));
          write(c, `:${SERVER_NAME} CAP ${c.nick || '*'} LS :${list.join(' ')}`);
        } else if (sub === 'REQ') {
          const wanted = (params[1] ?? '').split(' ').filter(Boolean);
          if (wanted.every((cap) => cap.replace(/^-/, '') in offered)) {
            for (const cap of wanted) {
              if (cap.startsWith('-')) c.caps.delete(cap.slice(1));
              else c.caps.add(cap);
            }
            write(c, `:${SERVER_NAME} CAP ${c.nick || '*'} ACK :${wanted.join(' ')}`);
          } else {
            write(c, `:${SERVER_NAME} CAP ${c.nick || '*'} NAK :${wanted.join(' ')}`);
          }
        } else if (sub === 'END') {
          c.capNegotiating = false;
          register(c);
        }
        return;
      }
      case 'NICK':
        c.nick = params[0] ?? '';
        return register(c);
      case 'USER':
        c.user = (params[0] ?? 'user').slice(0, 10);
        return register(c);
      case 'PING':
        return write(c, `:${SERVER_NAME} PONG ${SERVER_NAME} ${trailing(params[0] ?? '')}`);
      case 'PONG':
        return;
      case 'QUIT':
        c.socket.end(`ERROR :Closing link (${params[0] ?? 'quit'})\r\n`);
        return;
    }
    if (!c.registered) return numeric(c, '451', 'You have not registered');
    switch (message.command) {
      case 'JOIN': {
        for (const name of (params[0] ?? '').split(',').filter(Boolean)) {
          const channel = channelOf(name);
          channel.members.add(c);
          for (const member of channel.members) write(member, `:${mask(c)} JOIN ${channel.name}`);
          numeric(c, '331', channel.name, 'No topic is set');
          const names = [...channel.members].map((m, i) => (i === 0 ? `@${m.nick}` : m.nick));
          numeric(c, '353', '=', channel.name, names.join(' '));
          numeric(c, '366', channel.name, 'End of /NAMES list');
        }
        return;
      }
      case 'PART': {
        const channel = channels.get((params[0] ?? '').toLowerCase());
        if (!channel?.members.has(c)) return numeric(c, '442', params[0] ?? '*', "You're not on that channel");
        for (const member of channel.members) write(member, `:${mask(c)} PART ${channel.name}${params[1] ? ` ${trailing(params[1])}` : ''}`);
        channel.members.delete(c);
        return;
      }
      case 'MODE':
        if ((params[0] ?? '').startsWith('#') && params.length === 1) return numeric(c, '324', params[0]!, '+nt');
        return;
      case 'PRIVMSG':
      case 'NOTICE': {
        const [target, text] = params;
        if (!target || text === undefined) return numeric(c, '412', 'No text to send');
        if (!target.startsWith('#')) {
          const to = [...clients].find((other) => other.nick.toLowerCase() === target.toLowerCase());
          if (!to) return numeric(c, '401', target, 'No such nick/channel');
          return write(to, tagged(to, { msgid: randomUUID(), time: stampOf(new Date()) }, `:${mask(c)} ${message.command} ${target} ${trailing(text)}`));
        }
        return relay({ nick: c.nick, mask: mask(c), state: c, ...(message.tags.label !== undefined ? { label: message.tags.label } : {}) }, target, { nick: c.nick, command: message.command as 'PRIVMSG' | 'NOTICE', text, time: new Date(), msgid: randomUUID() });
      }
      case 'BATCH':
        return clientBatch(c, params, message.tags);
      case 'CHATHISTORY':
        if (!c.caps.has('draft/chathistory') && !c.caps.has('chathistory')) return numeric(c, '421', 'CHATHISTORY', 'Unknown command');
        return chathistory(c, params);
      default:
        return numeric(c, '421', message.command, 'Unknown command');
    }
  };

  const server: Server = createServer((socket) => {
    const c: ClientState = { socket, nick: '', user: '', registered: false, capNegotiating: false, caps: new Set(), batches: new Map() };
    clients.add(c);
    socket.setEncoding('utf8');
    let partial = '';
    socket.on('data', (chunk: string) => {
      partial += chunk;
      const lines = partial.split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) handle(c, line);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clients.delete(c);
      for (const channel of channels.values()) {
        if (!channel.members.delete(c)) continue;
        for (const member of channel.members) write(member, `:${mask(c)} QUIT :Client closed`);
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

  return {
    host: '127.0.0.1',
    port,
    tlsPort: 0,
    name: SERVER_NAME,
    received: () => [...received],
    receivedFrom: (nick) => received.filter((line) => line.nick.toLowerCase() === nick.toLowerCase()),
    waitForLine(predicate, timeoutMs = 10_000, what = 'a matching line') {
      const found = received.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (line: ReceivedLine) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
          reject(new Error(`scripted IRC server: ${what} not received within ${timeoutMs} ms; last lines:\n${received.slice(-15).map((l) => `${l.nick}: ${l.raw}`).join('\n')}`));
        }, timeoutMs);
        lineWaiters.push(waiter);
      });
    },
    seedHistory(channel, messages) {
      const target = channelOf(channel);
      for (const m of messages) {
        target.history.push({ nick: m.nick, command: 'PRIVMSG', text: m.lines ? m.lines.map((l, i) => (i === 0 || l.concat ? l.text : `\n${l.text}`)).join('') : m.text, time: m.time, msgid: m.msgid ?? randomUUID(), ...(m.lines ? { lines: m.lines } : {}) });
      }
    },
    history: (channel) => [...(channels.get(channel.toLowerCase())?.history ?? [])],
    setChathistoryAnswer(answer) {
      chathistoryAnswer = answer;
    },
    setCaps(caps) {
      offered = caps;
    },
    async stop() {
      for (const c of clients) c.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A `CHATHISTORY BEFORE` bound: `timestamp=...` or `msgid=...` as a time, or null. */
function boundOf(history: readonly StoredMessage[], ref: string): number | null {
  if (ref.startsWith('timestamp=')) {
    const time = Date.parse(ref.slice('timestamp='.length));
    return Number.isNaN(time) ? null : time;
  }
  if (ref.startsWith('msgid=')) {
    const found = history.find((m) => m.msgid === ref.slice('msgid='.length));
    return found ? found.time.getTime() : null;
  }
  return null;
}

function parseLimits(value: string | undefined): { maxBytes?: number; maxLines?: number } {
  const limits: { maxBytes?: number; maxLines?: number } = {};
  for (const token of (value ?? '').split(',')) {
    const [key, number] = token.split('=');
    if (key === 'max-bytes') limits.maxBytes = Number(number);
    if (key === 'max-lines') limits.maxLines = Number(number);
  }
  return limits;
}
