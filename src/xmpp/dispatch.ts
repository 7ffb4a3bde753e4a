// Messages and presences addressed to the gateway's JIDs go to the module
// that owns the kind of thing addressed (the gateway itself, a room, an
// occupant, a contact, a network server). Modules register here instead of
// on the router, so several can share one domain.
import { GatewayError } from '../core/errors.js';
import type { Addressing, Target } from './addressing.js';
import type { InboundStanza, StanzaRouter } from './router.js';

export type TargetKind = Target['kind'];
export type TargetedHandler = (stanza: InboundStanza, target: Target) => Promise<void> | void;

export class StanzaDispatch {
  private readonly handlers = new Map<string, TargetedHandler>();

  constructor(
    private readonly addressing: Addressing,
    router: StanzaRouter,
    domains: readonly string[],
  ) {
    for (const domain of domains) {
      router.onMessage(domain, (stanza) => this.dispatch(stanza));
      router.onPresence(domain, (stanza) => this.dispatch(stanza));
    }
  }

  on(kind: 'message' | 'presence', targets: readonly TargetKind[], handler: TargetedHandler): void {
    for (const target of targets) {
      const key = `${kind}|${target}`;
      if (this.handlers.has(key)) throw new Error(`two modules handle ${kind} to ${target}`);
      this.handlers.set(key, handler);
    }
  }

  private async dispatch(stanza: InboundStanza): Promise<void> {
    // Errors sent to us are never answered (RFC 6120 §8.3.1); the module may still want them.
    let target: Target;
    try {
      target = await this.addressing.resolve(stanza.to);
    } catch (err) {
      if (stanza.type === 'error' || (stanza.kind === 'presence' && stanza.type === 'unavailable')) return;
      throw err;
    }
    const handler = this.handlers.get(`${stanza.kind}|${target.kind}`);
    if (handler) return handler(stanza, target);
    if (stanza.kind === 'message' && stanza.type !== 'error') {
      throw new GatewayError('service-unavailable', `${stanza.to} does not accept messages.`);
    }
  }
}
