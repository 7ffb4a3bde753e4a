// The single error boundary of the XMPP side: whatever a handler throws
// becomes a stanza error (RFC 6120 §8.3) with a condition and a readable text.
import { GatewayError } from '../core/errors.js';
import { xml, type Element } from './stanza.js';

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** Turns a thrown value into an `<error/>` element. Unknown errors become internal-server-error. */
export function toStanzaError(err: unknown): { element: Element; known: boolean; condition: string } {
  const known = err instanceof GatewayError;
  const gatewayError = known
    ? err
    : new GatewayError('internal-server-error', 'The gateway failed to handle this request; the administrator can find details in its log.');
  const element = xml(
    'error',
    { type: gatewayError.type },
    xml(gatewayError.condition, { xmlns: NS_STANZAS }),
    xml('text', { xmlns: NS_STANZAS, 'xml:lang': 'en' }, gatewayError.message),
  );
  return { element, known, condition: gatewayError.condition };
}

/** An error reply to `stanza` (message, presence or iq): from/to swapped, same id, type="error". */
export function errorReply(stanza: Element, error: Element): Element {
  const reply = xml(stanza.name, {
    from: stanza.attrs.to,
    to: stanza.attrs.from,
    id: stanza.attrs.id,
    type: 'error',
  });
  // RFC 6120 §8.3.1: an iq error reply may include the original payload; we keep it short and omit it.
  reply.append(error);
  return reply;
}
