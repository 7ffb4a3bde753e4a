// A small typed wrapper around @xmpp/client for end-to-end tests: the user side.
// Connects over plain TCP to 127.0.0.1 (service xmpp://127.0.0.1:PORT, so
// @xmpp/resolve does no DNS/SRV lookup at all; our server configs offer no
// STARTTLS, so none is attempted) and authenticates with SASL (SCRAM-SHA-1,
// which @xmpp/client prefers over PLAIN on an unencrypted stream).
// Automatic reconnect is off: a test decides when to connect again.
//
// @xmpp/client ships no type declarations; the few parts used here are typed
// locally below (the `@ts-ignore` keeps working if declarations appear later).
// @ts-ignore -- untyped JavaScript module
import * as xmppClient from '@xmpp/client';
import type { XmppServer } from './xmpp-server.js';
import { decodeWholeCharacters } from '../../src/xmpp/whole-characters.js';

/** The ltx element @xmpp/xml produces (the subset tests use). */
export interface XmlElement {
  name: string;
  attrs: Record<string, string | undefined>;
  children: Array<XmlElement | string>;
  parent?: XmlElement | null;
  is(name: string, xmlns?: string): boolean;
  getNS(): string | undefined;
  getChild(name: string, xmlns?: string): XmlElement | undefined;
  getChildren(name: string, xmlns?: string): XmlElement[];
  getChildText(name: string, xmlns?: string): string | null;
  getChildElements(): XmlElement[];
  getText(): string;
  text(): string;
  toString(): string;
}

type XmlChild = XmlElement | string | null | undefined | false | XmlChild[];
export type XmlFactory = (
  name: string,
  attrs?: Record<string, string | number | undefined> | null,
  ...children: XmlChild[]
) => XmlElement;

