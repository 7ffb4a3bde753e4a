// The configuration schema: the single source of truth for every key, its
// default and its check. Each key can also be set by an environment variable
// derived from its path (see env.ts), e.g. store.encryptionKey ->
// PONTE_STORE_ENCRYPTION_KEY. The annotated example is config/ponte.example.yaml.
import { z } from 'zod';

const port = z.number().int().min(1, 'must be a port number (1-65535)').max(65535, 'must be a port number (1-65535)');

// A DNS name as XMPP servers accept for components: labels of letters, digits, '-' and '_'.
const domain = z
  .string()
  .min(1)
  .regex(/^(?=.{1,253}$)([A-Za-z0-9_-]{1,63})(\.[A-Za-z0-9_-]{1,63})*$/, 'must be a domain name such as irc.example.org');

/** A config section that may be left out entirely; its keys' defaults then apply. */
const section = <T extends z.ZodObject>(schema: T) => schema.prefault({} as z.input<T>);

/** A required string whose absence is explained, not just reported as a type error. */
const required = (why: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `is required: ${why}` : 'must be a string') });

const network = (defaultDomain: string) =>
  z.strictObject({
    /** Whether ponte serves this network at all. */
    enabled: z.boolean().default(true),
    /** The component domain XMPP users address, e.g. irc.example.org. */
    domain: domain.default(defaultDomain),
    /** The component secret for this domain, when it differs from xmpp.secret. */
    secret: z.string().min(1).optional(),
    /**
     * The XMPP server's component port for this domain, when it differs from
     * xmpp.port (ejabberd: one listener per domain keeps each user's stanzas in order).
     */
    componentPort: port.optional(),
    /**
     * Who may use this network: XMPP domains (example.org) and bare JIDs
     * (alice@example.org). Everyone else is refused, except for disco#info.
     */
    allow: z
      .array(z.string().regex(/^([^@/\s]+@)?[^@/\s]+$/, 'must be a domain (example.org) or a bare JID (alice@example.org)'))
      .default([]),
  });

