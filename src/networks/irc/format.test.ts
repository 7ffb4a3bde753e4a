import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ircToStyling, stylingToIrc } from './format.js';

const B = '\x02';
const I = '\x1D';
const S = '\x1E';
const M = '\x11';
const C = '\x03';
const O = '\x0F';

test('ircToStyling: each supported code becomes its span', () => {
  assert.equal(ircToStyling(`${B}bold${B} text`), '*bold* text');
  assert.equal(ircToStyling(`an ${I}italic${I} word`), 'an _italic_ word');
  assert.equal(ircToStyling(`${S}strike${S}`), '~strike~');
  assert.equal(ircToStyling(`run ${M}ls -l${M} now`), 'run `ls -l` now');
  assert.equal(ircToStyling(`${B}multi word bold${B}`), '*multi word bold*');
});

test('ircToStyling: an unclosed code runs to the end of the line', () => {
  assert.equal(ircToStyling(`${B}bold to the end`), '*bold to the end*');
  assert.equal(ircToStyling(`${B}line one\nline two`), '*line one*\nline two');
});

test('ircToStyling: colours, reverse and underline are stripped', () => {
  assert.equal(ircToStyling(`${C}4red${C} ${C}04,12on blue${C} ${C}3,x`), 'red on blue ,x');
  assert.equal(ircToStyling(`${C}123`), '3'); // two digits at most
  assert.equal(ircToStyling('\x04FF0000hex\x04 \x04FF0000,00FF00both\x04'), 'hex both');
  assert.equal(ircToStyling('\x16reverse\x16 \x1Funder\x1F'), 'reverse under');
  assert.equal(ircToStyling(`${B}${C}4bold red${C}${B}`), '*bold red*');
});

test('ircToStyling: \\x0F closes every open span', () => {
  assert.equal(ircToStyling(`${B}${I}both${O} plain`), '*_both_* plain');
  assert.equal(ircToStyling(`${B}bold ${O}plain`), '*bold* plain');
});

test('ircToStyling: overlapping codes become properly nested spans', () => {
  assert.equal(ircToStyling(`${B}bold ${I}both${B} italic${I}`), '*bold* *_both_* _italic_');
  assert.equal(ircToStyling(`${B}${I}${S}${M}all${M}${S}${I}${B}`), '*_~`all`~_*');
});

test('ircToStyling: whitespace at the edges moves outside the span', () => {
  assert.equal(ircToStyling(`say${B} loud ${B}now`), 'say *loud* now');
  assert.equal(ircToStyling(`${B}   ${B}x`), '   x');
});

test('ircToStyling: no span where XEP-0393 would not read one', () => {
  // Mid-word: an opening directive must follow whitespace or the line start.
  assert.equal(ircToStyling(`foo${B}bar${B}`), 'foobar');
  // Directly after a closing directive.
  assert.equal(ircToStyling(`${B}bold${B}${I}italic${I}`), '*bold*italic');
  // The directive character inside the text would close the span early.
  assert.equal(ircToStyling(`${B}2*3=6${B}`), '2*3=6');
  assert.equal(ircToStyling(`${B}${I}a*b${I}${B}`), '_a*b_');
  assert.equal(ircToStyling(`${M}a\`b${M}`), 'a`b');
  // Codes with nothing in between.
  assert.equal(ircToStyling(`${B}${B}x`), 'x');
});

test('ircToStyling leaves literal directive characters the IRC user typed', () => {
  assert.equal(ircToStyling('2*3*4 and _x'), '2*3*4 and _x');
});

test('stylingToIrc: each span becomes its IRC code', () => {
  assert.equal(stylingToIrc('*bold* text'), `${B}bold${B} text`);
  assert.equal(stylingToIrc('an _italic_ word'), `an ${I}italic${I} word`);
  assert.equal(stylingToIrc('~strike~'), `${S}strike${S}`);
  assert.equal(stylingToIrc('run `ls -l` now'), `run ${M}ls -l${M} now`);
  assert.equal(stylingToIrc('*multi word bold*'), `${B}multi word bold${B}`);
});

test('stylingToIrc follows XEP-0393 span rules', () => {
  // Opening directive not at a word start: plain (the question of "2*3*4").
  assert.equal(stylingToIrc('2*3*4'), '2*3*4');
  assert.equal(stylingToIrc('snake_case_name'), 'snake_case_name');
  // At a word start it is a span, even if a letter follows the closing one.
  assert.equal(stylingToIrc('a *3*4'), `a ${B}3${B}4`);
  // Opening followed by whitespace, closing preceded by whitespace: plain.
  assert.equal(stylingToIrc('* not bold*'), '* not bold*');
  assert.equal(stylingToIrc('*not bold *'), '*not bold *');
  // Nothing between the directives.
  assert.equal(stylingToIrc('** and __'), '** and __');
  // Lazy: the first valid closing directive closes.
  assert.equal(stylingToIrc('*a* b*'), `${B}a${B} b*`);
  // A whitespace-preceded directive is skipped when looking for the close.
  assert.equal(stylingToIrc('*a *b* c'), `${B}a *b${B} c`);
  // No span across lines.
  assert.equal(stylingToIrc('*not\nbold*'), '*not\nbold*');
  // Unclosed.
  assert.equal(stylingToIrc('*alone'), '*alone');
});

