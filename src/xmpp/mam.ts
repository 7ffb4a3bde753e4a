import type { XmppModule } from './context.js';

export const registerMam: XmppModule = () => undefined;
