// IRCv3 draft/multiline (https://ircv3.net/specs/extensions/multiline): one
// message of several lines as one client batch, and incoming batches read as
// one message. The pure parts (cap value, line building, joining) and the
// piece of the connection that tracks incoming batches.
//
// Decisions:
// - Used only when the server acked `draft/multiline` (and `batch`, which the
//   spec requires), for a body that would take more than one PRIVMSG: line
//   breaks, or one line longer than the byte budget. A single short line
//   stays a plain PRIVMSG. /me actions stay classic lines (a multi-line CTCP
//   ACTION has no meaning).
// - Long lines are cut as split.ts cuts them (at a space, else between
//   grapheme clusters, to the 512-byte budget of the relayed line), but the
//   space stays at the end of the piece and the next piece carries
//   `draft/multiline-concat` (the spec's recommended splitting), so clients
//   without multiline still see readable lines.
// - Blank lines inside the body are kept (servers must accept them); leading
//   and trailing blank lines are dropped; a body of blank lines only is not
//   sent (the spec forbids it), as a classic empty body is refused.
// - Over the cap's max-bytes (the text, plus one byte per joining line feed)
//   or max-lines: the body goes as separate classic PRIVMSGs instead.
// - The batch (BATCH +ref, the lines, BATCH -ref) is written to the socket in
//   one piece and counts once for flood control: nothing can come between
//   its lines (the spec forbids other commands inside an open batch; a PONG
//   could otherwise slip in), and a connection lost while it waits sends all
//   of it, or none, after the reconnect.
// - Incoming: the lines of a `draft/multiline` batch become ONE message, its
//   id the msgid and its time the server-time of the opening BATCH (else of
//   the first line), joined with \n, or with nothing where a line carries
//   `draft/multiline-concat`. A nested batch inside a chathistory batch is
//   joined the same way (chathistory.ts).
// - A `FAIL BATCH MULTILINE_*` from the server is shown to the user as a
//   notice from the server (the message was already handed over).
import { randomBytes } from 'node:crypto';
import { MessageTags, type Client, type NetworkCaps } from 'irc-framework';
import { ircLine } from './safety.js';
import { splitLine, utf8Bytes } from './split.js';

export const MULTILINE_CAP = 'draft/multiline';
export const CONCAT_TAG = 'draft/multiline-concat';

export interface MultilineLimits {
  maxBytes: number;
  maxLines?: number;
}

/** The cap's value (`max-bytes=4096,max-lines=24`); null without a usable max-bytes (REQUIRED by the spec). */
export function parseMultilineCap(value: string | undefined): MultilineLimits | null {
  if (!value) return null;
  const tokens = new Map<string, string>();
  for (const token of value.split(',')) {
    const eq = token.indexOf('=');
    const key = eq < 0 ? token : token.slice(0, eq);
    if (!tokens.has(key)) tokens.set(key, eq < 0 ? '' : token.slice(eq + 1));
  }
  const maxBytes = positiveInt(tokens.get('max-bytes'));
  if (maxBytes === undefined) return null;
  const maxLines = positiveInt(tokens.get('max-lines'));
  return maxLines === undefined ? { maxBytes } : { maxBytes, maxLines };
}

function positiveInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n > 0 && Number.isSafeInteger(n) ? n : undefined;
}

/** One line of a multiline batch: its text and whether it continues the previous line. */
export interface MultilineLine {
  text: string;
  concat: boolean;
}

/** A body (already IRC-formatted) as batch lines; [] when there is nothing but blank lines. */
export function multilineLines(body: string, budget: number): MultilineLine[] {
  const rows = body.replace(/\0/g, '').split(/\r\n|\n|\r/);
  while (rows.length > 0 && rows[0]!.trim() === '') rows.shift();
  while (rows.length > 0 && rows.at(-1)!.trim() === '') rows.pop();
  const lines: MultilineLine[] = [];
  for (const row of rows) {
    if (row === '') {
      lines.push({ text: '', concat: false });
      continue;
    }
    // One byte less: the space at a cut stays at the end of the piece.
    const pieces = splitLine(row, budget - 1);
    pieces.forEach((piece, i) => lines.push({ text: piece.text + piece.separator, concat: i > 0 }));
  }
  return lines;
}

