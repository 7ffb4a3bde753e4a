// IRCv3 chathistory (https://ircv3.net/specs/extensions/chathistory): the
// channel's recent history on join, asked from the server with
// `CHATHISTORY LATEST #chan * <n>` and answered with a `chathistory` batch.
//
// Decisions:
// - Asked only when the server acked `draft/chathistory` together with
//   `batch`; without them a join is the classic one and no CHATHISTORY line
//   is ever written. The unprefixed `chathistory` is not asked for: the
//   work-in-progress spec forbids using that name before it is ratified.
// - How many: the server's ISUPPORT `CHATHISTORY=<n>` limit, at most 50
//   (HISTORY_ON_JOIN_MAX: the XMPP side keeps RoomState.HISTORY_LIMIT = 50
//   messages per room for later joins, and a join should stay quick);
//   `CHATHISTORY=0` (no limit), a missing or unreadable token: 50.
// - The join waits at most HISTORY_WAIT_MS (5 s) for the batch, then goes on
//   without history; a batch that arrives later is dropped (its messages are
//   not shown as new ones). A `FAIL CHATHISTORY ...` ends the wait at once,
//   with no history. Requests are answered in order, so a FAIL ends the
//   oldest request in flight.
// - The batch's PRIVMSGs, NOTICEs and CTCP ACTIONs become the history, oldest
//   first (sorted by server-time where the server gave one), each with its
//   `msgid` as id and its `time` as timestamp; events other than messages
//   (draft/event-playback) are not asked for. A multiline batch nested in the
//   history is one message (multiline.ts).
// - A rejoin asks again: the XMPP side skips messages it archived already by
//   their network id (the msgid), so the archive gets no duplicates; a
//   message without msgid cannot be recognised and may be archived again.
import type { Client } from 'irc-framework';
import { ircLine } from './safety.js';
import { capsOf, combineEvents, NESTED_BATCH_TAG, type BatchOpenings, type MessageEvent } from './multiline.js';

export const HISTORY_ON_JOIN_MAX = 50;
export const HISTORY_WAIT_MS = 5_000;
export const CHATHISTORY_CAP = 'draft/chathistory';

/** How many messages to ask on join, from the ISUPPORT CHATHISTORY token. */
export function joinHistoryLimit(isupport: string | boolean | undefined): number {
  if (typeof isupport !== 'string' || !/^\d+$/.test(isupport)) return HISTORY_ON_JOIN_MAX;
  const limit = Number(isupport);
  return limit === 0 ? HISTORY_ON_JOIN_MAX : Math.min(limit, HISTORY_ON_JOIN_MAX);
}

/** Whether this connection may ask CHATHISTORY. */
export function chathistoryEnabled(client: Client): boolean {
  const caps = capsOf(client);
  return caps.isEnabled('batch') && caps.isEnabled(CHATHISTORY_CAP);
}

/** One message of a history batch, as irc-framework gave it. */
export interface HistoryEvent {
  kind: 'privmsg' | 'action' | 'notice';
  event: MessageEvent;
}

/**
 * The events of a chathistory batch as messages: lines of a nested batch
 * (a multiline message) joined into one, then ordered by server-time.
 */
export function historyMessages(outerRef: string, events: readonly HistoryEvent[], openings?: BatchOpenings): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  // (a cast, not an annotation: flush() changes it, which narrowing would not see)
  let group = null as { ref: string; kind: HistoryEvent['kind']; events: MessageEvent[] } | null;
  const flush = () => {
    if (group) out.push({ kind: group.kind, event: combineEvents(group.events, openings?.take(group.ref)) });
    group = null;
  };
  for (const item of events) {
    // Lines of a nested batch (a multiline message) are marked by BatchOpenings.
    const inner = item.event.tags?.[NESTED_BATCH_TAG];
    if (inner !== undefined && inner !== outerRef) {
      if (group?.ref !== inner) flush();
      group ??= { ref: inner, kind: item.kind, events: [] };
      group.events.push(item.event);
      continue;
    }
    flush();
    out.push(item);
  }
  flush();
  // Stable: equal or missing times keep the server's order.
  return out
    .map((item, index) => ({ item, index }))
    .sort((a, b) => (a.item.event.time ?? 0) - (b.item.event.time ?? 0) || a.index - b.index)
    .map(({ item }) => item);
}

