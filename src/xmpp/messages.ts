import type { XmppModule } from './context.js';

export const registerMessages: XmppModule = () => undefined;

import type { InboundStanza } from './router.js';
import type { Target } from './addressing.js';
import type { XmppContext } from './context.js';
import type { Session } from '../core/sessions.js';
import type { RoomState } from '../core/rooms.js';
import { GatewayError } from '../core/errors.js';

/**
 * A groupchat message from one of the user's resources to a room they are in
 * (called by the MUC module for anything that is not a subject change or an
 * invitation): text, corrections, retractions, reactions, chat states, ...
 */
export async function handleGroupchatMessage(
  _context: XmppContext,
  _stanza: InboundStanza,
  _target: Extract<Target, { kind: 'room' }>,
  _session: Session,
  _room: RoomState,
): Promise<void> {
  throw new GatewayError('feature-not-implemented', 'Sending to rooms is not implemented yet.');
}
