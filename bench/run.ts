// `npm run bench`: ponte side by side with biboumi 9 on this machine, both
// attached to one Prosody as two component domains (irc.localhost and
// biboumi.localhost), both talking to one ngircd, both driven by the same
// workloads from a real XMPP client library (@xmpp/client) and a raw IRC client.
//
//   start-up        spawn until the component answers a disco#info query
//   RSS idle        VmRSS 3 s after start-up
//   latency         XMPP -> IRC and IRC -> XMPP, sequential, p50/p99
//   throughput      both ways, a bounded window of unanswered messages; msg/s
//                   and gateway CPU µs per message (/proc/<pid>/stat)
//                   each of these with archiving on and off on both gateways
//   users           RSS with 100 and 1,000 XMPP users, each in 2 channels on
//                   its own IRC connection; then ponte alone up to 10,000
//
// Prints a table and writes bench/results/latest.json. Every loop is bounded
// in count and time (the whole run aims at < 15 min); every process started is
// stopped, also on failure and on Ctrl-C. Knobs (environment):
//   BENCH_LATENCY_MSGS (1000), BENCH_THROUGHPUT_MSGS (5000), BENCH_WINDOW (100),
//   BENCH_USERS ("100,1000"), BENCH_PONTE_MAX_USERS (10000), BENCH_USER_CONCURRENCY (10),
//   BENCH_PHASES ("messages,users": which parts to run),
//   BENCH_PROFILE=1: ponte runs with --cpu-prof and writes a heap snapshot at
//   1,000 users, into bench/results/profile/ (slower; numbers not comparable).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNgircd } from '../test/harness/ngircd.js';
import { startProsody } from '../test/harness/prosody.js';
import type { IrcServer } from '../test/harness/irc-server.js';
import type { XmppServer } from '../test/harness/xmpp-server.js';
import { PONTE_NODE, startBiboumiProcess, startPonteProcess, timeToDisco, type Gateway } from './lib/gateways.js';
import { ircPeer, joinChannel } from './lib/irc.js';
import { rssMiB, sleep } from './lib/proc.js';
import { createAccounts, latencyIrcToXmpp, latencyXmppToIrc, loadUsers, nickOf, PASSWORD, stopUsers, throughput, type Latency, type Pair, type Throughput, type UserStep } from './lib/workloads.js';
import { joinRoom, login } from './lib/xmpp.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const RESULTS_DIR = join(HERE, 'results');
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const LATENCY_MSGS = num('BENCH_LATENCY_MSGS', 1000);
const THROUGHPUT_MSGS = num('BENCH_THROUGHPUT_MSGS', 5000);
const WINDOW = num('BENCH_WINDOW', 100);
const USER_STEPS = (process.env.BENCH_USERS ?? '100,1000').split(',').map(Number);
const PONTE_MAX_USERS = num('BENCH_PONTE_MAX_USERS', 10_000);
const PROFILE = process.env.BENCH_PROFILE === '1';
const PHASES = new Set((process.env.BENCH_PHASES ?? 'messages,users').split(','));
const WARMUP = 50;
/** Users logging in and joining at once; ngircd's accept queue is only 10 deep. */
const USER_CONCURRENCY = num('BENCH_USER_CONCURRENCY', 10);
const RUN_STARTED = Date.now();
const LOAD_AT_START = os.loadavg().map((x) => Math.round(x * 100) / 100);
/** The measuring ends by then; each loop also has its own bound (see budget()). */
const RUN_BUDGET_MS = 12 * 60_000;
/** The message workloads end by then, leaving the rest to the users. */
const MESSAGES_BUDGET_MS = 6 * 60_000;
/** Past this the run is abandoned: everything is stopped (within ~1 min) and it exits with code 2. */
const WATCHDOG_MS = 13 * 60_000;

/** `ms`, cut to what is left until `RUN_STARTED + untilMs` (at least 1 s, so a loop still reports). */
const budget = (ms: number, untilMs = RUN_BUDGET_MS) => Math.max(1_000, Math.min(ms, RUN_STARTED + untilMs - Date.now()));

type Mode = 'archive' | 'noArchive';

interface MessageResults {
  latencyXmppToIrc: Latency;
  latencyIrcToXmpp: Latency;
  throughputXmppToIrc: Throughput;
  throughputIrcToXmpp: Throughput;
}