interface Fetch {
  target: string;
  events: HistoryEvent[];
  /** Undefined once the wait is over: a late batch is then dropped. */
  resolve: ((events: HistoryEvent[]) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
  /** A request given up on is forgotten after this time (Date.now()) if never answered. */
  forgetAt: number;
}

/** How long a request given up on still claims its late batch. */
const LATE_BATCH_MS = 60_000;

/** CHATHISTORY requests of one connection and the batches that answer them. */
export class ChatHistory {
  /** Requests sent and not answered yet, oldest first. */
  private readonly waiting: Fetch[] = [];
  /** Batches being received, by reference. */
  private readonly receiving = new Map<string, Fetch>();

  constructor(
    private readonly client: Client,
    private readonly openings: BatchOpenings,
    private readonly lower: (name: string) => string,
    private readonly waitMs = HISTORY_WAIT_MS,
  ) {
    client.on('batch start chathistory', (batch: { id: string; params: string[] }) => {
      const target = batch.params[0];
      const now = Date.now();
      for (let i = this.waiting.length - 1; i >= 0; i--) if (this.waiting[i]!.forgetAt < now) this.waiting.splice(i, 1);
      const index = target === undefined ? -1 : this.waiting.findIndex((fetch) => fetch.target === this.lower(target));
      if (index < 0) return;
      this.receiving.set(batch.id, this.waiting.splice(index, 1)[0]!);
    });
    client.on('batch end chathistory', (batch: { id: string }) => {
      const fetch = this.receiving.get(batch.id);
      this.receiving.delete(batch.id);
      if (fetch) this.settle(fetch, historyMessages(batch.id, fetch.events, this.openings));
    });
    client.on('unknown command', (command: { command: string; params: string[] }) => {
      if (command.command !== 'FAIL' || command.params[0] !== 'CHATHISTORY') return;
      const fetch = this.waiting.shift();
      if (fetch) this.settle(fetch, []);
    });
    // A lost connection answers nothing more.
    client.on('close', () => this.reset());
  }

  /** True when the event is a message of a history batch we asked for (kept for the join, not shown live). */
  absorb(kind: HistoryEvent['kind'], event: MessageEvent): boolean {
    const fetch = event.batch?.type === 'chathistory' ? this.receiving.get(event.batch.id) : undefined;
    if (!fetch) return false;
    if (fetch.resolve) fetch.events.push({ kind, event });
    return true;
  }

  /**
   * The latest messages of `channel`, oldest first; [] when the server offers
   * no history, refuses, or does not answer within the wait. `write` sends
   * the request line (through flood control).
   */
  latest(channel: string, write: (line: string) => Promise<void>): Promise<HistoryEvent[]> {
    if (!chathistoryEnabled(this.client)) return Promise.resolve([]);
    const limit = joinHistoryLimit(this.client.network.supports('CHATHISTORY'));
    return new Promise((resolve) => {
      const fetch: Fetch = { target: this.lower(channel), events: [], resolve, timer: undefined, forgetAt: Date.now() + this.waitMs + LATE_BATCH_MS };
      fetch.timer = setTimeout(() => this.settle(fetch, []), this.waitMs);
      this.waiting.push(fetch);
      write(ircLine('CHATHISTORY', ['LATEST', channel, '*', String(limit)])).catch(() => {
        const index = this.waiting.indexOf(fetch);
        if (index >= 0) this.waiting.splice(index, 1);
        this.settle(fetch, []);
      });
    });
  }

  private settle(fetch: Fetch, events: HistoryEvent[]): void {
    clearTimeout(fetch.timer);
    const resolve = fetch.resolve;
    fetch.resolve = undefined;
    resolve?.(events);
  }

  /** The connection is gone: every wait ends without history. */
  reset(): void {
    for (const fetch of [...this.waiting.splice(0), ...this.receiving.values()]) this.settle(fetch, []);
    this.receiving.clear();
  }
}