export const configSchema = z.strictObject({
  xmpp: section(
    z.strictObject({
      /** Host of the XMPP server's component port (XEP-0114). */
      host: z.string().min(1).default('127.0.0.1'),
      /** The XMPP server's component port. */
      port: port.default(5347),
      /** The shared component secret (Prosody: component_secret; ejabberd: password). */
      secret: required('the component secret shared with the XMPP server').min(1, 'must not be empty'),
      /** Reconnect backoff for the component connections, in milliseconds. */
      reconnectInitialMs: z.number().int().min(10).default(250),
      reconnectMaxMs: z.number().int().min(100).default(30_000),
    }),
  ),
  networks: section(
    z.strictObject({
      irc: section(
        network('irc.localhost').extend({
          /**
           * IRC servers and how to reach them: `host[:port][/plain]`. TLS with
           * certificate verification on port 6697 unless `/plain` (default port
           * 6667) is written; a server a user names that is not listed is
           * reached over TLS on 6697 (never a silent plain-text fallback).
           */
          servers: z
            .array(z.string().regex(/^[A-Za-z0-9._-]+(:\d{1,5})?(\/plain)?$/, 'must be host[:port][/plain], e.g. irc.libera.chat or 127.0.0.1:6667/plain'))
            .default([]),
          /** The one IRC server this gateway serves: rooms are then `#chan@domain`, without `%server`. */
          fixedServer: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be an IRC server host name such as irc.libera.chat').optional(),
          /** How often a lost IRC connection is tried again before its rooms are left (0: never). */
          reconnectAttempts: z.number().int().min(0).max(1000).default(10),
          /** Backoff between those attempts, in milliseconds: doubling from the first to the most, with jitter. */
          reconnectInitialMs: z.number().int().min(10).default(2_000),
          reconnectMaxMs: z.number().int().min(100).default(300_000),
          /** Flood control per connection: a burst of this many lines (-1: no limit), then throttleLinesPerSecond. */
          throttleBurst: z
            .number()
            .int()
            .refine((n) => n === -1 || n >= 1, 'must be -1 (no limit) or at least 1')
            .default(10),
          throttleLinesPerSecond: z.number().positive().default(2),
          /** Connections being opened to one IRC server at once (all users together): no reconnect storm after a restart. */
          maxConnectingPerServer: z.number().int().min(1).default(5),
          /** Members who left in a netsplit stay shown this long, in case the link heals; then they leave in one batch. */
          netsplitHoldMs: z.number().int().min(0).default(30_000),
          /**
           * Appended to a nick that is in use when connecting: repeated (`_`:
           * alice_, alice__), or numbered where it holds `{n}` (`|{n}`: alice|1).
           */
          nickSuffix: z
            .string()
            .regex(/^(?:[A-Za-z0-9_\-[\]\\^{}|`]|\{n\})+$/, 'must be characters an IRC nick allows, optionally with {n}, e.g. _ or |{n}')
            .default('_'),
          /** A PEM file of CA certificates trusted for IRC TLS in addition to the system's (verification stays on). */
          caFile: z.string().min(1).optional(),
          /** Let users turn TLS off for any server in their settings (by default only for servers marked /plain). */
          allowPlaintext: z.boolean().default(false),
          /** WEBIRC passwords per server, `host=password`: ponte then tells that server a stable per-user host and address. */
          webirc: z.array(z.string().regex(/^[A-Za-z0-9._-]+=\S+$/, 'must be host=password, e.g. irc.example.org=secret')).default([]),
          identd: section(
            z.strictObject({
              /** Port of ponte's identd (RFC 1413); 0 turns it off. IRC servers ask on 113. */
              port: z.number().int().min(0).max(65535).default(0),
              /** Address the identd listens on. */
              host: z.string().min(1).default('0.0.0.0'),
            }),
          ),
        }),
      ),
      matrix: section(
        network('matrix.localhost').extend({
          /**
           * Hosts whose file URLs (XEP-0363 uploads, XEP-0066 links) ponte may
           * fetch to move the file into the Matrix media repository, e.g. the
           * XMPP server's upload service. Other URLs stay links in the text:
           * ponte never fetches arbitrary URLs for users (no request forgery
           * towards its own network).
           */
          mediaHosts: z
            .array(z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be a host name, optionally with a port, e.g. upload.example.org'))
            .default([]),
        }),
      ),
    }),
  ),
  store: section(
    z.strictObject({
      /** postgres://user:password@host:port/database. Without it, the embedded PGlite store in dataDir is used. */
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
        .optional(),
      /** Directory of the embedded PGlite database (used when url is not set). */
      dataDir: z.string().min(1).default('./data/pglite'),
      /** Key that encrypts stored network credentials; at least 16 characters. Keep it: without it they cannot be read. */
      encryptionKey: required('a secret of at least 16 characters that encrypts stored credentials').min(16, 'must be at least 16 characters long'),
    }),
  ),
  archive: section(
    z.strictObject({
      /**
       * Keep the text of messages for MAM (XEP-0313). false: no text is stored
       * and MAM is not offered; message ids are still kept (corrections,
       * reactions, replies and stable stanza-ids need them).
       */
      enabled: z.boolean().default(true),
      /** Messages (and their ids) older than this many days are deleted. */
      retentionDays: z.number().int().min(1, 'must be at least 1 day').max(36_500).default(90),
    }),
  ),
  http: section(
    z.strictObject({
      /** Address of the HTTP server (/health, /metrics). Loopback by default. */
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /**
       * The URL under which XMPP clients reach this HTTP server (behind a
       * reverse proxy, say): links to Matrix media start with it. Default:
       * http://<host>:<port> as it listens.
       */
      publicUrl: z
        .string()
        .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'must be an http:// or https:// URL without query, such as https://ponte.example.org')
        .optional(),
    }),
  ),
  log: section(
    z.strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** auto: readable on a terminal, JSON lines otherwise. */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    }),
  ),
  /** Bare JIDs that get the admin commands. */
  admins: z.array(z.string().regex(/^[^@/\s]+@[^@/\s]+$/, 'must be a bare JID such as admin@example.org')).default([]),
  shutdown: section(
    z.strictObject({
      /** Said to IRC servers and shown in presence status when ponte stops. */
      message: z.string().min(1).default('ponte is shutting down'),
      /** Longest time the graceful shutdown may take before the process exits anyway. */
      timeoutMs: z.number().int().min(100).default(10_000),
    }),
  ),
});

export type Config = z.infer<typeof configSchema>;
