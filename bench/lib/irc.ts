// A raw IRC client for the bench (a socket and line parsing, like the test
// harness's connectIrc), with listeners that see every line as it arrives.
import { connect, type Socket } from 'node:net';
import { parseIrcLine, type IrcMessage } from '../../test/harness/irc-server.js';

export interface IrcPeer {
  readonly nick: string;
  send(line: string): void;
  /** Write many lines at once (one socket write). */
  sendMany(lines: string[]): void;
  listen(listener: (m: IrcMessage) => void): () => void;
  next(predicate: (m: IrcMessage) => boolean, timeoutMs: number, what: string): Promise<IrcMessage>;
  close(): Promise<void>;
}

export async function ircPeer(host: string, port: number, nick: string, timeoutMs = 15_000): Promise<IrcPeer> {
  const socket: Socket = connect({ host, port });
  socket.setNoDelay(true);
  const listeners = new Set<(m: IrcMessage) => void>();
  let partial = '';
  socket.setEncoding('utf8');
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\r\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      const m = parseIrcLine(line);
      if (m.command === 'PING') {
        socket.write(`PONG :${m.params[0] ?? ''}\r\n`);
        continue;
      }
      for (const listener of listeners) listener(m);
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const peer: IrcPeer = {
    nick,
    send: (line) => void socket.write(`${line}\r\n`),
    sendMany: (lines) => void socket.write(lines.map((l) => `${l}\r\n`).join('')),
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    next(predicate, ms, what) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          remove();
          reject(new Error(`IRC ${nick}: no ${what} within ${ms} ms`));
        }, ms);
        const remove = peer.listen((m) => {
          if (!predicate(m)) return;
          clearTimeout(t);
          remove();
          resolve(m);
        });
        void closed.then(() => {
          clearTimeout(t);
          remove();
          reject(new Error(`IRC ${nick}: connection closed while waiting for ${what}`));
        });
      });
    },
    async close() {
      if (!socket.destroyed) {
        socket.end('QUIT :bench done\r\n');
        const t = setTimeout(() => socket.destroy(), 2_000);
        await closed;
        clearTimeout(t);
      }
    },
  };
  const welcome = peer.next((m) => m.command === '001', timeoutMs, '001');
  welcome.catch(() => undefined); // a failed connect is the error reported
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  peer.send(`NICK ${nick}`);
  peer.send(`USER ${nick} 0 * :bench peer`);
  await welcome;
  return peer;
}

export async function joinChannel(peer: IrcPeer, channel: string, timeoutMs = 15_000): Promise<void> {
  const done = peer.next((m) => m.command === '366' && m.params[1]?.toLowerCase() === channel.toLowerCase(), timeoutMs, `end of NAMES of ${channel}`);
  peer.send(`JOIN ${channel}`);
  await done;
}
