import type { XmppModule } from './context.js';

export const registerGatewayIq: XmppModule = () => undefined;
