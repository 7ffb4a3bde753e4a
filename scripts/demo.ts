// `npm run demo`: ponte for real on this machine. Starts a local Prosody and
// ngircd on loopback in a temporary directory (unless PONTE_XMPP_PORT points
// at an XMPP server of your own), ponte on the embedded store, creates a demo
// XMPP account and prints how to log in. Ctrl-C stops everything it started.
// `--exit-when-ready` stops again as soon as all is up (used by the tests).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { Ponte } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { startNgircd, type IrcServer } from '../test/harness/irc-server.js';
import { startProsody, type XmppServer } from '../test/harness/xmpp-server.js';

const exitWhenReady = process.argv.includes('--exit-when-ready');
const env = process.env;
const started: Array<{ stop(): Promise<unknown> }> = [];

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

async function stopAll(): Promise<void> {
  for (const part of started.reverse()) await part.stop().catch(() => undefined);
}

async function main(): Promise<void> {
  const ownServer = env.PONTE_XMPP_PORT !== undefined;
  let xmpp: XmppServer | null = null;
  let irc: IrcServer | null = null;
  const account = { user: 'demo', password: randomBytes(6).toString('hex') };

  if (!ownServer) {
    const install = spawnSync('bash', ['scripts/ensure-servers.sh', 'prosody', 'ngircd'], { stdio: 'inherit' });
    if (install.status !== 0) process.exit(1);
    say('Starting Prosody and ngircd on loopback …');
    xmpp = await startProsody({ secret: randomBytes(12).toString('hex') });
    started.push(xmpp);
    await xmpp.registerUser(account.user, account.password);
    irc = await startNgircd();
    started.push(irc);
  }

  const dataDir = env.PONTE_STORE_DATA_DIR ?? 'data/demo-pglite';
  if (!dataDir.includes('://')) mkdirSync(dataDir, { recursive: true });
  let config;
  try {
    config = loadConfig({
      file: env.PONTE_CONFIG,
      env: {
        PONTE_STORE_DATA_DIR: dataDir,
        // Demo only: a fixed key, so the demo store can be reopened. Use your own secret in production.
        PONTE_STORE_ENCRYPTION_KEY: 'ponte-demo-key-not-a-secret',
        PONTE_NETWORKS_IRC_ALLOW: 'localhost',
        PONTE_NETWORKS_MATRIX_ALLOW: 'localhost',
        PONTE_HTTP_PORT: '0',
        ...(xmpp
          ? { PONTE_XMPP_HOST: xmpp.host, PONTE_XMPP_PORT: String(xmpp.componentPort), PONTE_XMPP_SECRET: xmpp.componentSecret }
          : {}),
        // The local ngircd speaks plain text on loopback: say so (TLS is the default for every other server).
        ...(irc ? { PONTE_NETWORKS_IRC_SERVERS: `127.0.0.1:${irc.port}/plain` } : {}),
        ...env,
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`config: ${problem}\n`);
      await stopAll();
      process.exit(1);
    }
    throw err;
  }

  const ponte = await Ponte.start(config);
  started.push(ponte);
  await ponte.waitOnline(30_000);

  say();
  say('ponte is running.');
  if (xmpp) {
    say(`  XMPP server   127.0.0.1, port ${xmpp.c2sPort} (Prosody; plain TCP on loopback, no TLS)`);
    say(`  log in as     ${account.user}@${xmpp.domain}   password: ${account.password}`);
  } else {
    say(`  XMPP server   your own, component port ${config.xmpp.host}:${config.xmpp.port}`);
  }
  say(`  gateways      ${[...ponte.components.values()].map((c) => c.domain).join(', ')} (find them in your client's service discovery)`);
  if (irc) {
    say(`  IRC server    ngircd on 127.0.0.1:${irc.port}`);
    say(`  join          #demo%127.0.0.1@${config.networks.irc.domain} (an IRC channel on the local ngircd)`);
  }
  say(`  health        ${ponte.httpUrl}/health`);
  say();

  if (exitWhenReady) {
    await stopAll();
    say('demo stopped (--exit-when-ready)');
    return;
  }
  say('Ctrl-C stops everything.');
  const onSignal = () => {
    say('\nstopping …');
    void stopAll().then(() => process.exit(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  await stopAll();
  process.exit(1);
});
