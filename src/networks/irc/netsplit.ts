// Netsplits: when the link between two IRC servers breaks, everyone on the
// far side quits at once with the two server names as reason, and most come
// back (a netjoin) when the link heals. Shown one by one, that is hundreds of
// unavailable presences and then as many available ones.
//
// Decisions:
// - A QUIT whose reason is exactly two host names is a netsplit (what
//   servers send). Networks that hide their server names send
//   "*.net *.split" instead: a label may be `*`. Most servers mark a user's
//   own quit message (ngircd quotes it, others prefix "Quit: "), but
//   InspIRCd 3 by default relays it as it is (seen here), so there a user
//   can make their QUIT look like a split: the only effect is that their
//   leaving shows after the hold, counted in a split notice.
// - When the hold ends, those still gone leave with one unavailable presence
//   each (what MUC needs to keep the occupant list right), all in one batch
//   per channel, and one room notice that sums the split up
//   (splitSummary): the user reads one line, as IRC clients print it.
// - The members who split are held out of sight for `holdMs`: nothing is
//   shown. Whoever joins again meanwhile is back without a presence either
//   way; whoever has not returned by then is shown leaving, one batch per
//   channel (EventSink.participantsLeft), with the split as the reason.

const LABEL = '(?:\\*|[A-Za-z0-9_-]+)';
const HOST = `${LABEL}(?:\\.${LABEL})+`;
const NETSPLIT = new RegExp(`^${HOST} ${HOST}$`);

export function isNetsplit(reason: string | undefined): boolean {
  return reason !== undefined && NETSPLIT.test(reason);
}

/** Nicks named in a split's summary; the rest are counted. */
const SUMMARY_NICKS = 10;

/** The room notice for members who left in a split: "3 users left in a netsplit of a.net b.net: bob, carol, dave". */
export function splitSummary(nicks: readonly string[], reason: string): string {
  const named = nicks.slice(0, SUMMARY_NICKS).join(', ');
  const more = nicks.length > SUMMARY_NICKS ? ` and ${nicks.length - SUMMARY_NICKS} more` : '';
  return `${nicks.length} ${nicks.length === 1 ? 'user' : 'users'} left in a netsplit of ${reason}: ${named}${more}`;
}

/** Members who split, per channel, until they return or the hold ends. */
export class SplitHold<M> {
  private readonly held = new Map<string, Map<string, { member: M; reason: string }>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly holdMs: number,
    private readonly expire: (channel: string, members: M[], reason: string) => void,
  ) {}

  /** `member` (key `nick`, lowercased) of `channel` split with `reason`. */
  add(channel: string, nick: string, member: M, reason: string): void {
    const members = this.held.get(channel) ?? new Map<string, { member: M; reason: string }>();
    members.set(nick, { member, reason });
    this.held.set(channel, members);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.holdMs);
      this.timer.unref();
    }
  }

  /** The member, if `nick` was held in `channel` (a netjoin): no longer held. */
  returned(channel: string, nick: string): M | undefined {
    const members = this.held.get(channel);
    const entry = members?.get(nick);
    if (!entry) return undefined;
    members!.delete(nick);
    if (members!.size === 0) this.held.delete(channel);
    return entry.member;
  }

  /** Forgets a channel (the user left it, or the connection is gone). */
  forget(channel?: string): void {
    if (channel === undefined) this.held.clear();
    else this.held.delete(channel);
  }

  /** The hold is over: those still away are reported, one batch per channel and reason. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const held = [...this.held];
    this.held.clear();
    for (const [channel, members] of held) {
      const byReason = new Map<string, M[]>();
      for (const { member, reason } of members.values()) byReason.set(reason, [...(byReason.get(reason) ?? []), member]);
      for (const [reason, list] of byReason) this.expire(channel, list, reason);
    }
  }
}
