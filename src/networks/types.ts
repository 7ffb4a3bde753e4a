// The contract between the network-neutral core and one network (IRC,
// Matrix, ...). A network never builds stanzas; it describes itself here and,
// as the adapter grows, receives calls from the core and pushes events back.

export interface Network {
  /** Config key and registry key: 'irc', 'matrix'. */
  readonly name: string;
  /** The XEP-0030 identity of the gateway domain: category "gateway", this type. */
  readonly identityType: string;
  /** Human-readable name shown by clients in service discovery. */
  readonly displayName: string;
  /**
   * Protocol features (XEP-0030 feature vars) this network really supports
   * beyond the gateway's own, so disco never advertises what does not work.
   */
  readonly features: readonly string[];
}
