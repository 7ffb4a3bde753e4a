// Transaction ids that survive a retry: derived from the XMPP message id and
// the room, so sending the same XMPP message again (a client's resend, a
// retry after a timeout, a restart in between) reuses the txn id and the
// homeserver answers with the event it already has instead of a second one.
// The XMPP id is readable back from the txn id the homeserver echoes in
// unsigned.transaction_id, so the echo is recognised even after a restart.
import { createHash } from 'node:crypto';

const PREFIX = 'ponte.';

export function txnIdFor(roomId: string, xmppId: string, purpose = 'm'): string {
  const room = createHash('sha256').update(roomId).digest('base64url').slice(0, 8);
  return `${PREFIX}${purpose}.${room}.${Buffer.from(xmppId, 'utf8').toString('base64url')}`;
}

/** The XMPP id a txn id of ours was made from; undefined for other txn ids. */
export function xmppIdOfTxn(txnId: string | undefined): string | undefined {
  if (!txnId?.startsWith(PREFIX)) return undefined;
  const parts = txnId.slice(PREFIX.length).split('.');
  // m: the message itself; f<n>: the n-th file sent with it.
  if (parts.length !== 3 || !/^(m|f\d+)$/.test(parts[0]!)) return undefined;
  return Buffer.from(parts[2]!, 'base64url').toString('utf8');
}

/** Whether a txn id was made by ponte (txnIdFor). */
export function isOurTxn(txnId: string | undefined): boolean {
  return txnId?.startsWith(PREFIX) === true;
}
