// Text formatting between XEP-0393 message styling (the core's text) and
// Matrix's `formatted_body` (org.matrix.custom.html).
//
// Decisions:
// - Outgoing: styling becomes HTML (<strong>, <em>, <del>, <code>,
//   <pre><code>, <blockquote>), every text character escaped; `body` keeps
//   the styled text as typed. A message without styling gets no
//   formatted_body (plain `body` is what Matrix clients expect then).
// - Incoming: the plain `body`, which the spec requires on every message and
//   which clients fill with readable text (Element writes the markdown the
//   user typed, which reads as styling). Reading formatted_body would need an
//   HTML parser, which ponte does not carry yet.
// - Reply fallbacks (removed from the spec in v1.13, still sent by older
//   clients) are stripped from incoming bodies: the reply is a XEP-0461
//   reference instead.

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
