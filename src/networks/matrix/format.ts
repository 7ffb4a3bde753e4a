// Text formatting between XEP-0393 message styling (the core's text) and
// Matrix's `formatted_body` (org.matrix.custom.html).
//
// Decisions:
// - Outgoing: styling becomes HTML (<strong>, <em>, <del>, <code>,
//   <pre><code>, <blockquote>), every text character escaped; `body` keeps
//   the styled text as typed. A message without styling gets no
//   formatted_body (plain `body` is what Matrix clients expect then).
// - Incoming: formatted_body (org.matrix.custom.html) parsed with
//   htmlparser2 (an HTML tokenizer: entities, unclosed tags; never by hand)
//   and written as styling: <strong>/<b> *x*, <em>/<i> _x_, <del>/<s> ~x~,
//   <code> `x`, <pre> ``` blocks, <blockquote> "> " lines, lists as "• "
//   or "1. " lines, headings as *strong* lines, links as their text with the
//   URL after it when it differs (mention pills, matrix.to links to users and
//   rooms, show only their text), images as their alt text, <mx-reply>
//   dropped (the reply is a XEP-0461 reference). A span whose text starts or
//   ends with a space stays unstyled (XEP-0393 would not read it as one).
//   Without formatted_body, the plain `body`.
// - Reply fallbacks (removed from the spec in v1.13, still sent by older
//   clients) are stripped from incoming bodies: the reply is a XEP-0461
//   reference instead.

import { Parser } from 'htmlparser2';

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const SPANS: Array<[string, string]> = [
  ['*', 'strong'],
  ['_', 'em'],
  ['~', 'del'],
  ['`', 'code'],
];

/** XEP-0393 §6.2 spans on one line: a directive opens after start/whitespace before non-space, closes after non-space. */
function spans(line: string): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    const char = line[i]!;
    const span = SPANS.find(([directive]) => directive === char);
    const opensHere = span && (i === 0 || /\s|[*_~`]/.test(line[i - 1]!)) && i + 1 < line.length && !/\s/.test(line[i + 1]!);
    if (span && opensHere) {
      // The closing directive: the first one after at least one character, preceded by non-space.
      let close = -1;
      for (let j = i + 2; j < line.length; j++) {
        if (line[j] === char && !/\s/.test(line[j - 1]!)) {
          close = j;
          break;
        }
      }
      if (close > 0) {
        const inner = line.slice(i + 1, close);
        const [, tag] = span;
        out += `<${tag}>${tag === 'code' ? escapeHtml(inner) : spans(inner)}</${tag}>`;
        i = close + 1;
        continue;
      }
    }
    out += escapeHtml(char);
    i += 1;
  }
  return out;
}

/** The HTML for a styled body, or null when it has no styling. */
export function stylingToHtml(body: string): string | null {
  const lines = body.split('\n');
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.startsWith('```')) {
      const end = lines.findIndex((l, k) => k > i && l === '```');
      if (end > 0) {
        out.push(`<pre><code>${escapeHtml(lines.slice(i + 1, end).join('\n'))}</code></pre>`);
        i = end + 1;
        continue;
      }
    }
    if (line.startsWith('>')) {
      const quoted: string[] = [];
      while (i < lines.length && lines[i]!.startsWith('>')) {
        quoted.push(lines[i]!.replace(/^> ?/, ''));
        i += 1;
      }
      out.push(`<blockquote>${quoted.map(spans).join('<br>')}</blockquote>`);
      continue;
    }
    out.push(spans(line) + (i < lines.length - 1 && !lines[i + 1]!.startsWith('```') && !lines[i + 1]!.startsWith('>') ? '<br>' : ''));
    i += 1;
  }
  const html = out.join('');
  const plain = escapeHtml(body).replace(/\n/g, '<br>');
  return html === plain ? null : html;
}

/** The body without a reply fallback ("> <@user:server> quoted" lines and the blank line after them). */
export function stripReplyFallback(body: string): string {
  if (!body.startsWith('> <')) return body;
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('>')) i += 1;
  if (lines[i] === '') i += 1;
  return lines.slice(i).join('\n');
}

const SPAN_OF: Record<string, string> = { strong: '*', b: '*', em: '_', i: '_', del: '~', s: '~', strike: '~', code: '`' };
const BLOCKS = new Set(['p', 'div', 'ul', 'ol', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'pre', 'blockquote', 'li', 'table', 'tr']);

interface Frame {
  tag: string;
  attrs: Record<string, string>;
  text: string;
  /** Items seen in a list, for numbering. */
  items: number;
}

/** Adds a line break unless the text is empty or already ends with one. */
function wrap(directive: string, inner: string): string {
  if (inner === '' || /^\s|\s$/.test(inner) || inner.includes('\n')) return inner;
  return `${directive}${inner}${directive}`;
}

function render(frame: Frame, parent: Frame | undefined): string {
  const text = frame.text;
  const tag = frame.tag;
  if (SPAN_OF[tag]) return parent?.tag === 'pre' ? text : wrap(SPAN_OF[tag]!, text);
  switch (tag) {
    case 'mx-reply':
    case 'script':
    case 'style':
      return '';
    case 'br':
      return '\n';
    case 'hr':
      return '\n---\n';
    case 'img':
      return frame.attrs.alt ?? frame.attrs.title ?? '';
    case 'a': {
      const href = frame.attrs.href ?? '';
      if (!href || href === text || href === `mailto:${text}` || /^https:\/\/matrix\.to\/#\//.test(href)) return text;
      return `${text} <${href}>`;
    }
    case 'pre':
      return `\n\`\`\`\n${text.replace(/\n$/, '')}\n\`\`\`\n`;
    case 'blockquote':
      return `\n${text.replace(/^\n+|\n+$/g, '').split('\n').map((line) => `> ${line}`).join('\n')}\n`;
    case 'li': {
      const marker = parent?.tag === 'ol' ? `${(Number(parent.attrs.start) || 1) + parent.items - 1}. ` : '• ';
      return `${marker}${text.trim()}\n`;
    }
    case 'h1':
    case 'h2':
    case 'h3':
    case 'h4':
    case 'h5':
    case 'h6':
      return `\n${wrap('*', text.trim())}\n`;
    default:
      return BLOCKS.has(tag) ? `\n${text}\n` : text;
  }
}

/** Styled plain text (XEP-0393) for a Matrix formatted_body. */
export function htmlToStyling(html: string): string {
  const root: Frame = { tag: '', attrs: {}, text: '', items: 0 };
  const stack: Frame[] = [root];
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        const parent = stack.at(-1)!;
        if (name === 'li') parent.items += 1;
        stack.push({ tag: name, attrs, text: '', items: 0 });
      },
      ontext(text) {
        const top = stack.at(-1)!;
        // Inside <pre>, text is kept as it is; elsewhere HTML whitespace (newlines in the source) is a space.
        top.text += stack.some((f) => f.tag === 'pre') ? text : text.replace(/[\t\r\n ]+/g, ' ');
      },
      onclosetag(name) {
        // Unclosed inner tags are closed with their parent (the parser reports them in order).
        if (stack.length <= 1) return;
        const frame = stack.pop()!;
        if (frame.tag !== name) return;
        const parent = stack.at(-1)!;
        parent.text += render(frame, parent);
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(html);
  parser.end();
  while (stack.length > 1) {
    const frame = stack.pop()!;
    stack.at(-1)!.text += render(frame, stack.at(-1));
  }
  return root.text
    .split('\n')
    .map((line) => line.replace(/ +$/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\s+|\s+$/g, '');
}
