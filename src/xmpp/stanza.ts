// The only module that imports xmpp.js directly. Everything else uses these
// re-exports and the typed facade in component.ts.
import xmppComponent from '@xmpp/component';

export type { Element, JID, XmlChild } from '@xmpp/component';
export const xml = xmppComponent.xml;
export const parseJid = xmppComponent.jid;
export const createComponent = xmppComponent.component;

export type StanzaKind = 'message' | 'presence' | 'iq';

export function stanzaKind(name: string): StanzaKind | null {
  return name === 'message' || name === 'presence' || name === 'iq' ? name : null;
}
