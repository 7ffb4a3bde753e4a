// The process logger: JSON lines when stdout is not a terminal (log shippers),
// readable colored lines on a terminal. Secrets are redacted by key name
// wherever they appear in a logged object, at any depth we log at.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line. */
export const REDACTED_KEYS = [
  'secret',
  'password',
  'passwd',
  'token',
  'accessToken',
  'access_token',
  'encryptionKey',
  'credentials',
  'authorization',
];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const key of REDACTED_KEYS) {
    paths.push(key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`);
  }
  return paths;
}

export interface LogOptions {
  level: LevelWithSilent;
  /** 'auto' = pretty on a terminal, JSON otherwise. */
  format: 'auto' | 'json' | 'pretty';
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LogOptions): Logger {
  const pretty = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true);
  const base = {
    level: options.level,
    redact: { paths: redactPaths(), censor: '[redacted]' },
    base: { name: 'ponte' },
  };
  if (options.destination) return pino(base, options.destination as never);
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(base);
}
