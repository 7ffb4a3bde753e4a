import type { XmppModule } from './context.js';

export const registerRegistration: XmppModule = () => undefined;
