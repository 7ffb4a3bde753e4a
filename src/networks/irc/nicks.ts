// The nick ponte tries when the one the user asked for is in use while the
// connection registers (the first join to a server).
//
// Decision: one config key, networks.irc.nickSuffix (default "_"). The n-th
// alternative appends the suffix n times (alice_, alice__, ...), or, when the
// suffix holds "{n}", appends it once with {n} replaced by n ("|{n}" gives
// alice|1, alice|2, ...). The XMPP client learns the nick it got through
// status 210 on its self-presence.

export const DEFAULT_NICK_SUFFIX = '_';
/** Characters a suffix may hold: those an IRC nick allows after its first character. */
export const NICK_SUFFIX_PATTERN = /^(?:[A-Za-z0-9_\-[\]\\^{}|`]|\{n\})+$/;

/** The `attempt`-th alternative (1, 2, ...) of `base`. */
export function alternativeNick(base: string, attempt: number, suffix: string = DEFAULT_NICK_SUFFIX): string {
  if (suffix.includes('{n}')) return `${base}${suffix.replaceAll('{n}', String(attempt))}`;
  return `${base}${suffix.repeat(attempt)}`;
}
