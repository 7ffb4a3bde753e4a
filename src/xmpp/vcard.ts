import type { XmppModule } from './context.js';

export const registerVcard: XmppModule = () => undefined;
