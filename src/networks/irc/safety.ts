// Keeping XMPP input from becoming extra IRC lines or extra parameters.
// Anything that ends up inside an IRC line (nick, channel, key, topic, kick
// reason, part message, password) goes through here: a CR or LF would end
// the line and let the rest be read as a new command ("a\r\nQUIT :x"), a NUL
// truncates it on many servers, and a space splits a middle parameter.
//
// Decisions:
// - ircSafe() is for free text (trailing parameters): CRLF, CR and LF each
//   become one space, NUL is dropped. The text stays readable.
// - assertIrcParam() is for identifiers (nick, channel, key) where silently
//   changing the value would address something else: it refuses instead,
//   with not-acceptable (the request is well-formed XMPP, IRC cannot carry
//   it). Middle parameters also refuse a space and a leading ':'; pass
//   { trailing: true } for a last parameter, which may hold both.
// - isValidNick() follows RFC 2812 §2.3.1 loosely, as servers do: it refuses
//   what would break parsing or addressing (space, comma, wildcard `*` `?`,
//   `!` and `@` of the prefix, control characters, a leading channel or
//   status-prefix character `# & $ : + % ~`) and lets the server judge the
//   rest (it answers 432 ERR_ERRONEUSNICKNAME). The length is counted in
//   UTF-8 bytes, as NICKLEN is.
import { GatewayError } from '../../core/errors.js';

/** Free text made safe for one IRC line: line breaks become spaces, NUL is dropped. */
export function ircSafe(text: string): string {
  return text.replace(/\r\n|\r|\n/g, ' ').replace(/\0/g, '');
}

export interface IrcParamOptions {
  /** The last parameter of a line: spaces and a leading ':' are allowed. */
  trailing?: boolean;
}

/** Returns `value` unchanged, or throws a GatewayError naming `what` when IRC cannot carry it. */
export function assertIrcParam(value: string, what: string, options: IrcParamOptions = {}): string {
  const refuse = (reason: string): never => {
    throw new GatewayError('not-acceptable', `The ${what} ${reason}.`);
  };
  if (value.length === 0) refuse('must not be empty');
  if (/[\r\n]/.test(value)) refuse('must not contain a line break');
  if (value.includes('\0')) refuse('must not contain a NUL character');
  if (!options.trailing) {
    if (/\s/.test(value)) refuse('must not contain spaces');
    if (value.startsWith(':')) refuse("must not start with ':'");
  }
  return value;
}

export const DEFAULT_MAX_NICK_BYTES = 30;

export function isValidNick(nick: string, maxLength: number = DEFAULT_MAX_NICK_BYTES): boolean {
  if (nick.length === 0) return false;
  if (Buffer.byteLength(nick, 'utf8') > maxLength) return false;
  if (/[\s,*?!@\x00-\x1f\x7f]/.test(nick)) return false;
  if (/^[#&$:+%~]/.test(nick)) return false;
  return true;
}
