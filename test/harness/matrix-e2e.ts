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

/** Registers the client with the Matrix gateway (XEP-0077 form): homeserver URL, username, password. */
export async function registerMatrix(client: TestXmppClient, homeserver: string, username: string, password: string): Promise<void> {
  const values = { homeserver, username, password };
  await client.iq(
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
    ),
  );
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
