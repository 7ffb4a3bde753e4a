// Remembers every available presence the gateway has sent and not yet
// withdrawn, so that on shutdown each of them gets an unavailable presence
// (RFC 6121 §4.5.2) and no contact or occupant stays shown online forever.
import { xml, type Element } from './stanza.js';

export class PresenceTracker {
  private readonly shown = new Map<string, { from: string; to: string }>();

  /** Looks at an outgoing stanza; call for everything sent. */
  observe(stanza: Element): void {
    if (stanza.name !== 'presence') return;
    const from = stanza.attrs.from;
    const to = stanza.attrs.to;
    if (!from || !to) return;
    const key = `${from}\n${to}`;
    const type = stanza.attrs.type;
    if (type === undefined) this.shown.set(key, { from, to });
    else if (type === 'unavailable' || type === 'error') this.shown.delete(key);
  }

  get size(): number {
    return this.shown.size;
  }

  /** Unavailable presences for everything still shown, with a status text saying why. */
  withdrawAll(status: string): Element[] {
    const presences = [...this.shown.values()].map(({ from, to }) =>
      xml('presence', { from, to, type: 'unavailable' }, xml('status', {}, status)),
    );
    this.shown.clear();
    return presences;
  }
}
