// CTCP requests to the user's IRC connection: answered by ponte itself, never
// shown to the XMPP user (a "\x01VERSION\x01" in a chat window is garbage).
// ACTION is not a request: it is /me and handled with the messages.
//
// Decisions:
// - Answered: VERSION (ponte and its version), PING (the argument echoed, as
//   clients measure lag with it), TIME (UTC: the gateway's clock says nothing
//   about where the user is), CLIENTINFO (the list of these). Everything else
//   (DCC, SOURCE, USERINFO, FINGER, ...) is ignored silently, as the CTCP
//   draft allows: an error reply to an unknown query only helps flooders.
// - Only requests sent to the user's nick are answered, never those sent to
//   a channel: every gateway user in the channel answering is a flood.
// - At most a burst of 5 replies, then one a second per connection: a CTCP
//   flood must not get the user disconnected for excess flood.
// - irc-framework answers VERSION itself when given a `version` option; the
//   connection passes none, so this module is the one place that answers.
import type { Client } from 'irc-framework';
import type { Logger } from '../../log.js';
import { VERSION } from '../../version.js';
import { ircLine } from './safety.js';
import { TokenBucket } from './throttle.js';

export const CTCP_ANSWERED = ['ACTION', 'CLIENTINFO', 'PING', 'TIME', 'VERSION'] as const;

/** The reply to a CTCP request (`type` and the text after it), or null for none. */
export function ctcpReply(type: string, argument: string, now: Date = new Date()): string | null {
  switch (type.toUpperCase()) {
    case 'VERSION':
      return `VERSION ponte ${VERSION} (XMPP gateway)`;
    case 'PING':
      // The argument is echoed as it came, minus what could end the line or the CTCP.
      return `PING ${argument.replace(/[\x00\x01\r\n]/g, '')}`.trimEnd();
    case 'TIME':
      return `TIME ${now.toUTCString()}`;
    case 'CLIENTINFO':
      return `CLIENTINFO ${CTCP_ANSWERED.join(' ')}`;
    default:
      return null;
  }
}

interface CtcpRequestEvent {
  nick?: string;
  target: string;
  type: string | null;
  /** The CTCP payload without the \x01 delimiters: "PING 12345". */
  message: string;
}

/**
 * Answers CTCP requests on `client` whose target is the nick `ownNick()`
 * returns; `send` writes a line (through the connection's flood control).
 */
export function answerCtcp(
  client: Client,
  ownNick: () => string,
  isSameNick: (a: string, b: string) => boolean,
  send: (line: string) => Promise<void>,
  log: Logger,
): void {
  const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
  client.on('ctcp request', (event: CtcpRequestEvent) => {
    if (!event.nick || !event.type || !isSameNick(event.target, ownNick())) return;
    const space = event.message.indexOf(' ');
    const reply = ctcpReply(event.type, space < 0 ? '' : event.message.slice(space + 1));
    if (reply === null || event.type.toUpperCase() === 'ACTION') return;
    if (bucket.take() !== 0) {
      log.debug({ from: event.nick, type: event.type }, 'CTCP reply dropped: too many requests');
      return;
    }
    let line: string;
    try {
      line = ircLine('NOTICE', [event.nick, `\x01${reply}\x01`]);
    } catch {
      return; // a nick no line can carry: nobody to answer
    }
    send(line).catch((err: Error) =>
      log.debug({ to: event.nick, err: err.message }, 'CTCP reply not sent'),
    );
  });
}
