// Who may use which network: the admin's allow list per network (XMPP domains
// and bare JIDs), and who gets the admin commands.

/** Lowercased bare JID of a JID string (resource dropped). */
export function bareJid(address: string): string {
  return address.split('/')[0]!.toLowerCase();
}

export class AccessPolicy {
  private readonly allowed = new Map<string, Set<string>>();
  private readonly admins: Set<string>;

  constructor(allowByNetwork: Record<string, readonly string[]>, admins: readonly string[]) {
    for (const [network, entries] of Object.entries(allowByNetwork)) {
      this.allowed.set(network, new Set(entries.map((entry) => entry.toLowerCase())));
    }
    this.admins = new Set(admins.map((jid) => jid.toLowerCase()));
  }

  /** Whether the user (any JID form) may use the network: their bare JID or their domain is listed. */
  mayUse(network: string, user: string): boolean {
    const entries = this.allowed.get(network);
    if (!entries) return false;
    const bare = bareJid(user);
    const domain = bare.includes('@') ? bare.slice(bare.indexOf('@') + 1) : bare;
    // A bare domain (a server or another component) is never a user.
    return bare.includes('@') && (entries.has(bare) || entries.has(domain));
  }

  isAdmin(user: string): boolean {
    return this.admins.has(bareJid(user));
  }
}
