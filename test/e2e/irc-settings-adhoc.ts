// Ad-hoc commands (XEP-0050) as an XMPP client runs them, for the IRC
// settings and authentication end-to-end tests: execute "configure" on a JID,
// read the form, submit values.
import assert from 'node:assert/strict';
import { xml, type TestXmppClient, type XmlElement } from '../harness/xmpp-client.js';

export const COMMANDS = 'http://jabber.org/protocol/commands';
export const DATA = 'jabber:x:data';
export const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

export interface FormReply {
  status: string;
  sessionid: string;
  notes: string[];
  /** var -> values */
  values: Map<string, string[]>;
  types: Map<string, string>;
  descs: Map<string, string>;
}

export function parseCommand(reply: XmlElement): FormReply {
  assert.equal(reply.attrs.type, 'result', reply.toString());
  const command = reply.getChild('command', COMMANDS)!;
  const fields = command.getChild('x', DATA)?.getChildren('field') ?? [];
  return {
    status: command.attrs.status!,
    sessionid: command.attrs.sessionid!,
    notes: command.getChildren('note').map((n) => n.text()),
    values: new Map(fields.map((f) => [f.attrs.var!, f.getChildren('value').map((v) => v.text())])),
    types: new Map(fields.map((f) => [f.attrs.var!, f.attrs.type ?? ''])),
    descs: new Map(fields.map((f) => [f.attrs.var!, f.getChildText('desc') ?? ''])),
  };
}

export function errorOf(reply: XmlElement): { condition: string; text: string } {
  assert.equal(reply.attrs.type, 'error', reply.toString());
  const error = reply.getChild('error')!;
  const condition = error.getChildElements().find((c) => c.getNS() === STANZAS && c.name !== 'text')!.name;
  return { condition, text: error.getChildText('text', STANZAS) ?? '' };
}

/** Opens the "configure" command of `jid` and returns its form. */
export async function openSettings(client: TestXmppClient, jid: string): Promise<FormReply> {
  const reply = parseCommand(await client.iq(xml('iq', { type: 'set', to: jid }, xml('command', { xmlns: COMMANDS, node: 'configure', action: 'execute' }))));
  assert.equal(reply.status, 'executing');
  return reply;
}

export function submitStanza(jid: string, sessionid: string, values: Record<string, string | string[]>): XmlElement {
  return xml(
    'iq',
    { type: 'set', to: jid },
    xml(
      'command',
      { xmlns: COMMANDS, node: 'configure', sessionid, action: 'complete' },
      xml(
        'x',
        { xmlns: DATA, type: 'submit' },
        ...Object.entries(values).map(([name, value]) => xml('field', { var: name }, ...(Array.isArray(value) ? value : [value]).map((v) => xml('value', {}, v)))),
      ),
    ),
  );
}

/** Runs "configure" on `jid` with these values; resolves with the completed reply (or rejects on an error reply). */
export async function configure(client: TestXmppClient, jid: string, values: Record<string, string | string[]>): Promise<FormReply> {
  const form = await openSettings(client, jid);
  const done = parseCommand(await client.iq(submitStanza(jid, form.sessionid, values)));
  assert.equal(done.status, 'completed');
  return done;
}

/** Runs "configure" on `jid` with these values and returns the error the gateway answered. */
export async function configureRefused(client: TestXmppClient, jid: string, values: Record<string, string | string[]>): Promise<{ condition: string; text: string }> {
  const form = await openSettings(client, jid);
  return errorOf(await client.iqRaw(submitStanza(jid, form.sessionid, values)));
}

const MUC = 'http://jabber.org/protocol/muc';

/** Sends a MUC join and resolves with the stanzas up to the subject, or the error presence. */
export async function joinRoom(client: TestXmppClient, roomJid: string, nick: string, password?: string): Promise<{ stanzas: XmlElement[]; error?: XmlElement }> {
  await client.send(xml('presence', { to: `${roomJid}/${nick}` }, xml('x', { xmlns: MUC }, password ? xml('password', {}, password) : null)));
  const stanzas: XmlElement[] = [];
  for (;;) {
    const el = await client.waitFor((s) => (s.attrs.from ?? '').split('/')[0] === roomJid, 30_000);
    stanzas.push(el);
    if (el.attrs.type === 'error') return { stanzas, error: el };
    if (el.is('message') && el.getChild('subject') && !el.getChild('body')) return { stanzas };
  }
}
