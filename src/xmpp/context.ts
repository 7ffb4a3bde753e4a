// What every XMPP-side module gets: the route table to register its handlers
// in, the core, the store, the address mapping, and a way to send.
import type { Config } from '../config/schema.js';
import type { Core } from '../core/core.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { Addressing } from './addressing.js';
import type { StanzaDispatch } from './dispatch.js';
import type { StanzaRouter } from './router.js';
import type { Element } from './stanza.js';

export interface XmppContext {
  router: StanzaRouter;
  core: Core;
  store: Store;
  config: Config;
  addressing: Addressing;
  /** Message and presence handlers by the kind of JID addressed. */
  stanzas: StanzaDispatch;
  log: Logger;
  /** Sends through the component connection of the stanza's `from` domain (queued while it is down). */
  send(element: Element): Promise<void>;
}

/** An XMPP-side module: registers its handlers and event listeners. */
export type XmppModule = (context: XmppContext) => void;
