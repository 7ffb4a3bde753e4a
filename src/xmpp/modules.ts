// The XMPP-side modules, in registration order. Each registers its IQ routes
// and message/presence handlers (router, stanza dispatch) and listens to
// Core.events.
import { registerAdhoc } from './adhoc.js';
import type { XmppModule } from './context.js';
import { registerDisco } from './disco.js';
import { registerGatewayIq } from './gateway-iq.js';
import { registerMam } from './mam.js';
import { registerMessages } from './messages.js';
import { registerMuc } from './muc.js';
import { registerPresence } from './presence.js';
import { registerRegistration } from './registration.js';
import { registerService } from './service.js';
import { registerVcard } from './vcard.js';

export const XMPP_MODULES: readonly XmppModule[] = [
  registerService,
  registerDisco,
  registerRegistration,
  registerGatewayIq,
  registerAdhoc,
  registerVcard,
  registerPresence,
  registerMuc,
  registerMessages,
  registerMam,
];
