import type { XmppModule } from './context.js';

export const registerAdhoc: XmppModule = () => undefined;
