#!/usr/bin/env node
// The ponte command: `ponte [--config FILE] [--check-config]`.
// The config file is optional (PONTE_CONFIG also names it); every key can be
// set by an environment variable instead (README, "Configuration").
import closeWithGrace from 'close-with-grace';
import { parseArgs } from 'node:util';
import { Ponte } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { VERSION } from './version.js';

const USAGE = `Usage: ponte [--config FILE] [--check-config]

  -c, --config FILE   YAML config file (default: $PONTE_CONFIG; none = environment and defaults only)
      --check-config  validate the configuration and exit (0 = valid)
  -v, --version       print the version
  -h, --help          print this help`;

function fail(lines: string[], code: number): never {
  for (const line of lines) process.stderr.write(`${line}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        'check-config': { type: 'boolean' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail([`ponte: ${(err as Error).message}`, USAGE], 2);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args.version) {
    process.stdout.write(`ponte ${VERSION}\n`);
    return;
  }

  const file = args.config ?? process.env.PONTE_CONFIG;
  let config: Config;
  try {
    config = loadConfig({ file });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.problems.map((problem) => `config: ${problem}`), 1);
    throw err;
  }
  if (args['check-config']) {
    process.stdout.write(`config OK${file ? ` (${file})` : ''}\n`);
    return;
  }

  const ponte = await Ponte.start(config);
  closeWithGrace({ delay: config.shutdown.timeoutMs }, async ({ signal, err }) => {
    if (err) ponte.log.error({ err }, 'fatal error; shutting down');
    else ponte.log.info({ signal }, 'signal received');
    await ponte.stop();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`ponte: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
