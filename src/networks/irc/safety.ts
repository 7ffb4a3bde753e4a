// Keeping XMPP input from becoming extra IRC lines or extra parameters. This
// module is the one guard: every line ponte writes to an IRC server is built
// by ircLine() (or, for lines the user typed as raw IRC, checked by
// rawLine()), and connection-level options irc-framework writes itself
// (PASS, NICK, USER, SASL) are checked by the connection with
// assertIrcParam(). A CR or LF would end the line and let the rest be read
// as a new command ("a\r\nQUIT :x"), a NUL truncates it on many servers, and
// a space splits a middle parameter.
//
// Decisions:
// - ircSafe() is for free text (topics, kick, part and quit reasons): CRLF,
//   CR and LF each become one space, NUL is dropped. The text stays readable
//   and goes out as one line.
// - assertIrcParam() is for identifiers (nick, channel, key, password) where
//   silently changing the value would address something else: it refuses
//   instead, with not-acceptable (the request is well-formed XMPP, IRC
//   cannot carry it) and a text naming the field. Middle parameters also
//   refuse a space and a leading ':'; pass { trailing: true } for a last
//   parameter, which may hold both.
// - ircLine() checks every parameter again (the last one as trailing, the
//   others as middle) before irc-framework's Message builds the line, so a
//   caller that forgot a check still cannot put a second command on the
//   wire: the line is refused, never sent.
import { Message } from 'irc-framework';
import { GatewayError } from '../../core/errors.js';

/** Free text made safe for one IRC line: line breaks become spaces, NUL is dropped. */
export function ircSafe(text: string): string {
  return text.replace(/\r\n|\r|\n/g, ' ').replace(/\0/g, '');
}

export interface IrcParamOptions {
  /** The last parameter of a line: spaces and a leading ':' are allowed. */
  trailing?: boolean;
  /** An empty value is allowed (a trailing parameter that clears a topic, a blank line). */
  allowEmpty?: boolean;
}

/** Returns `value` unchanged, or throws a GatewayError naming `what` when IRC cannot carry it. */
export function assertIrcParam(value: string, what: string, options: IrcParamOptions = {}): string {
  const refuse = (reason: string): never => {
    throw new GatewayError('not-acceptable', `The ${what} ${reason}.`);
  };
  if (value.length === 0 && !options.allowEmpty) refuse('must not be empty');
  if (/[\r\n]/.test(value)) refuse('must not contain a line break');
  if (value.includes('\0')) refuse('must not contain a NUL character');
  if (!options.trailing) {
    if (/\s/.test(value)) refuse('must not contain spaces');
    if (value.startsWith(':')) refuse("must not start with ':'");
  }
  return value;
}

/**
 * One IRC line (without its CRLF): `command` with `params`, the last one a
 * trailing parameter (may be empty or hold spaces), and IRCv3 `tags`
 * (escaped by irc-framework). Throws not-acceptable rather than build a line
 * a parameter would break.
 */
export function ircLine(command: string, params: readonly string[] = [], tags: Record<string, string | true> = {}): string {
  if (!/^(?:[A-Za-z]+|\d{3})$/.test(command)) throw new GatewayError('not-acceptable', `${JSON.stringify(command.slice(0, 20))} is not an IRC command.`);
  params.forEach((param, index) => {
    const trailing = index === params.length - 1;
    assertIrcParam(param, `${command} parameter`, { trailing, allowEmpty: trailing });
  });
  const last = params.at(-1);
  // An empty last parameter needs its colon spelt out (irc-framework leaves it off).
  const message = new Message(command, ...(last === '' ? params.slice(0, -1) : params));
  Object.assign(message.tags, tags);
  const line = message.to1459();
  return last === '' ? `${line} :` : line;
}

/** A raw IRC line the user typed for their own connection: sent as it is, unless it holds CR, LF or NUL. */
export function rawLine(line: string, what = 'IRC command'): string {
  assertIrcParam(line, what, { trailing: true });
  if (!/^(?:[A-Za-z]+|\d{3})(?:\s|$)/.test(line)) throw new GatewayError('not-acceptable', `The ${what} "${line.slice(0, 50)}" does not start with an IRC command.`);
  return line;
}
