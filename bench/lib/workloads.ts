// The workloads, identical for both gateways: one XMPP user in a channel with
// one IRC user (latency, throughput), and many XMPP users each in 2 channels
// (memory). Every loop is bounded in count and in time.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { IrcMessage } from '../../test/harness/irc-server.js';
import type { XmlElement } from '../../test/harness/xmpp-client.js';
import type { XmppServer } from '../../test/harness/xmpp-server.js';
import type { Gateway } from './gateways.js';
import type { IrcPeer } from './irc.js';
import { alive, cpuMicros, percentile, pool, rssMiB, sleep } from './proc.js';
import { joinRoom, login, xml, type BenchUser } from './xmpp.js';

export const PASSWORD = 'benchpw';
// A typical chat line: ~70 bytes of text after the sequence number.
const FILLER = 'the quick brown fox jumps over the lazy dog, then naps in the sun';

/** Accounts as files in Prosody's data dir (internal_plain storage): no round trip per account. */
export function createAccounts(server: XmppServer, names: string[]): void {
  const dir = join(server.dir, 'data', server.domain.replace(/[^a-zA-Z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16)}`), 'accounts');
  mkdirSync(dir, { recursive: true });
  for (const name of names) writeFileSync(join(dir, `${name}.dat`), `return {\n\t["password"] = "${PASSWORD}";\n};\n`);
}

export const nickOf = (prefix: string | undefined) => (prefix ?? '').split('!')[0]!;

export interface Latency {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

function summarize(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    samples: sorted.length,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    meanMs: round(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)),
    maxMs: round(sorted.at(-1) ?? NaN),
  };
}

export interface Throughput {
  sent: number;
  received: number;
  seconds: number;
  perSecond: number;
  /** Gateway CPU (user + system) per message, µs, over the whole run including the reflections. */
  gatewayCpuMicrosPerMsg: number;
  prosodyCpuMicrosPerMsg: number;
  clientCpuMicrosPerMsg: number;
  completed: boolean;
}

export interface Pair {
  gateway: Gateway;
  user: BenchUser;
  room: string;
  nick: string;
  peer: IrcPeer;
  channel: string;
}

const isGroupchatBody = (room: string, predicate: (body: string) => boolean) => (el: XmlElement) =>
  el.is('message') && el.attrs.type === 'groupchat' && (el.attrs.from ?? '').startsWith(`${room}/`) && predicate(el.getChildText('body') ?? '');

const groupchat = (room: string, body: string) => xml('message', { to: room, type: 'groupchat' }, xml('body', {}, body));

/** Sequential XMPP -> IRC: time from send() until the IRC user has the line; the reflection is awaited before the next one. */
export async function latencyXmppToIrc(p: Pair, count: number, warmup: number, budgetMs: number): Promise<Latency> {
  const samples: number[] = [];
  const deadline = Date.now() + budgetMs;
  for (let i = 0; i < warmup + count && Date.now() < deadline; i++) {
    const body = `lx ${i} ${FILLER}`;
    const onIrc = p.peer.next((m) => m.command === 'PRIVMSG' && m.params[1] === body, 10_000, `line ${i}`);
    const reflected = p.user.next(isGroupchatBody(p.room, (b) => b === body), 10_000, `reflection ${i}`);
    const t0 = performance.now();
    await p.user.send(groupchat(p.room, body));
    await onIrc;
    const t = performance.now() - t0;
    await reflected;
    if (i >= warmup) samples.push(t);
  }
  return summarize(samples);
}

/** Sequential IRC -> XMPP: time from the IRC write until the XMPP user has the message. */
export async function latencyIrcToXmpp(p: Pair, count: number, warmup: number, budgetMs: number): Promise<Latency> {
  const samples: number[] = [];
  const deadline = Date.now() + budgetMs;
  for (let i = 0; i < warmup + count && Date.now() < deadline; i++) {
    const body = `li ${i} ${FILLER}`;
    const got = p.user.next(isGroupchatBody(p.room, (b) => b === body), 10_000, `message ${i}`);
    const t0 = performance.now();
    p.peer.send(`PRIVMSG ${p.channel} :${body}`);
    await got;
    if (i >= warmup) samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

export interface CpuProbes {
  gatewayPid: number;
  prosodyPid: number;
}

/**
 * Sustained throughput one way: `count` messages with at most `window`
 * unanswered at a time (so queues stay bounded and the rate is the one the
 * pipeline sustains). The clock stops at the last arrival; CPU is read once
 * the gateway has also finished reflecting (XMPP -> IRC) or delivering.
 */
export async function throughput(
  p: Pair,
  direction: 'xmpp-to-irc' | 'irc-to-xmpp',
  count: number,
  window: number,
  budgetMs: number,
  probes: CpuProbes,
): Promise<Throughput> {
  const tag = direction === 'xmpp-to-irc' ? 'tx' : 'ti';
  let received = 0;
  let reflected = 0;
  let lastAt = 0;
  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const waitPoke = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const isOurs = (body: string | undefined) => (body ?? '').startsWith(`${tag} `);
  const removeIrc = p.peer.listen((m: IrcMessage) => {
    if (direction === 'xmpp-to-irc' && m.command === 'PRIVMSG' && isOurs(m.params[1])) {
      received++;
      lastAt = performance.now();
      poke();
    }
  });
  const removeXmpp = p.user.listen((el) => {
    if (!el.is('message') || el.attrs.type !== 'groupchat' || !isOurs(el.getChildText('body') ?? '')) return;
    if (direction === 'irc-to-xmpp') {
      received++;
      lastAt = performance.now();
    } else reflected++;
    poke();
  });
  const deadline = Date.now() + budgetMs;
  const gw0 = cpuMicros(probes.gatewayPid);
  const prosody0 = cpuMicros(probes.prosodyPid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  try {
    while (received < count && Date.now() < deadline) {
      if (sent < count && sent - received < window) {
        const body = `${tag} ${sent} ${FILLER}`;
        if (direction === 'xmpp-to-irc') await p.user.send(groupchat(p.room, body));
        else p.peer.send(`PRIVMSG ${p.channel} :${body}`);
        sent++;
      } else {
        await waitPoke(Math.max(1, Math.min(1_000, deadline - Date.now())));
      }
    }
    // The gateway's share of the work ends with the reflections of what it sent.
    const reflectDeadline = Date.now() + 10_000;
    while (direction === 'xmpp-to-irc' && reflected < received && Date.now() < reflectDeadline) await waitPoke(100);
  } finally {
    removeIrc();
    removeXmpp();
  }
  const seconds = ((lastAt || performance.now()) - t0) / 1000;
  const client = process.cpuUsage(client0);
  const per = (micros: number) => Math.round((micros / Math.max(1, received)) * 10) / 10;
  return {
    sent,
    received,
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: Math.round(received / seconds),
    gatewayCpuMicrosPerMsg: per(cpuMicros(probes.gatewayPid) - gw0),
    prosodyCpuMicrosPerMsg: per(cpuMicros(probes.prosodyPid) - prosody0),
    clientCpuMicrosPerMsg: per(client.user + client.system),
    completed: received >= count,
  };
}

export interface UserStep {
  target: number;
  users: number;
  /** gateway.settledRssMiB() (ponte: after a full GC). */
  rssMiB: number;
  /** Before it. */
  rssRawMiB: number;
  seconds: number;
  /** Users that failed twice. */
  failures: number;
  /** Users that failed once and then made it. */
  retries: number;
  lastError?: string;
  /** What the gateway reports of its memory (ponte: V8 heap and external memory after a full GC). */
  memory?: Record<string, number>;
  /** CPU seconds spent during the step by the gateway, Prosody and this process (the clients). */
  cpuSeconds: { gateway: number; prosody: number; client: number };
}

export interface UserLoad {
  users: BenchUser[];
  steps: UserStep[];
  stopReason: string;
}

/**
 * Bring the number of XMPP users on `gateway` up to each target in turn; each
 * user logs in, does the gateway's per-user setup, and joins 2 channels (10
 * users per channel: channels of everyone would make presence traffic grow
 * with the square of the users). RSS is read 3 s after each step, and again
 * once settled (gateway.settledRssMiB()).
 */
export async function loadUsers(
  server: XmppServer,
  gateway: Gateway,
  targets: number[],
  opts: { deadline: number; concurrency: number; prefix: string; prosodyPid: number; onStep?: (step: UserStep) => Promise<void> | void },
): Promise<UserLoad> {
  const users: BenchUser[] = [];
  const steps: UserStep[] = [];
  let stopReason = `reached ${targets.at(-1)} users`;
  let next = 0;
  for (const target of targets) {
    if (Date.now() > opts.deadline) {
      stopReason = `time budget for this phase used up before ${target} users`;
      break;
    }
    const names = Array.from({ length: target - next }, (_, k) => next + k);
    createAccounts(server, names.map((i) => `${opts.prefix}${i}`));
    let failures = 0;
    let retries = 0;
    let lastError: string | undefined;
    const maxFailures = Math.max(5, Math.ceil(names.length * 0.01));
    const cpu0 = { gateway: cpuMicros(gateway.pid), prosody: cpuMicros(opts.prosodyPid), client: process.cpuUsage() };
    const t0 = performance.now();
    await pool(
      names,
      opts.concurrency,
      async (i) => {
        // One retry: ngircd's accept queue is 10 deep (listen(2) backlog, not
        // configurable), so a burst of connects can be reset; the retry is counted.
        for (let attempt = 1; attempt <= 2; attempt++) {
          let user: BenchUser | undefined;
          try {
            user = await login(server, `${opts.prefix}${i}`, PASSWORD);
            await gateway.prepareUser(user, false);
            const group = Math.floor(i / 10);
            await joinRoom(user, gateway.room(`#${opts.prefix}a${group}`), `${opts.prefix}${i}`, 60_000);
            await joinRoom(user, gateway.room(`#${opts.prefix}b${group}`), `${opts.prefix}${i}`, 60_000);
            users.push(user);
            return;
          } catch (err) {
            lastError = (err as Error).message.slice(0, 800);
            await user?.stop();
            if (attempt === 2) failures++;
            else {
              retries++;
              await sleep(1_000);
            }
          }
        }
      },
      () => Date.now() > opts.deadline || failures >= maxFailures || !alive(gateway.pid),
    );
    next = target;
    const seconds = (performance.now() - t0) / 1000;
    const clientCpu = process.cpuUsage(cpu0.client);
    const cpuSeconds = {
      gateway: Math.round((cpuMicros(gateway.pid) - cpu0.gateway) / 1e4) / 100,
      prosody: Math.round((cpuMicros(opts.prosodyPid) - cpu0.prosody) / 1e4) / 100,
      client: Math.round((clientCpu.user + clientCpu.system) / 1e4) / 100,
    };
    await sleep(3_000);
    const rssRaw = rssMiB(gateway.pid);
    const rss = await gateway.settledRssMiB();
    const step: UserStep = { target, users: users.length, rssMiB: Math.round(rss * 10) / 10, rssRawMiB: Math.round(rssRaw * 10) / 10, seconds: Math.round(seconds * 10) / 10, failures, retries, lastError, memory: await gateway.memoryDetail(), cpuSeconds };
    steps.push(step);
    await opts.onStep?.(step);
    if (!alive(gateway.pid)) {
      stopReason = `the gateway process died between ${steps.at(-2)?.users ?? 0} and ${target} users`;
      break;
    }
    if (failures >= maxFailures) {
      stopReason = `${failures} users failed to log in or join on the way to ${target} (last: ${lastError})`;
      break;
    }
    if (users.length < target) {
      stopReason = `time budget for this phase used up at ${users.length} users`;
      break;
    }
  }
  return { users, steps, stopReason };
}

export async function stopUsers(users: BenchUser[], budgetMs = 60_000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  await pool(users, 200, (u) => Promise.race([u.stop(), sleep(2_000)]), () => Date.now() > deadline);
}
