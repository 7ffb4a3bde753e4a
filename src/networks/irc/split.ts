// Cutting message bodies into IRC lines. An IRC line is at most 512 bytes
// including the prefix the server adds when relaying it (`:nick!user@host`)
// and the CRLF (RFC 1459 §2.3, modern.ircdocs.horse), so a body must be cut
// to a byte budget computed from what the other clients will see.
//
// Decisions:
// - Lines are split on CRLF, LF and CR; empty lines are dropped (IRC cannot
//   carry an empty PRIVMSG). Whitespace-only lines are kept: they are text.
// - NUL is dropped: it ends the line on many servers, so it never reaches
//   the wire.
// - A piece is cut at the last U+0020 SPACE that lets it fit (that one space
//   is dropped); only U+0020 counts, so other whitespace (tabs, NBSP) stays
//   inside words. Without a usable space the cut falls on a grapheme cluster
//   boundary (Intl.Segmenter), and only a cluster that alone is larger than
//   the budget is cut between code points. A cut never falls inside a UTF-8
//   sequence or a surrogate pair.
// - budget < 4 is a programming error (RangeError): one code point can take
//   4 bytes, so smaller budgets cannot always make progress.
// - Message tags have their own budget per IRCv3 message-tags, so
//   lineBudget() only subtracts `tagsBytes` when the caller asks it to
//   (e.g. for headroom on servers that count tags against the 512 bytes).

export const IRC_LINE_MAX_BYTES = 512;
/** biboumi's conservative guesses when the server did not tell us yet. */
export const DEFAULT_USER_BYTES = 10;
export const DEFAULT_HOST_BYTES = 63;
/** `\x01ACTION ` (8 bytes) + `\x01` (1 byte). */
export const CTCP_ACTION_OVERHEAD = 9;

const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' });

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export interface LineBudgetOptions {
  nick: string;
  user?: string;
  host?: string;
  target: string;
  command?: 'PRIVMSG' | 'NOTICE';
  action?: boolean;
  tagsBytes?: number;
}

/** Bytes of text one PRIVMSG/NOTICE can carry once relayed by the server. */
export function lineBudget(opts: LineBudgetOptions): number {
  const userBytes = opts.user !== undefined ? utf8Bytes(opts.user) : DEFAULT_USER_BYTES;
  const hostBytes = opts.host !== undefined ? utf8Bytes(opts.host) : DEFAULT_HOST_BYTES;
  const command = opts.command ?? 'PRIVMSG';
  // `:` nick `!` user `@` host ` ` command ` ` target ` :`
  const prefix = 1 + utf8Bytes(opts.nick) + 1 + userBytes + 1 + hostBytes + 1 + command.length + 1 + utf8Bytes(opts.target) + 2;
  return IRC_LINE_MAX_BYTES - prefix - 2 - (opts.action ? CTCP_ACTION_OVERHEAD : 0) - (opts.tagsBytes ?? 0);
}

/** One piece of a line and what followed it in the original (a dropped space or nothing). */
export interface LinePiece {
  text: string;
  separator: '' | ' ';
}

interface Unit {
  text: string;
  bytes: number;
}

/** Grapheme clusters, with clusters larger than the budget broken into code points. */
function units(line: string, budget: number): Unit[] {
  const result: Unit[] = [];
  for (const { segment } of graphemes.segment(line)) {
    const bytes = utf8Bytes(segment);
    if (bytes <= budget) {
      result.push({ text: segment, bytes });
      continue;
    }
    for (const codePoint of segment) result.push({ text: codePoint, bytes: utf8Bytes(codePoint) });
  }
  return result;
}

/** Splits one line (no line breaks) into pieces of at most `budget` UTF-8 bytes. */
export function splitLine(line: string, budget: number): LinePiece[] {
  if (!Number.isFinite(budget) || budget < 4) {
    throw new RangeError(`IRC line budget ${budget} is too small to carry any UTF-8 code point`);
  }
  const all = units(line, budget);
  const pieces: LinePiece[] = [];
  const join = (from: number, to: number) => all.slice(from, to).map((u) => u.text).join('');
  let start = 0;
  while (start < all.length) {
    let bytes = 0;
    let end = start;
    let lastSpace = -1;
    while (end < all.length && bytes + all[end]!.bytes <= budget) {
      if (all[end]!.text === ' ' && end > start) lastSpace = end;
      bytes += all[end]!.bytes;
      end++;
    }
    if (end === all.length) {
      pieces.push({ text: join(start, end), separator: '' });
      break;
    }
    if (all[end]!.text === ' ' && end > start) {
      // The piece fits exactly up to a space: cut there.
      pieces.push({ text: join(start, end), separator: ' ' });
      start = end + 1;
    } else if (lastSpace > start) {
      pieces.push({ text: join(start, lastSpace), separator: ' ' });
      start = lastSpace + 1;
    } else {
      pieces.push({ text: join(start, end), separator: '' });
      start = end;
    }
  }
  return pieces;
}

/** A message body as IRC-sendable chunks: one or more per non-empty line. */
export function splitMessage(text: string, budget: number): string[] {
  const chunks: string[] = [];
  for (const line of text.replace(/\0/g, '').split(/\r\n|\n|\r/)) {
    if (line.length === 0) continue;
    for (const piece of splitLine(line, budget)) chunks.push(piece.text);
  }
  return chunks;
}
