import type { XmppModule } from './context.js';

export const registerPresence: XmppModule = () => undefined;
