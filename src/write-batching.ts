// One write system call per event-loop turn and socket, instead of one per
// stanza or IRC line: the first write of a turn corks the socket, and the
// check phase of the same turn (setImmediate) uncorks it, so everything
// written in between leaves in one writev. Costs at most the rest of the
// current turn in latency; nothing is held longer than that.
import type { Writable } from 'node:stream';

const corked = new WeakSet<Writable>();

/** Call before writing to `socket`: the writes of this turn go out together when it ends. */
export function batchWritesThisTurn(socket: Writable | null | undefined): void {
  if (!socket || corked.has(socket) || socket.destroyed) return;
  corked.add(socket);
  socket.cork();
  setImmediate(() => {
    corked.delete(socket);
    socket.uncork();
  });
}
