// The IRCv3 batch features of one connection in one place, so the
// connection needs only a few calls: the capabilities to ask for, incoming
// lines that belong to a batch (absorb), the history of a join
// (chathistory.ts) and multi-line bodies as one batch (multiline.ts).
import type { Client } from 'irc-framework';
import type { Logger } from '../../log.js';
import { CHATHISTORY_CAP, ChatHistory, type HistoryEvent } from './chathistory.js';
import { ircLine } from './safety.js';
import { lineBudget } from './split.js';
import {
  BatchOpenings,
  IncomingMultiline,
  MULTILINE_CAP,
  batchLines,
  batchRef,
  fitsLimits,
  multilineLimits,
  multilineLines,
  type MessageEvent,
} from './multiline.js';

export class Ircv3Batches {
  private readonly history: ChatHistory;
  private readonly multiline: IncomingMultiline;

  constructor(
    private readonly client: Client,
    lower: (name: string) => string,
    /** Tells the user something the server said about their messages (a notice from the server). */
    notice: (text: string) => void,
    log: Logger,
  ) {
    // batch, server-time and message-tags irc-framework asks for by itself.
    client.requestCap([CHATHISTORY_CAP, MULTILINE_CAP]);
    const openings = new BatchOpenings(client);
    this.history = new ChatHistory(client, openings, lower);
    this.multiline = new IncomingMultiline(client, openings);
    client.on('unknown command', (command: { command: string; params: string[] }) => {
      if (command.command !== 'FAIL' || command.params[0] !== 'BATCH' || !command.params[1]?.startsWith('MULTILINE_')) return;
      log.warn({ code: command.params[1] }, 'IRC server refused a multiline batch');
      notice(`The server refused a multi-line message: ${command.params.at(-1) ?? command.params[1]}`);
    });
  }

  /** True when a message event belongs to a batch (history asked for, or a multiline message): not shown as it is. */
  absorb(kind: HistoryEvent['kind'], event: MessageEvent): boolean {
    return this.history.absorb(kind, event) || this.multiline.absorb(kind, event);
  }

  /** The channel's latest history from the server (oldest first), or [] (see chathistory.ts). */
  joinHistory(channel: string, write: (line: string) => Promise<void>): Promise<HistoryEvent[]> {
    return this.history.latest(channel, write);
  }

  /**
   * The protocol lines of `body` to `target` as one draft/multiline batch,
   * or null when the classic lines are to be used (not negotiated, one short
   * line, an action, over the server's limits).
   */
  multilineBatch(
    target: string,
    body: string,
    own: { nick: string; action: boolean },
    /** Tags of the message (label, +draft/reply): on the opening BATCH, as the spec wants. */
    openingTags: Record<string, string> = {},
  ): { lines: string[]; label?: string } | null {
    if (own.action) return null;
    const limits = multilineLimits(this.client);
    if (!limits) return null;
    const lines = multilineLines(body, lineBudget({ nick: own.nick, target }));
    if (lines.length < 2 || !fitsLimits(lines, limits)) return null;
    return {
      lines: batchLines(batchRef(), target, lines, (to, text) => ircLine('PRIVMSG', [to, text]), openingTags),
      ...(openingTags.label ? { label: openingTags.label } : {}),
    };
  }
}
