// mIRC formatting codes <-> XEP-0393 Message Styling.
//
// IRC -> styling (ircToStyling):
// - bold \x02 -> *…*, italic \x1D -> _…_, strikethrough \x1E -> ~…~,
//   monospace \x11 -> `…`. Colours (\x03NN[,MM], \x04RRGGBB[,RRGGBB]),
//   reverse \x16 and underline \x1F have no styling equivalent: stripped.
//   \x0F resets everything; formatting also ends at each line break (IRC
//   formatting never outlives its line).
// - IRC toggles may overlap freely, XEP-0393 spans must nest, so each run of
//   text with one set of styles becomes its own span group, with the
//   run's leading/trailing whitespace moved outside the directives
//   ("\x02 hi \x02" -> " *hi* ").
// - A span is emitted only when a XEP-0393 reader will see exactly it
//   (§5.2): the opening directive at the line start or after whitespace,
//   text between the directives, and the text not containing the directive
//   character (a reader matches lazily and would close early). Otherwise
//   that run stays plain: "foo\x02bar\x02" -> "foobar".
// - Directive characters that are literally in the IRC text are left as
//   they are: they are what the IRC user typed.
//
// Styling -> IRC (stylingToIrc), per XEP-0393 §5:
// - Spans never cross a line. An opening directive must be at the line
//   start, after whitespace, or right after a different opening directive,
//   and be followed by non-whitespace; the closing directive is the first
//   later same character preceded by non-whitespace (lazy matching) with
//   text in between. So "2*3*4" stays as it is (the first `*` follows "2"),
//   while "a *3*4" is bold 3.
// - Directives are replaced by the IRC toggle; the text between them is
//   kept. Nested spans are parsed inside spans, except inside `…` (a
//   preformatted span has no children).
// - Blocks: lines inside ``` … ``` fences (the fences included) are left
//   as text; a quotation's `>` markers are kept as text (IRC has no
//   quotes) and the quoted text is parsed for spans, as XEP-0393 styles it.
// - Mentions are kept: a nick the caller names (the channel's members, the
//   person written to) is never read as directives, wherever it stands
//   ("_bob_: hi" stays as it is, "*hi _bob_*" is bold around the nick
//   untouched). A nick counts as a whole word: no nick character (letters,
//   digits, `[]\`_^{|}-`) right before or after it; case does not matter.

const IRC_BOLD = '\x02';
const IRC_ITALIC = '\x1D';
const IRC_STRIKE = '\x1E';
const IRC_MONO = '\x11';
const IRC_RESET = '\x0F';

type Style = 'bold' | 'italic' | 'strike' | 'mono';

/** Outer to inner: mono last, since a preformatted span cannot hold others. */
const STYLE_ORDER: readonly Style[] = ['bold', 'italic', 'strike', 'mono'];

const DIRECTIVE: Record<Style, string> = { bold: '*', italic: '_', strike: '~', mono: '`' };
const IRC_TOGGLE: Record<Style, string> = { bold: IRC_BOLD, italic: IRC_ITALIC, strike: IRC_STRIKE, mono: IRC_MONO };
const STYLE_OF_DIRECTIVE: Record<string, Style> = { '*': 'bold', _: 'italic', '~': 'strike', '`': 'mono' };
const STYLE_OF_TOGGLE: Record<string, Style> = {
  [IRC_BOLD]: 'bold',
  [IRC_ITALIC]: 'italic',
  [IRC_STRIKE]: 'strike',
  [IRC_MONO]: 'mono',
};

const isWhitespace = (char: string | undefined): boolean => char !== undefined && /\s/u.test(char);

interface Run {
  text: string;
  styles: Set<Style>;
}

/** One IRC line as runs of text with the styles in effect; colours and unsupported codes dropped. */
function ircRuns(line: string): Run[] {
  const runs: Run[] = [];
  let styles = new Set<Style>();
  let text = '';
  const flush = () => {
    if (text.length === 0) return;
    const last = runs[runs.length - 1];
    if (last && sameStyles(last.styles, styles)) last.text += text;
    else runs.push({ text, styles: new Set(styles) });
    text = '';
  };
  // Colour codes: \x03 with up to two digits, a comma only when digits follow.
  const token = /\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x02\x1D\x1E\x11\x0F\x16\x1F]/gy;
  let i = 0;
  while (i < line.length) {
    token.lastIndex = i;
    const match = token.exec(line);
    if (!match) {
      text += line[i];
      i++;
      continue;
    }
    i += match[0].length;
    const code = match[0][0]!;
    const toggled = STYLE_OF_TOGGLE[code];
    if (toggled) {
      flush();
      styles = new Set(styles);
      if (styles.has(toggled)) styles.delete(toggled);
      else styles.add(toggled);
    } else if (code === IRC_RESET) {
      flush();
      styles = new Set();
    }
  }
  flush();
  return runs;
}

function sameStyles(a: Set<Style>, b: Set<Style>): boolean {
  return a.size === b.size && [...a].every((s) => b.has(s));
}