test('stylingToIrc: nested spans, but nothing inside a preformatted span', () => {
  assert.equal(stylingToIrc('*bold _both_*'), `${B}bold ${I}both${I}${B}`);
  assert.equal(stylingToIrc('*_both_*'), `${B}${I}both${I}${B}`);
  assert.equal(stylingToIrc('`*not bold*`'), `${M}*not bold*${M}`);
  // The same directive right after its own opening is not an opening.
  assert.equal(stylingToIrc('**x**'), `${B}*x${B}*`);
});

test('stylingToIrc: preformatted blocks are left as text, quotes keep their markers', () => {
  const pre = '```js\nlet *a* = _b_;\n```\n*after*';
  assert.equal(stylingToIrc(pre), `\`\`\`js\nlet *a* = _b_;\n\`\`\`\n${B}after${B}`);
  // An unterminated block runs to the end.
  assert.equal(stylingToIrc('```\n*x*'), '```\n*x*');
  assert.equal(stylingToIrc('> quoted *bold*\n>> deeper _it_'), `> quoted ${B}bold${B}\n>> deeper ${I}it${I}`);
  assert.equal(stylingToIrc('>*bold*'), `>${B}bold${B}`);
});

test('stylingToIrc keeps line breaks as they were (splitting is for split.ts)', () => {
  assert.equal(stylingToIrc('*a*\r\n_b_'), `${B}a${B}\r\n${I}b${I}`);
});

test('round trips: styling -> IRC -> styling and IRC -> styling -> IRC', () => {
  for (const styled of ['*bold* text', 'an _italic_ word', '~strike~ and `mono`', '*_both_*', 'plain 2*3*4', 'say *loud* now']) {
    assert.equal(ircToStyling(stylingToIrc(styled)), styled, styled);
  }
  for (const irc of [`${B}bold${B} text`, `x ${I}it${I} ${S}st${S} ${M}mono${M}`, `${B}${I}both${I}${B}`, 'plain']) {
    assert.equal(stylingToIrc(ircToStyling(irc)), irc, JSON.stringify(irc));
  }
});

test('every span ircToStyling emits is read back as a span (property sweep)', () => {
  const pieces = ['a', 'bc', ' ', '  ', B, I, S, M, O, `${C}4`, '\x16', 'é'];
  const stripCodes = (text: string) => text.replace(/\x03(?:\d{1,2}(?:,\d{1,2})?)?|[\x02\x1D\x1E\x11\x0F\x16\x1F]/g, '');
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let round = 0; round < 500; round++) {
    let irc = '';
    const length = Math.floor(random() * 16);
    for (let k = 0; k < length; k++) irc += pieces[Math.floor(random() * pieces.length)];
    const styled = ircToStyling(irc);
    // No directive character may be left over: each emitted pair became a span again.
    assert.equal(stripCodes(stylingToIrc(styled)), stripCodes(irc), JSON.stringify(irc));
  }
});

test('mentions are kept: a nick named by the caller is never read as styling', () => {
  const members = ['_bob_', '`tick`', 'bob_', 'carol'];
  assert.equal(stylingToIrc('_bob_: hi', members), '_bob_: hi');
  assert.equal(stylingToIrc('_BOB_, look', members), '_BOB_, look');
  assert.equal(stylingToIrc('ask `tick` and _bob_ now', members), 'ask `tick` and _bob_ now');
  // A closing directive inside a nick does not end a span that is not there.
  assert.equal(stylingToIrc('_look at bob_ now', members), '_look at bob_ now');
  // Styling around a nick still works; the nick inside stays as it is.
  assert.equal(stylingToIrc('*hi _bob_*', members), `${B}hi _bob_${B}`);
  assert.equal(stylingToIrc('_emphasis_ for carol', members), `${I}emphasis${I} for carol`);
  // Only whole nicks: _bob_x is no mention of _bob_ (and is styled as usual, lazily).
  assert.equal(stylingToIrc('_bob_x_', members), `${I}bob${I}x_`);
  // Without the member list, the text is read as XEP-0393 says.
  assert.equal(stylingToIrc('_bob_: hi'), `${I}bob${I}: hi`);
});
