// The XMPP servers the end-to-end tests run ponte against. Both kinds start in
// the foreground in their own temp dir on free loopback ports, with the
// ponte component domains configured and allowed to connect (XEP-0114) and
// privileged (XEP-0356).
export interface XmppServer {
  kind: 'prosody' | 'ejabberd';
  /** The XMPP domain users live on: 'localhost'. */
  domain: string;
  host: '127.0.0.1';
  c2sPort: number;
  /** The component port of the first component domain. */
  componentPort: number;
  /** Each component domain's port: one for all on Prosody, one listener per domain on ejabberd. */
  componentPorts: Readonly<Record<string, number>>;
  /** XEP-0114 handshake secret, the same for every component domain. */
  componentSecret: string;
  /** Component domains the server accepts, e.g. ['irc.localhost', 'matrix.localhost']. */
  components: string[];
  /** The instance's temp dir (config, data, logs). */
  dir: string;
  /** Create an account `user@domain` (the server must be running). */
  registerUser(user: string, password: string): Promise<void>;
  /** Stop, then start again on the same ports with the same data. */
  restart(): Promise<void>;
  /** Stop the server process and wait for it to exit. Idempotent. */
  stop(): Promise<void>;
}

export interface XmppServerOptions {
  /** Component domains; default ['irc.localhost', 'matrix.localhost']. */
  components?: string[];
  /** Component secret; default a random one. */
  secret?: string;
  /** Prosody only: another config file that reads the same variables (default deploy/prosody/prosody.cfg.lua). */
  configFile?: string;
}

export { startProsody } from './prosody.js';
export { startEjabberd } from './ejabberd.js';