function ircLineToStyling(line: string): string {
  let out = '';
  for (const run of ircRuns(line)) {
    const core = run.text.trim();
    if (core.length === 0) {
      out += run.text;
      continue;
    }
    const lead = run.text.slice(0, run.text.length - run.text.trimStart().length);
    const trail = run.text.slice(run.text.trimEnd().length);
    out += lead;
    const previous = out[out.length - 1];
    const canOpen = previous === undefined || isWhitespace(previous);
    const styles = STYLE_ORDER.filter((s) => run.styles.has(s) && !core.includes(DIRECTIVE[s]));
    if (!canOpen || styles.length === 0) {
      out += core + trail;
      continue;
    }
    const open = styles.map((s) => DIRECTIVE[s]).join('');
    const close = [...styles].reverse().map((s) => DIRECTIVE[s]).join('');
    out += open + core + close + trail;
  }
  return out;
}

/** mIRC-formatted IRC text as XEP-0393 styled text. */
export function ircToStyling(text: string): string {
  return text
    .split(/(\r\n|\n|\r)/)
    .map((part, index) => (index % 2 === 1 ? part : ircLineToStyling(part)))
    .join('');
}

/**
 * Spans of one line (or of a span's content) as IRC codes. `afterOpener` is
 * the directive that opened the enclosing span: the content may start with a
 * different opening directive.
 */
function stylingSpansToIrc(text: string, afterOpener?: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    const style = STYLE_OF_DIRECTIVE[char];
    if (style) {
      const atStart = i === 0 ? afterOpener === undefined || afterOpener !== char : isWhitespace(text[i - 1]);
      const next = text[i + 1];
      if (atStart && next !== undefined && !isWhitespace(next)) {
        const close = findClosing(text, i, char);
        if (close !== -1) {
          const content = text.slice(i + 1, close);
          const inner = style === 'mono' ? content : stylingSpansToIrc(content, char);
          out += IRC_TOGGLE[style] + inner + IRC_TOGGLE[style];
          i = close + 1;
          continue;
        }
      }
    }
    out += char;
    i++;
  }
  return out;
}

/** The first valid closing directive after the opening one at `open`, or -1. */
function findClosing(text: string, open: number, directive: string): number {
  for (let j = open + 2; j < text.length; j++) {
    if (text[j] === directive && !isWhitespace(text[j - 1])) return j;
  }
  return -1;
}

const NICK_CHAR = String.raw`A-Za-z0-9[\]\\\`_^{|}\-`;
// Unicode noncharacters: never in text a client sends, so they can stand in for a nick.
const HOLD_OPEN = '\uFDD0';
const HOLD_CLOSE = '\uFDD1';
const HOLD_DIGIT = 0xfde0;
const HOLDING = /[\uFDD0-\uFDEF]/;

/** Replaces the mentions of `nicks` that hold directive characters by placeholders; `restore` puts them back. */
function holdMentions(text: string, nicks: readonly string[]): { text: string; restore: (out: string) => string } {
  const risky = [...new Set(nicks.filter((nick) => /[*_~`]/.test(nick)))].sort((a, b) => b.length - a.length);
  if (risky.length === 0 || HOLDING.test(text)) return { text, restore: (out) => out };
  const alternatives = risky.map((nick) => nick.replace(/[.*+?^${}()|[\]\\\-]/g, '\\$&')).join('|');
  const mention = new RegExp(`(?<![${NICK_CHAR}])(?:${alternatives})(?![${NICK_CHAR}])`, 'gi');
  const held: string[] = [];
  const placeholder = (index: number) =>
    HOLD_OPEN + [...String(index)].map((digit) => String.fromCharCode(HOLD_DIGIT + Number(digit))).join('') + HOLD_CLOSE;
  const replaced = text.replace(mention, (found) => placeholder(held.push(found) - 1));
  return {
    text: replaced,
    restore: (out) =>
      out.replace(/\uFDD0([\uFDE0-\uFDE9]+)\uFDD1/g, (_all, digits: string) => {
        const index = Number([...digits].map((d) => d.charCodeAt(0) - HOLD_DIGIT).join(''));
        return held[index] ?? '';
      }),
  };
}

/** XEP-0393 styled text as mIRC-formatted text; the `mentions` (nicks) stay as they are. */
export function stylingToIrc(input: string, mentions: readonly string[] = []): string {
  const { text, restore } = holdMentions(input, mentions);
  return restore(stylingBlocksToIrc(text));
}

function stylingBlocksToIrc(text: string): string {
  const parts = text.split(/(\r\n|\n|\r)/);
  let inPre = false;
  let out = '';
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index]!;
    if (index % 2 === 1) {
      out += part;
      continue;
    }
    if (inPre) {
      if (part.trimEnd() === '```') inPre = false;
      out += part;
      continue;
    }
    if (part.startsWith('```')) {
      inPre = true;
      out += part;
      continue;
    }
    const quote = /^(?:>[ \t]*)+/.exec(part);
    const marker = quote ? quote[0] : '';
    out += marker + stylingSpansToIrc(part.slice(marker.length));
  }
  return out;
}
