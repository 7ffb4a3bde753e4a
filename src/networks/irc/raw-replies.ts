// What the server answers to raw lines typed to the server JID.
//
// Decision: the lines go out with a `PING :<token>` behind them; every
// numeric reply addressed to the user that arrives before the matching PONG
// is the server's answer (the server handles one client's lines in order),
// shown from the server JID as IRC clients print it: the parameters after
// the nick ("#chan +nt", "FOO Unknown command"). Other lines (JOIN, PRIVMSG,
// NOTICE) already reach the user the usual way. The wait is bounded; a
// server that never answers the PING leaves the lines sent, not failed.
import { ircLineParser, type Client } from 'irc-framework';

const REPLY_WAIT_MS = 10_000;
let tokens = 0;

/**
 * Sends the lines of `text` (through `send`, the flood-controlled queue) and
 * hands each numeric reply to `show`. Resolves with the ids of the user's lines.
 */
export async function withReplies(client: Client, send: (text: string) => Promise<string[]>, text: string, show: (reply: string) => void): Promise<string[]> {
  const token = `ponte-raw-${Date.now().toString(36)}-${(tokens = (tokens + 1) % 1e9)}`;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    clearTimeout(timer);
    client.removeListener('raw', onRaw);
  };
  const onRaw = (event: { line: string; from_server: boolean }) => {
    if (!event.from_server) return;
    const message = ircLineParser(event.line);
    if (!message) return;
    if (message.command === 'PONG' && message.params[message.params.length - 1] === token) return stop();
    if (/^\d{3}$/.test(message.command) && message.params.length > 1) show(message.params.slice(1).join(' '));
  };
  client.on('raw', onRaw);
  // Replies may come after the lines are written: listen until the PONG, bounded.
  timer = setTimeout(stop, REPLY_WAIT_MS);
  try {
    const ids = await send(`${text}\nPING :${token}`);
    // The PING is ponte's own line, not one of the user's.
    return ids.slice(0, -1);
  } catch (err) {
    stop();
    throw err;
  }
}