interface RawClient {
  status: string;
  jid: { toString(): string; bare(): { toString(): string } } | null;
  on(event: 'stanza', listener: (el: XmlElement) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(...els: XmlElement[]): Promise<void>;
  reconnect: { stop(): void };
  iqCaller: { request(el: XmlElement, timeoutMs?: number): Promise<XmlElement> };
  isSecure(): boolean;
}

const lib = xmppClient as unknown as {
  client(options: Record<string, unknown>): RawClient;
  xml: XmlFactory;
};

/** Build stanzas: xml('iq', { type: 'get', to }, xml('query', { xmlns })). */
export const xml: XmlFactory = lib.xml;

export interface TestXmppClient {
  /** Full JID bound by the server, e.g. alice@localhost/test. */
  readonly jid: string;
  readonly bareJid: string;
  /** The underlying @xmpp/client instance, for anything not wrapped here. */
  readonly raw: RawClient;
  /** Send an iq and wait for its result; rejects on an error reply (StanzaError) or timeout. */
  iq(el: XmlElement, timeoutMs?: number): Promise<XmlElement>;
  /** Send an iq and resolve with the reply as it is, type result or error (rejects only on timeout). */
  iqRaw(el: XmlElement, timeoutMs?: number): Promise<XmlElement>;
  send(el: XmlElement): Promise<void>;
  /**
   * The first incoming stanza matching `predicate`, including ones received
   * before this call that no earlier waitFor took. A matched stanza is consumed.
   */
  waitFor(predicate: (el: XmlElement) => boolean, timeoutMs?: number): Promise<XmlElement>;
  /** Incoming stanzas not consumed by waitFor yet (oldest first). */
  pending(): XmlElement[];
  /** Errors the connection emitted (for diagnostics). */
  errors(): Error[];
  stop(): Promise<void>;
}

/** Alias used by other tests. */
export type TestClient = TestXmppClient;

export interface ConnectOptions {
  /** Send initial presence after login (default true). */
  presence?: boolean;
  /** Login timeout (default 15 s). */
  timeoutMs?: number;
}

const MAX_BUFFERED = 5000;

/** Prosody (mod_privilege) sends each client an empty `<privilege/>` message after initial presence. */
function isPrivilegeNoise(el: XmlElement, domain: string): boolean {
  if (!el.is('message')) return false;
  if (el.attrs.from !== undefined && el.attrs.from !== domain) return false;
  const kids = el.getChildElements();
  return (
    kids.length === 1 &&
    kids[0]!.name === 'privilege' &&
    (kids[0]!.getNS() ?? '').startsWith('urn:xmpp:privilege:') &&
    kids[0]!.getChildElements().length === 0
  );
}

export async function connectClient(
  server: XmppServer,
  user: string,
  password: string,
  resource = 'test',
  opts: ConnectOptions = {},
): Promise<TestXmppClient> {
  const raw = lib.client({
    service: `xmpp://${server.host}:${server.c2sPort}`,
    domain: server.domain,
    resource,
    username: user,
    password,
  });
  raw.reconnect.stop();
  // The user's client must not corrupt split characters either (see src/xmpp/whole-characters.ts).
  decodeWholeCharacters(raw);

  const buffered: XmlElement[] = [];
  const errors: Error[] = [];
  const waiters: Array<{ predicate: (el: XmlElement) => boolean; resolve: (el: XmlElement) => void }> = [];
  // Replies that iqCaller resolves (our iq() calls, resource binding) are not buffered.
  const callerIds = new Set<string>();
  const isCallerReply = (el: XmlElement) =>
    el.is('iq') &&
    (el.attrs.type === 'result' || el.attrs.type === 'error') &&
    (callerIds.delete(el.attrs.id ?? '') || el.getChild('bind', 'urn:ietf:params:xml:ns:xmpp-bind') !== undefined);

  raw.on('error', (err: Error) => {
    errors.push(err);
  });
  raw.on('stanza', (el: XmlElement) => {
    if (isPrivilegeNoise(el, server.domain) || isCallerReply(el)) return;
    const index = waiters.findIndex((w) => {
      try {
        return w.predicate(el);
      } catch {
        return false;
      }
    });
    if (index >= 0) {
      const [waiter] = waiters.splice(index, 1);
      waiter!.resolve(el);
      return;
    }
    buffered.push(el);
    if (buffered.length > MAX_BUFFERED) buffered.shift();
  });

  const timeoutMs = opts.timeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      raw.start(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`XMPP login of ${user}@${server.domain} not done after ${timeoutMs} ms (status ${raw.status})`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    await raw.stop().catch(() => undefined);
    const e = err as Error;
    throw new Error(`XMPP login of ${user}@${server.domain} on ${server.kind}:${server.c2sPort} failed: ${e.message}`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }

  if (opts.presence !== false) await raw.send(xml('presence'));

  const jid = raw.jid?.toString() ?? `${user}@${server.domain}/${resource}`;
  let stopped = false;

  let iqCounter = 0;
  const client: TestXmppClient = {
    jid,
    bareJid: jid.split('/')[0]!,
    raw,
    iq(el, ms = 10_000) {
      el.attrs.id ??= `iq-${Date.now().toString(36)}-${++iqCounter}`;
      callerIds.add(el.attrs.id);
      return raw.iqCaller.request(el, ms).finally(() => {
        // The reply has been seen (or never comes): forget the id either way.
        setTimeout(() => callerIds.delete(el.attrs.id ?? ''), 1000).unref();
      });
    },
    async iqRaw(el, ms = 10_000) {
      const id = el.attrs.id ?? `raw-${Date.now().toString(36)}-${++iqCounter}`;
      el.attrs.id = id;
      const reply = client.waitFor(
        (s) => s.is('iq') && s.attrs.id === id && (s.attrs.type === 'result' || s.attrs.type === 'error'),
        ms,
      );
      reply.catch(() => undefined); // if send() throws, that error is the one reported
      await raw.send(el);
      return reply;
    },
    send(el) {
      return raw.send(el);
    },
    waitFor(predicate, ms = 10_000) {
      const index = buffered.findIndex((el) => {
        try {
          return predicate(el);
        } catch {
          return false;
        }
      });
      if (index >= 0) return Promise.resolve(buffered.splice(index, 1)[0]!);
      return new Promise<XmlElement>((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (el: XmlElement) => {
            clearTimeout(t);
            resolve(el);
          },
        };
        const t = setTimeout(() => {
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          reject(
            new Error(
              `${jid}: no matching stanza within ${ms} ms; unconsumed: ${buffered
                .slice(-5)
                .map((el) => el.toString().slice(0, 300))
                .join('\n') || '(none)'}`,
            ),
          );
        }, ms);
        waiters.push(waiter);
      });
    },
    pending: () => [...buffered],
    errors: () => [...errors],
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await raw.stop();
      } catch {
        // already disconnected (e.g. the server went away)
      }
    },
  };
  return client;
}
