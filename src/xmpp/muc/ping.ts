// XEP-0410 MUC self-ping, answered by the gateway itself (the "server
// optimization" of §3.3: the occupants are the gateway's, nobody to forward to).
import type { Core } from '../../core/core.js';
import { GatewayError } from '../../core/errors.js';
import type { OccupantTarget } from './common.js';

/**
 * A ping from `from` to an occupant JID. Returns normally for a result; throws
 * not-acceptable when that resource is not in the room (the client should
 * rejoin), item-not-found when no occupant has that nick (e.g. the nick was
 * just changed by another resource of the same user).
 */
export function checkOccupantPing(core: Core, target: OccupantTarget, from: string): void {
  const room = core.session(target.gateway, from)?.room(target.address);
  if (!room || room.joining || !room.resources.has(from)) {
    throw new GatewayError('not-acceptable', `You are not in ${target.bare}.`);
  }
  if (target.nick === room.nick || room.participants.has(target.nick)) return;
  throw new GatewayError('item-not-found', `Nobody in ${target.bare} is called ${target.nick}.`);
}
