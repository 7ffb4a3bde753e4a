import type { XmppModule } from './context.js';

export const registerMuc: XmppModule = () => undefined;