/** The message the lines make: joined by \n, or directly where a line is a concat line. */
export function joinLines(lines: readonly MultilineLine[]): string {
  let text = '';
  lines.forEach((line, i) => {
    text += i === 0 || line.concat ? line.text : `\n${line.text}`;
  });
  return text;
}

/** Whether the lines fit the server's limits (max-bytes counts the joining line feeds). */
export function fitsLimits(lines: readonly MultilineLine[], limits: MultilineLimits): boolean {
  if (limits.maxLines !== undefined && lines.length > limits.maxLines) return false;
  const bytes = lines.reduce((sum, line, i) => sum + utf8Bytes(line.text) + (i > 0 && !line.concat ? 1 : 0), 0);
  return bytes <= limits.maxBytes;
}

/** A fresh batch reference tag. */
export function batchRef(): string {
  return randomBytes(6).toString('hex');
}

/**
 * The protocol lines of one client batch to `target`. `privmsg(target, text)`
 * builds the untagged command (safety.ts ircLine, which refuses CR, LF and
 * NUL and spells out an empty last parameter); `openingTags` go on the BATCH
 * command (the spec: client-only tags of the message go there).
 */
export function batchLines(
  ref: string,
  target: string,
  lines: readonly MultilineLine[],
  privmsg: (target: string, text: string) => string,
  openingTags: Record<string, string | true> = {},
): string[] {
  const out = [ircLine('BATCH', [`+${ref}`, MULTILINE_CAP, target], openingTags)];
  for (const line of lines) {
    const tags: Record<string, string | true> = { batch: ref };
    if (line.concat) tags[CONCAT_TAG] = true;
    out.push(`@${MessageTags.encode(tags)} ${privmsg(target, line.text)}`);
  }
  out.push(ircLine('BATCH', [`-${ref}`]));
  return out;
}

/** The capabilities negotiated on the client's connection. */
export function capsOf(client: Client): NetworkCaps {
  return (client.network as unknown as { cap: NetworkCaps }).cap;
}

