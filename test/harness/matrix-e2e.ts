// What the Matrix end-to-end files share: JIDs on the Matrix gateway for the
// homeserver stand-in, registration with a homeserver, a MUC join as an XMPP
// client does it, and a bounded poll.
import { xml, type TestXmppClient, type XmlElement } from './xmpp-client.js';

export const MUC = 'http://jabber.org/protocol/muc';
export const REGISTER = 'jabber:iq:register';
const DATA = 'jabber:x:data';
export const MATRIX_DOMAIN = 'matrix.localhost';
/** The stand-in's server name. */
export const HS = 'localhost';

export const roomJid = (alias: string) => `#${alias}%${HS}@${MATRIX_DOMAIN}`;
export const bareOf = (jid: string | undefined) => (jid ?? '').split('/')[0]!;

/** The XEP-0077 form a client submits to the Matrix gateway (homeserver, then username + password or token). */
export const registrationForm = (values: Record<string, string>) =>
  xml(
    'iq',
    { type: 'set', to: MATRIX_DOMAIN },
    xml(
      'query',
      { xmlns: REGISTER },
      xml(
        'x',
        { xmlns: DATA, type: 'submit' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, REGISTER)),
        ...Object.entries(values).map(([name, value]) => xml('field', { var: name }, xml('value', {}, value))),
      ),
    ),
  );

/** Registers the client with the Matrix gateway: homeserver URL, username, password. */
export async function registerMatrix(client: TestXmppClient, homeserver: string, username: string, password: string): Promise<void> {
  await client.iq(registrationForm({ homeserver, username, password }));
}

/** Joins a room JID as `nick`; resolves with every stanza from the room up to the subject (the end of the join). */
export async function joinRoom(client: TestXmppClient, jid: string, nick: string): Promise<XmlElement[]> {
  await client.send(xml('presence', { to: `${jid}/${nick}` }, xml('x', { xmlns: MUC })));
  const out: XmlElement[] = [];
  for (;;) {
    const el = await client.waitFor((s) => bareOf(s.attrs.from) === jid, 20_000);
    out.push(el);
    if (el.attrs.type === 'error') throw new Error(`join of ${jid} failed: ${el.toString()}`);
    if (el.is('message') && el.getChild('subject') && !el.getChild('body')) return out;
  }
}

/** Polls until `check` gives a truthy value (bounded). */
export async function eventually<T>(check: () => T | Promise<T>, what: string, ms = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const MAM = 'urn:xmpp:mam:2';
const RSM = 'http://jabber.org/protocol/rsm';
let mamQueries = 0;

export interface MamPage {
  results: Array<{ id: string; message: XmlElement; stamp: string }>;
  complete: boolean;
  first?: string;
  count: number;
}

/**
 * A MAM query on `archive` (a room JID, or the gateway domain with `with` = a contact),
 * paged with RSM max/before (before: '' for the last page).
 */
export async function mamQuery(client: TestXmppClient, archive: string, paging: { max?: number; before?: string; with?: string } = {}): Promise<MamPage> {
  const queryId = `mq${++mamQueries}`;
  const set =
    paging.max !== undefined || paging.before !== undefined
      ? xml('set', { xmlns: RSM }, paging.max !== undefined ? xml('max', {}, String(paging.max)) : null, paging.before !== undefined ? xml('before', {}, paging.before) : null)
      : null;
  const form =
    paging.with !== undefined
      ? xml(
          'x',
          { xmlns: DATA, type: 'submit' },
          xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, MAM)),
          xml('field', { var: 'with' }, xml('value', {}, paging.with)),
        )
      : null;
  const reply = await client.iq(xml('iq', { type: 'set', to: archive }, xml('query', { xmlns: MAM, queryid: queryId }, form, set)), 30_000);
  const results: MamPage['results'] = [];
  for (;;) {
    const next = client.pending().find((s) => s.is('message') && s.getChild('result', MAM)?.attrs.queryid === queryId);
    if (!next) break;
    const taken = await client.waitFor((s) => s === next, 100);
    const result = taken.getChild('result', MAM)!;
    const forwarded = result.getChild('forwarded', 'urn:xmpp:forward:0')!;
    results.push({ id: result.attrs.id!, message: forwarded.getChild('message')!, stamp: forwarded.getChild('delay', 'urn:xmpp:delay')!.attrs.stamp! });
  }
  const fin = reply.getChild('fin', MAM)!;
  const rsm = fin.getChild('set', RSM)!;
  return { results, complete: fin.attrs.complete === 'true', first: rsm.getChildText('first') ?? undefined, count: Number(rsm.getChildText('count')) };
}
