// A lean XMPP user for the bench, on @xmpp/client like test/harness/xmpp-client.ts
// but without its stanza buffer: listeners see every stanza as it arrives, so a
// run of thousands of messages costs the client no more than it must. Logs in
// with SASL PLAIN (the bench's Prosody stores plain passwords: no PBKDF2 on
// either side for thousands of logins).
// @ts-ignore -- untyped JavaScript module
import * as xmppClient from '@xmpp/client';
import type { XmlElement, XmlFactory } from '../../test/harness/xmpp-client.js';

interface RawClient {
  on(event: string, listener: (...args: never[]) => void): void;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(...els: XmlElement[]): Promise<void>;
  reconnect: { stop(): void };
  iqCaller: { request(el: XmlElement, timeoutMs?: number): Promise<XmlElement> };
}
const lib = xmppClient as unknown as { client(options: Record<string, unknown>): RawClient; xml: XmlFactory };
export const xml: XmlFactory = lib.xml;

export const MUC = 'http://jabber.org/protocol/muc';
export const MUC_USER = 'http://jabber.org/protocol/muc#user';
const COMMANDS = 'http://jabber.org/protocol/commands';
const DATA = 'jabber:x:data';

export type Listener = (el: XmlElement) => void;

export interface BenchUser {
  readonly user: string;
  readonly jid: string;
  send(el: XmlElement): Promise<void>;
  iq(el: XmlElement, timeoutMs?: number): Promise<XmlElement>;
  /** Add a stanza listener; returns its removal. */
  listen(listener: Listener): () => void;
  /** The first stanza matching `predicate` from now on (bounded). */
  next(predicate: (el: XmlElement) => boolean, timeoutMs: number, what: string): Promise<XmlElement>;
  stop(): Promise<void>;
}

export interface XmppEndpoint {
  host: string;
  c2sPort: number;
  domain: string;
}

export async function login(server: XmppEndpoint, user: string, password: string, timeoutMs = 30_000): Promise<BenchUser> {
  const raw = lib.client({
    service: `xmpp://${server.host}:${server.c2sPort}`,
    domain: server.domain,
    resource: 'bench',
    credentials: (authenticate: (creds: object, mechanism: string) => Promise<void>) => authenticate({ username: user, password }, 'PLAIN'),
  });
  raw.reconnect.stop();
  const listeners = new Set<Listener>();
  raw.on('error', () => undefined);
  raw.on('stanza', ((el: XmlElement) => {
    for (const listener of listeners) listener(el);
  }) as never);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      raw.start(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`login of ${user} not done after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    await raw.stop().catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  await raw.send(xml('presence'));
  const jid = `${user}@${server.domain}/bench`;
  let stopped = false;
  const self: BenchUser = {
    user,
    jid,
    send: (el) => raw.send(el),
    iq: (el, ms = 15_000) => raw.iqCaller.request(el, ms),
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    next(predicate, ms, what) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          remove();
          reject(new Error(`${user}: no ${what} within ${ms} ms`));
        }, ms);
        const remove = self.listen((el) => {
          if (!predicate(el)) return;
          clearTimeout(t);
          remove();
          resolve(el);
        });
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await raw.stop().catch(() => undefined);
    },
  };
  return self;
}

const bare = (jid: string | undefined) => (jid ?? '').split('/')[0]!;

/** Join a MUC without history; resolves on the self-presence (status 110), rejects on an error presence. */
export async function joinRoom(user: BenchUser, room: string, nick: string, timeoutMs: number): Promise<void> {
  const done = user.next(
    (el) =>
      el.is('presence') &&
      bare(el.attrs.from) === room &&
      (el.attrs.type === 'error' ||
        (el.getChild('x', MUC_USER)?.getChildren('status') ?? []).some((s) => s.attrs.code === '110')),
    timeoutMs,
    `self-presence from ${room}`,
  );
  await user.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: MUC }, xml('history', { maxstanzas: 0 }))));
  const el = await done;
  if (el.attrs.type === 'error') {
    const error = el.getChild('error');
    const condition = error?.getChildElements().find((c) => c.name !== 'text')?.name ?? 'unknown';
    throw new Error(`join of ${room} failed: ${condition}: ${error?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas') ?? ''}`);
  }
}

/**
 * Run an ad-hoc command that answers with a form (XEP-0050) and submit it with
 * `values` changed; every other field keeps the value the form offered.
 */
export async function submitCommand(user: BenchUser, to: string, node: string, values: Record<string, string[]>): Promise<void> {
  const first = await user.iq(xml('iq', { type: 'set', to }, xml('command', { xmlns: COMMANDS, node, action: 'execute' })));
  const command = first.getChild('command', COMMANDS);
  const form = command?.getChild('x', DATA);
  if (!command || !form) throw new Error(`${to} ${node}: no form in ${first.toString()}`);
  const fields = form.getChildren('field').filter((f) => f.attrs.var);
  for (const key of Object.keys(values)) {
    if (!fields.some((f) => f.attrs.var === key)) throw new Error(`${to} ${node}: the form has no field ${key}`);
  }
  const submitted = fields.map((f) => {
    const name = f.attrs.var!;
    const given = values[name] ?? f.getChildren('value').map((v) => v.getText());
    return xml('field', { var: name }, ...given.map((v) => xml('value', {}, v)));
  });
  const reply = await user.iq(
    xml(
      'iq',
      { type: 'set', to },
      xml('command', { xmlns: COMMANDS, node, sessionid: command.attrs.sessionid, action: 'complete' }, xml('x', { xmlns: DATA, type: 'submit' }, ...submitted)),
    ),
  );
  const status = reply.getChild('command', COMMANDS)?.attrs.status;
  if (status !== 'completed') throw new Error(`${to} ${node}: not completed: ${reply.toString()}`);
}
