// xmpp.js (@xmpp/connection 0.14) decodes every TCP chunk on its own, so a
// multi-byte UTF-8 character split between two chunks arrives as two U+FFFD:
// a body, nick or JID with an emoji or an accent at the wrong place comes out
// corrupted. This keeps one StringDecoder per socket, which holds back the
// first bytes of a split character until the rest arrives.
import { StringDecoder } from 'node:string_decoder';

/** The part of an xmpp.js connection this touches (its data handler is bound on the first connect). */
interface XmppConnection {
  socket?: unknown;
  parser?: { write(text: string): void } | null;
  _onData(data: Buffer): void;
}

/** Must run before the connection's first start(). */
export function decodeWholeCharacters(connection: unknown): void {
  const conn = connection as XmppConnection;
  let decoder = new StringDecoder('utf8');
  let socket: unknown;
  conn._onData = (data: Buffer) => {
    // A new socket starts with a new decoder: no half character from the last one.
    if (conn.socket !== socket) {
      socket = conn.socket;
      decoder = new StringDecoder('utf8');
    }
    conn.parser?.write(decoder.write(data));
  };
}
