// The live sessions: one per (XMPP bare JID, network account). Kept per
// process and rebuilt from the store at start, never the only copy of
// anything durable.

export interface Session {
  readonly network: string;
  /** The XMPP user's bare JID. */
  readonly userJid: string;
  /** Open connections to the network (e.g. one per IRC server). */
  connectionCount(): number;
  /** Ends the session, telling the network why (an IRC QUIT message, say). */
  close(reason: string): Promise<void>;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();

  private static key(network: string, userJid: string): string {
    return `${network}\n${userJid}`;
  }

  add(session: Session): void {
    this.sessions.set(SessionRegistry.key(session.network, session.userJid), session);
  }

  get(network: string, userJid: string): Session | undefined {
    return this.sessions.get(SessionRegistry.key(network, userJid));
  }

  remove(session: Session): void {
    this.sessions.delete(SessionRegistry.key(session.network, session.userJid));
  }

  count(network: string): number {
    let n = 0;
    for (const session of this.sessions.values()) if (session.network === network) n++;
    return n;
  }

  connections(network: string): number {
    let n = 0;
    for (const session of this.sessions.values()) if (session.network === network) n += session.connectionCount();
    return n;
  }

  /** Closes every session in parallel; one failing does not stop the others. */
  async closeAll(reason: string): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(all.map((session) => session.close(reason)));
  }
}
