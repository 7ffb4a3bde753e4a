// The XMPP-side modules, in registration order. Each registers its IQ routes
// and message/presence handlers in the StanzaRouter and listens to Core.events.
import type { XmppModule } from './context.js';
import { registerDisco } from './disco.js';
import { registerService } from './service.js';

export const XMPP_MODULES: readonly XmppModule[] = [registerService, registerDisco];