/** Limits of the server's multiline support on this connection, or null when not negotiated. */
export function multilineLimits(client: Client): MultilineLimits | null {
  const cap = capsOf(client);
  if (!cap.isEnabled(MULTILINE_CAP) || !cap.isEnabled('batch')) return null;
  return parseMultilineCap(cap.available.get(MULTILINE_CAP));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- irc-framework message events are untyped
export type MessageEvent = { nick: string; target: string; message: string; tags?: Record<string, string>; time?: number; batch?: { id: string; type: string; params: string[] }; [key: string]: any };

/** Tags, source and type of an opening BATCH line, which irc-framework does not keep. */
export interface BatchOpening {
  tags: Record<string, string>;
  nick?: string;
  type?: string;
}

/**
 * On a line of a batch nested in another one (a multiline message inside a
 * chathistory or labeled-response batch): the nested batch's reference. Set
 * by BatchOpenings, never sent.
 */
export const NESTED_BATCH_TAG = 'ponte/nested-batch';

const MAX_TRACKED_BATCHES = 1000;

/**
 * Batch openings seen on a connection (raw middleware), by reference;
 * bounded. irc-framework drops the lines of a nested batch (their batch is
 * not open yet when they arrive: its BATCH + waits inside the outer one), so
 * such lines are moved into the outer batch here, the nested reference kept
 * in NESTED_BATCH_TAG.
 */
export class BatchOpenings {
  private readonly openings = new Map<string, BatchOpening>();
  /** Nested batch reference -> the outer batch's. */
  private readonly nested = new Map<string, string>();

  constructor(client: Client) {
    client.use((_client, raw) => {
      raw.use((command: string, message: { params: string[]; tags: Record<string, string>; nick?: string }, _line: string, _c: unknown, next: () => void) => {
        const ref = message.params[0];
        const outer = message.tags.batch;
        if (outer !== undefined && this.nested.has(outer)) {
          message.tags[NESTED_BATCH_TAG] = outer;
          message.tags.batch = this.nested.get(outer)!;
        }
        if (command === 'BATCH' && ref?.startsWith('+') && ref.length > 1) {
          remember(this.openings, ref.slice(1), { tags: { ...message.tags }, ...(message.nick ? { nick: message.nick } : {}), ...(message.params[1] ? { type: message.params[1] } : {}) });
          if (outer !== undefined) remember(this.nested, ref.slice(1), message.tags.batch!);
        } else if (command === 'BATCH' && ref?.startsWith('-')) {
          this.nested.delete(ref.slice(1));
        }
        next();
      });
    });
  }

  /** The type of batch `ref` (while its opening is known). */
  typeOf(ref: string): string | undefined {
    return this.openings.get(ref)?.type;
  }

  /** The opening of batch `ref`, forgotten once taken. */
  take(ref: string): BatchOpening | undefined {
    const opening = this.openings.get(ref);
    this.openings.delete(ref);
    return opening;
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= MAX_TRACKED_BATCHES) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/** Events of several lines as one event: the first line's source, the opening's tags, the joined text. */
export function combineEvents(events: readonly MessageEvent[], opening: BatchOpening | undefined): MessageEvent {
  const first = events[0]!;
  const text = joinLines(events.map((event) => ({ text: event.message, concat: event.tags?.[CONCAT_TAG] !== undefined })));
  const tags: Record<string, string> = { ...(opening?.tags ?? {}) };
  delete tags.batch;
  delete tags[NESTED_BATCH_TAG];
  if (tags.msgid === undefined && first.tags?.msgid !== undefined) tags.msgid = first.tags.msgid;
  const openingTime = opening?.tags.time ? Date.parse(opening.tags.time) : NaN;
  const time = Number.isNaN(openingTime) ? first.time : openingTime;
  const { batch: _batch, ...rest } = first;
  return { ...rest, message: text, tags, ...(time !== undefined ? { time } : {}) };
}

/**
 * Incoming `draft/multiline` batches on one connection: their lines are
 * held (absorb) and given back as one 'privmsg' (or 'action', 'notice')
 * event on the client when the batch ends, so the connection's own message
 * listeners see one message.
 */
export class IncomingMultiline {
  private readonly open = new Map<string, { kind: string; events: MessageEvent[] }>();

  constructor(
    private readonly client: Client,
    private readonly openings: BatchOpenings,
  ) {
    // irc-framework runs a batch's lines when the batch ends, then says 'batch end'.
    client.on(`batch end ${MULTILINE_CAP}`, (batch: { id: string }) => this.finish(batch.id));
  }

  /** True when the event is a line of a multiline batch, top-level or nested (held until the batch ends). */
  absorb(kind: string, event: MessageEvent): boolean {
    const nested = event.tags?.[NESTED_BATCH_TAG];
    const ref = nested !== undefined ? (this.openings.typeOf(nested) === MULTILINE_CAP ? nested : undefined) : event.batch?.type === MULTILINE_CAP ? event.batch.id : undefined;
    if (ref === undefined) return false;
    let pending = this.open.get(ref);
    if (!pending) {
      pending = { kind, events: [] };
      remember(this.open, ref, pending);
    }
    pending.events.push(event);
    return true;
  }

  private finish(ref: string): void {
    const pending = this.open.get(ref);
    this.open.delete(ref);
    // None: a batch nested in a history batch, whose lines chathistory.ts joins (with this opening).
    if (!pending || pending.events.length === 0) return;
    this.client.emit(pending.kind, combineEvents(pending.events, this.openings.take(ref)));
  }
}
