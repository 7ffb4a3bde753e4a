// `npm run bench`: what can be measured of ponte today, on this machine, with
// real Prosody and a real XMPP client on loopback. Prints a table and one JSON
// line. Every loop is bounded in count and time; everything started is stopped.
//
//   start-up      Ponte.start() until a client's disco#info is answered
//   disco RTT     client -> Prosody -> ponte -> Prosody -> client, sequential
//   throughput    disco#info IQs answered per second, 50 in flight
//   RSS           resident memory of this process (ponte + client) when idle
import { performance } from 'node:perf_hooks';
import { startPonte } from '../test/harness/ponte.js';
import { connectClient, xml } from '../test/harness/xmpp-client.js';
import { startProsody } from '../test/harness/xmpp-server.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2000);
const TIME_LIMIT_MS = 60_000;
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const server = await startProsody();
  await server.registerUser('bench', 'benchpw');
  const client = await connectClient(server, 'bench', 'benchpw');
  const disco = () => client.iq(xml('iq', { type: 'get', to: 'irc.localhost' }, xml('query', { xmlns: DISCO_INFO })));
  try {
    const t0 = performance.now();
    const gateway = await startPonte(server, { PONTE_LOG_LEVEL: 'warn' });
    await gateway.ponte.waitOnline(30_000);
    await disco();
    const startupMs = performance.now() - t0;

    try {
      for (let i = 0; i < 50; i++) await disco(); // warm-up
      const rtts: number[] = [];
      const deadline = Date.now() + TIME_LIMIT_MS;
      for (let i = 0; i < ROUNDS && Date.now() < deadline; i++) {
        const start = performance.now();
        await disco();
        rtts.push(performance.now() - start);
      }
      rtts.sort((a, b) => a - b);

      const inFlight = 50;
      let done = 0;
      const tStart = performance.now();
      const stopAt = Date.now() + TIME_LIMIT_MS;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (done < ROUNDS * 2 && Date.now() < stopAt) {
            await disco();
            done++;
          }
        }),
      );
      const throughput = done / ((performance.now() - tStart) / 1000);

      global.gc?.();
      await new Promise((r) => setTimeout(r, 500));
      const rssMiB = process.memoryUsage().rss / 2 ** 20;

      const results = {
        rounds: rtts.length,
        startupMs: Math.round(startupMs),
        discoRttP50Ms: +percentile(rtts, 50).toFixed(3),
        discoRttP99Ms: +percentile(rtts, 99).toFixed(3),
        discoPerSecond: Math.round(throughput),
        idleRssMiB: +rssMiB.toFixed(1),
        node: process.version,
        store: gateway.ponte.store.engine,
      };
      const rows: Array<[string, string]> = [
        ['start-up to first disco#info answer', `${results.startupMs} ms`],
        [`disco#info round trip p50 (${results.rounds} sequential)`, `${results.discoRttP50Ms} ms`],
        ['disco#info round trip p99', `${results.discoRttP99Ms} ms`],
        [`disco#info throughput (${inFlight} in flight)`, `${results.discoPerSecond} /s`],
        ['RSS, ponte + test client, idle', `${results.idleRssMiB} MiB`],
      ];
      const width = Math.max(...rows.map(([k]) => k.length));
      process.stdout.write(`\nponte benchmark (Prosody, loopback, ${results.store})\n`);
      for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
      process.stdout.write(`\n${JSON.stringify(results)}\n`);
    } finally {
      await gateway.stop();
    }
  } finally {
    await client.stop().catch(() => undefined);
    await server.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
