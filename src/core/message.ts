// The one message model every feature maps through, in both directions.
// Text is plain text with XEP-0393 styling (what most XMPP clients send and
// show); networks convert to and from their own formatting.

export type ChatState = 'active' | 'composing' | 'paused' | 'inactive' | 'gone';

export interface Attachment {
  url: string;
  mediaType?: string;
  name?: string;
  size?: number;
  description?: string;
}

/** What an XMPP user sends, after the XMPP side parsed the stanza. */
export interface OutgoingMessage {
  /** The client's id (origin-id if present, else the stanza id); ponte's own if the client gave none. */
  xmppId: string;
  body: string;
  /** A /me action (XEP-0245): `body` is without the leading "/me ". */
  action?: boolean;
  /** Network id of the message this one replies to (XEP-0461), resolved through the store. */
  replyTo?: { id: string; nick?: string; quote?: string };
  attachments?: Attachment[];
}

/** What the network delivers. */
export interface IncomingMessage {
  /** The network's id for this message; unique within its conversation. */
  id: string;
  body: string;
  action?: boolean;
  /** A NOTICE (IRC) / m.notice (Matrix): shown, never answered automatically. */
  notice?: boolean;
  /** When it was sent, if the network says (XEP-0203 delay when in the past). */
  timestamp?: Date;
  replyTo?: { id: string; nick?: string };
  attachments?: Attachment[];
  /** The user's own message (echo from the network, or sent from another client of theirs). */
  own?: boolean;
  /** The client id the user sent it with, when the network echoes it back (IRCv3 labels, Matrix txn ids). */
  xmppId?: string;
}

export interface SentReceipt {
  /** The network id(s) the message got: several when the network split it (IRC line length). */
  ids: string[];
  timestamp?: Date;
}
