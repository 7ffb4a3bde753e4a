import { test } from 'node:test';
import assert from 'node:assert/strict';
import { htmlToStyling, stripReplyFallback, stylingToHtml } from './format.js';

test('styling becomes formatted_body HTML, escaped; plain text gets none', () => {
  assert.equal(stylingToHtml('plain <text> & more'), null);
  assert.equal(stylingToHtml('a *bold* and _it_ ~gone~ `x<y`'), 'a <strong>bold</strong> and <em>it</em> <del>gone</del> <code>x&lt;y</code>');
  assert.equal(stylingToHtml('not * a span * here'), null);
  assert.equal(stylingToHtml('> quoted\nanswer'), '<blockquote>quoted</blockquote>answer');
  assert.equal(stylingToHtml('```\nlet a = <b>;\n```'), '<pre><code>let a = &lt;b&gt;;</code></pre>');
  assert.equal(stylingToHtml('two\n*lines*'), 'two<br><strong>lines</strong>');
});

test('formatted_body HTML becomes styling', () => {
  assert.equal(htmlToStyling('hello <strong>world</strong> &amp; <em>you</em>'), 'hello *world* & _you_');
  assert.equal(htmlToStyling('<del>old</del> <code>a*b</code>'), '~old~ `a*b`');
  assert.equal(htmlToStyling('<p>one</p><p>two</p>'), 'one\n\ntwo');
  assert.equal(htmlToStyling('line<br>break<br/>again'), 'line\nbreak\nagain');
  assert.equal(htmlToStyling('<blockquote><p>quoted</p></blockquote><p>answer</p>'), '> quoted\n\nanswer');
  assert.equal(htmlToStyling('<pre><code>  indented\n*not bold*\n</code></pre>'), '```\n  indented\n*not bold*\n```');
  assert.equal(htmlToStyling('<ul><li>a</li><li>b</li></ul>'), '• a\n• b');
  assert.equal(htmlToStyling('<ol start="3"><li>c</li><li>d</li></ol>'), '3. c\n4. d');
  assert.equal(htmlToStyling('<a href="https://matrix.to/#/@bob:x">Bob</a>: see <a href="https://e.org/">the site</a>'), 'Bob: see the site <https://e.org/>');
  assert.equal(htmlToStyling('<mx-reply><blockquote>old</blockquote></mx-reply>the answer'), 'the answer');
  assert.equal(htmlToStyling('<strong> spaced </strong>'), 'spaced');
  assert.equal(htmlToStyling('<b>unclosed'), '*unclosed*');
  assert.equal(htmlToStyling('<script>x</script>&lt;tag&gt;'), '<tag>');
});

test('reply fallbacks are stripped from bodies', () => {
  assert.equal(stripReplyFallback('> <@bob:x> original\n> more\n\nthe answer'), 'the answer');
  assert.equal(stripReplyFallback('> a quote, not a fallback'), '> a quote, not a fallback');
});