interface GatewayResults {
  version: string;
  startupMs: number;
  startupNoArchiveMs?: number;
  /** Once settled (Gateway.settledRssMiB: ponte after a full GC). */
  idleRssMiB: number;
  /** Before it. */
  idleRssRawMiB: number;
  messages: Partial<Record<Mode, MessageResults>>;
  users: { steps: UserStep[]; rssBeforeMiB: number; stopReason: string };
}

function log(line: string): void {
  const t = ((Date.now() - RUN_STARTED) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${t}s] ${line}\n`);
}

function pkgVersion(name: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', name], { encoding: 'utf8' });
  } catch {
    return 'unknown';
  }
}

// Everything that must be stopped, newest first.
const cleanups: Array<{ name: string; run: () => Promise<void> }> = [];
const onCleanup = (name: string, run: () => Promise<void>) => cleanups.unshift({ name, run });
async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    const { name, run } = cleanups.shift()!;
    await Promise.race([run().catch((err: unknown) => log(`stopping ${name} failed: ${(err as Error).message}`)), sleep(15_000)]);
  }
}
// @xmpp/connection can throw from a socket 'data' event that arrives after
// stop() dropped its parser; thousands of clients closing at once hit it. Such
// a client error must not abort the run (nor skip the cleanup): it is logged.
let clientErrors = 0;
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => {
    clientErrors++;
    if (clientErrors <= 5) log(`${event} (run continues): ${(err as Error)?.stack ?? String(err)}`);
  });
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping everything`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

/** The gateways' own output (warnings and errors only), into bench/results/logs/. */
function keepLog(gateway: Gateway, suffix = ''): void {
  const dir = join(RESULTS_DIR, 'logs');
  mkdirSync(dir, { recursive: true });
  if (existsSync(gateway.logFile)) copyFileSync(gateway.logFile, join(dir, `${gateway.name}${suffix}.log`));
}

const pidFromFile = (path: string) => Number(readFileSync(path, 'utf8').trim());

async function pairUp(server: XmppServer, irc: IrcServer, gateway: Gateway, tag: string, archive: boolean): Promise<Pair> {
  const channel = `#m${tag}`;
  const peer = await ircPeer(irc.host, irc.port, `peer${tag}`);
  await joinChannel(peer, channel);
  createAccounts(server, [`s${tag}`]);
  const user = await login(server, `s${tag}`, PASSWORD);
  await gateway.prepareUser(user, archive);
  const nick = `x${tag}`;
  const room = gateway.room(channel);
  const seenOnIrc = peer.next((m) => m.command === 'JOIN' && nickOf(m.prefix) === nick, 30_000, `JOIN of ${nick}`);
  await joinRoom(user, room, nick, 30_000);
  await seenOnIrc;
  return { gateway, user, room, nick, peer, channel };
}

async function messageWorkloads(server: XmppServer, irc: IrcServer, gateway: Gateway, mode: Mode, prosodyPid: number): Promise<MessageResults> {
  const tag = `${gateway.name[0]}${mode === 'archive' ? 'a' : 'n'}`;
  const pair = await pairUp(server, irc, gateway, tag, mode === 'archive');
  try {
    const probes = { gatewayPid: gateway.pid, prosodyPid };
    log(`${gateway.name} ${mode}: latency XMPP -> IRC`);
    const latencyXmppToIrcResult = await latencyXmppToIrc(pair, LATENCY_MSGS, WARMUP, budget(60_000, MESSAGES_BUDGET_MS));
    log(`${gateway.name} ${mode}: latency IRC -> XMPP`);
    const latencyIrcToXmppResult = await latencyIrcToXmpp(pair, LATENCY_MSGS, WARMUP, budget(60_000, MESSAGES_BUDGET_MS));
    log(`${gateway.name} ${mode}: throughput XMPP -> IRC`);
    const throughputXmppToIrc = await throughput(pair, 'xmpp-to-irc', THROUGHPUT_MSGS, WINDOW, budget(90_000, MESSAGES_BUDGET_MS), probes);
    log(`${gateway.name} ${mode}: throughput IRC -> XMPP`);
    const throughputIrcToXmpp = await throughput(pair, 'irc-to-xmpp', THROUGHPUT_MSGS, WINDOW, budget(90_000, MESSAGES_BUDGET_MS), probes);
    return { latencyXmppToIrc: latencyXmppToIrcResult, latencyIrcToXmpp: latencyIrcToXmppResult, throughputXmppToIrc, throughputIrcToXmpp };
  } finally {
    await pair.user.stop();
    await pair.peer.close();
    await sleep(500); // let the gateway leave the channel before the next workload
  }
}

async function main(): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const profileDir = join(RESULTS_DIR, 'profile');
  if (PROFILE) mkdirSync(profileDir, { recursive: true });
  const ponteFlags = PROFILE ? [`--cpu-prof`, `--cpu-prof-dir=${profileDir}`] : [];
  const heapDir = PROFILE ? profileDir : undefined;

  log('starting Prosody and ngircd');
  const server = await startProsody({ components: ['irc.localhost', 'biboumi.localhost'], configFile: join(HERE, 'prosody.cfg.lua') });
  onCleanup('Prosody', () => server.stop());
  const irc = await startNgircd();
  onCleanup('ngircd', () => irc.stop());
  const prosodyPid = pidFromFile(join(server.dir, 'prosody.pid'));

  createAccounts(server, ['probe']);
  const probe = await login(server, 'probe', PASSWORD);
  onCleanup('probe client', () => probe.stop());

  // Start-up, one gateway at a time.
  log('starting biboumi');
  const biboumiStart = await timeToDisco(probe, 'biboumi.localhost', () => startBiboumiProcess(server, irc.port));
  let biboumi = biboumiStart.value;
  let biboumiLog = '-messages';
  onCleanup('biboumi', async () => {
    await biboumi.stop();
    keepLog(biboumi, biboumiLog);
  });
  log('starting ponte');
  let ponte = (await timeToDisco(probe, 'irc.localhost', () => startPonteProcess(server, irc.port, { archive: true, nodeFlags: ponteFlags, heapDir })));
  let ponteGateway = ponte.value;
  let ponteLog = '-archive';
  onCleanup('ponte', async () => {
    await ponteGateway.stop();
    keepLog(ponteGateway, ponteLog);
  });
  await sleep(3_000);
  const round1 = (x: number) => Math.round(x * 10) / 10;
  const idleRaw = { ponte: round1(rssMiB(ponteGateway.pid)), biboumi: round1(rssMiB(biboumi.pid)) };
  const idle = { ponte: round1(await ponteGateway.settledRssMiB()), biboumi: round1(await biboumi.settledRssMiB()) };

  const results: Record<'ponte' | 'biboumi', GatewayResults> = {
    ponte: {
      version: JSON.parse(readFileSync(join(HERE, '../package.json'), 'utf8')).version as string,
      startupMs: Math.round(ponte.ms),
      idleRssMiB: idle.ponte,
      idleRssRawMiB: idleRaw.ponte,
      messages: {},
      users: { steps: [], rssBeforeMiB: NaN, stopReason: '' },
    },
    biboumi: {
      version: pkgVersion('biboumi'),
      startupMs: Math.round(biboumiStart.ms),
      idleRssMiB: idle.biboumi,
      idleRssRawMiB: idleRaw.biboumi,
      messages: {},
      users: { steps: [], rssBeforeMiB: NaN, stopReason: '' },
    },
  };
  log(`start-up: ponte ${results.ponte.startupMs} ms, biboumi ${results.biboumi.startupMs} ms; idle RSS ponte ${results.ponte.idleRssMiB} MiB, biboumi ${results.biboumi.idleRssMiB} MiB`);

  for (const mode of PHASES.has('messages') ? (['archive', 'noArchive'] as const) : []) {
    if (mode === 'noArchive') {
      // ponte's archive is a process-wide setting: restart it; biboumi's is per user (set in pairUp).
      await ponteGateway.stop();
      keepLog(ponteGateway, ponteLog);
      ponte = await timeToDisco(probe, 'irc.localhost', () => startPonteProcess(server, irc.port, { archive: false, nodeFlags: ponteFlags, heapDir }));
      ponteGateway = ponte.value;
      ponteLog = '-no-archive';
      results.ponte.startupNoArchiveMs = Math.round(ponte.ms);
      await sleep(1_000);
    }
    for (const gateway of [ponteGateway, biboumi]) {
      if (Date.now() - RUN_STARTED > MESSAGES_BUDGET_MS) throw new Error('time budget of the message workloads used up');
      results[gateway.name].messages[mode] = await messageWorkloads(server, irc, gateway, mode, prosodyPid);
    }
  }

  if (PHASES.has('users') && PHASES.has('messages')) {
    // Fresh processes for the memory figures: the heap ponte grew during the
    // message workloads would otherwise hide what users cost.
    await biboumi.stop();
    keepLog(biboumi, biboumiLog);
    biboumi = (await timeToDisco(probe, 'biboumi.localhost', () => startBiboumiProcess(server, irc.port))).value;
    biboumiLog = '-users';
    await ponteGateway.stop();
    keepLog(ponteGateway, ponteLog);
    ponteGateway = (await timeToDisco(probe, 'irc.localhost', () => startPonteProcess(server, irc.port, { archive: true, nodeFlags: ponteFlags, heapDir }))).value;
    ponteLog = '-users';
  }

  // Memory per user: biboumi first, its users gone before ponte's arrive.
  for (const gateway of PHASES.has('users') ? [biboumi, ponteGateway] : []) {
    const r = results[gateway.name];
    r.users.rssBeforeMiB = round1(await gateway.settledRssMiB());
    const targets = gateway.name === 'ponte' ? scaleTargets(USER_STEPS, PONTE_MAX_USERS) : USER_STEPS;
    // ponte's climb to 10,000 gets what is left; biboumi's 1,000 users at most 4 min.
    const phaseBudget = gateway.name === 'ponte' ? budget(Infinity) : budget(4 * 60_000, RUN_BUDGET_MS - 3 * 60_000);
    log(`${gateway.name}: users ${targets.join(', ')} (budget ${Math.round(phaseBudget / 1000)} s)`);
    const load = await loadUsers(server, gateway, targets, {
      deadline: Date.now() + phaseBudget,
      concurrency: USER_CONCURRENCY,
      prefix: gateway.name === 'ponte' ? 'p' : 'b',
      prosodyPid,
      onStep: async (step) => {
        log(
          `${gateway.name}: ${step.users} users, RSS ${step.rssMiB} MiB (${step.seconds} s, ${step.retries} retried, ${step.failures} failed; ` +
            `CPU s ${JSON.stringify(step.cpuSeconds)})${step.memory ? ` ${JSON.stringify(step.memory)}` : ''}`,
        );
        if (PROFILE && gateway.name === 'ponte' && step.target === 1000) {
          process.kill(gateway.pid, 'SIGTTIN');
          await sleep(20_000);
        }
      },
    });
    r.users.steps = load.steps;
    r.users.stopReason = load.stopReason;
    log(`${gateway.name}: ${load.stopReason}`);
    // biboumi's users leave before ponte's arrive. ponte's last thousands are
    // not logged out one by one: stopping ponte, then Prosody, closes them.
    if (gateway === biboumi) await stopUsers(load.users);
  }

  const report = buildReport(results);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${formatTable(report)}\nJSON: bench/results/latest.json\n`);
}

/** USER_STEPS, then ponte alone on to `max` in growing steps. */
function scaleTargets(steps: number[], max: number): number[] {
  const out = [...steps];
  for (const n of [2000, 3000, 5000, 7500, 10_000]) if (n > out.at(-1)! && n <= max) out.push(n);
  if (out.at(-1)! < max) out.push(max);
  return out;
}

// ---------------------------------------------------------------------------
// Report

const atUsers = (steps: UserStep[], n: number) => steps.find((s) => s.target === n && s.users === n)?.rssMiB ?? NaN;

function buildReport(results: Record<'ponte' | 'biboumi', GatewayResults>) {
  const metrics = (r: GatewayResults) => {
    const m: Record<string, number> = { startupMs: r.startupMs, idleRssMiB: r.idleRssMiB };
    for (const mode of ['archive', 'noArchive'] as const) {
      const x = r.messages[mode];
      if (!x) continue;
      m[`${mode}.latencyXmppToIrc.p50Ms`] = x.latencyXmppToIrc.p50Ms;
      m[`${mode}.latencyXmppToIrc.p99Ms`] = x.latencyXmppToIrc.p99Ms;
      m[`${mode}.latencyIrcToXmpp.p50Ms`] = x.latencyIrcToXmpp.p50Ms;
      m[`${mode}.latencyIrcToXmpp.p99Ms`] = x.latencyIrcToXmpp.p99Ms;
      m[`${mode}.throughputXmppToIrc.perSecond`] = x.throughputXmppToIrc.perSecond;
      m[`${mode}.throughputXmppToIrc.cpuMicrosPerMsg`] = x.throughputXmppToIrc.gatewayCpuMicrosPerMsg;
      m[`${mode}.throughputIrcToXmpp.perSecond`] = x.throughputIrcToXmpp.perSecond;
      m[`${mode}.throughputIrcToXmpp.cpuMicrosPerMsg`] = x.throughputIrcToXmpp.gatewayCpuMicrosPerMsg;
    }
    const base = r.users.rssBeforeMiB;
    const small = USER_STEPS[0]!;
    const large = USER_STEPS.at(-1)!;
    m[`rssAt${small}UsersMiB`] = atUsers(r.users.steps, small);
    m[`rssAt${large}UsersMiB`] = atUsers(r.users.steps, large);
    // KiB per user: over the whole climb from the RSS before the users, and between the two steps.
    m.deltaRssPerUserKiB = Math.round(((atUsers(r.users.steps, large) - base) * 1024) / large);
    m.marginalRssPerUserKiB = Math.round(((atUsers(r.users.steps, large) - atUsers(r.users.steps, small)) * 1024) / (large - small));
    return m;
  };
  const ponte = metrics(results.ponte);
  const biboumi = metrics(results.biboumi);
  const ratios = Object.fromEntries(Object.keys(ponte).map((k) => [k, Math.round((ponte[k]! / biboumi[k]!) * 100) / 100]));
  const last = [...results.ponte.users.steps].reverse().find((s) => s.users > 0);
  return {
    generatedAt: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - RUN_STARTED) / 1000),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      kernel: os.release(),
      node: execFileSync(PONTE_NODE, ['--version'], { encoding: 'utf8' }).trim(),
      prosody: pkgVersion('prosody'),
      ngircd: pkgVersion('ngircd'),
      loadAverageAtStart: LOAD_AT_START,
      loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
    },
    clientErrors,
    workload: { latencyMessages: LATENCY_MSGS, warmup: WARMUP, throughputMessages: THROUGHPUT_MSGS, window: WINDOW, userSteps: USER_STEPS, ponteMaxUsers: PONTE_MAX_USERS, profiling: PROFILE },
    summary: { ponte, biboumi, ratios },
    ponteScale: { maxUsers: last?.users ?? 0, rssMiB: last?.rssMiB ?? NaN, stopReason: results.ponte.users.stopReason, steps: results.ponte.users.steps },
    details: results,
  };
}

function formatTable(report: ReturnType<typeof buildReport>): string {
  const { ponte, biboumi, ratios } = report.summary;
  const label: Record<string, string> = {
    startupMs: 'start-up to disco#info answer (ms)',
    idleRssMiB: 'RSS idle, settled (MiB)',
    deltaRssPerUserKiB: `ΔRSS per user, 0 -> ${USER_STEPS.at(-1)} users (KiB)`,
    marginalRssPerUserKiB: `ΔRSS per user, ${USER_STEPS[0]} -> ${USER_STEPS.at(-1)} users (KiB)`,
  };
  const describe = (key: string) => {
    if (label[key]) return label[key];
    const users = /^rssAt(\d+)UsersMiB$/.exec(key);
    if (users) return `RSS with ${users[1]} users in 2 channels each (MiB)`;
    const [mode, what, stat] = key.split('.');
    const m = mode === 'archive' ? 'archive on ' : 'archive off';
    const dir = what!.endsWith('XmppToIrc') ? 'XMPP->IRC' : 'IRC->XMPP';
    if (what!.startsWith('latency')) return `[${m}] latency ${dir} ${stat === 'p50Ms' ? 'p50' : 'p99'} (ms)`;
    return stat === 'perSecond' ? `[${m}] throughput ${dir} (msg/s)` : `[${m}] gateway CPU ${dir} (µs/msg)`;
  };
  const rows = Object.keys(ponte).map((k) => [describe(k), String(ponte[k]), String(biboumi[k]), String(ratios[k])]);
  const header = ['metric', 'ponte', 'biboumi', 'ponte/biboumi'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const scale = report.ponteScale;
  return [
    line(header),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
    '',
    `ponte alone: ${scale.maxUsers} users (each in 2 channels, own IRC connection), RSS ${scale.rssMiB} MiB; stopped by: ${scale.stopReason}`,
    `steps: ${scale.steps.map((s) => `${s.users}u ${s.rssMiB} MiB ${s.seconds}s`).join(', ')}`,
  ].join('\n');
}

const watchdog = setTimeout(() => {
  log(`run longer than ${WATCHDOG_MS / 60_000} min: stopping everything`);
  void cleanupAll().finally(() => process.exit(2));
}, WATCHDOG_MS);
watchdog.unref();

main()
  .then(async () => {
    await cleanupAll();
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    await cleanupAll();
    process.exit(1);
  });
