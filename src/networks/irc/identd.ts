// A small identd (RFC 1413) for ponte's own IRC connections: an IRC server
// that asks "which user owns the connection from your port A to my port B?"
// gets the USER name ponte registered that connection with, so networks can
// tell the gateway's users apart (and ban one without banning all).
//
// Decisions:
// - Off unless networks.irc.identd.port is set (113 needs privileges: run
//   ponte with CAP_NET_BIND_SERVICE or forward 113 to the configured port).
// - It listens only while ponte has IRC connections (the first one starts
//   it, the last one stops it), so an idle or stopped gateway holds no port.
//   A port it cannot bind is logged and the connections go on without ident.
// - It answers only for connections it knows (local port, remote port and
//   the querying host = the IRC server's address); anything else gets
//   NO-USER, a malformed query INVALID-PORT, as RFC 1413 §6 lists.
// - One query per line, several lines per TCP connection, 10 s idle timeout,
//   queries longer than 1000 bytes end the connection.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../log.js';

const IDLE_MS = 10_000;
const MAX_QUERY = 1000;

interface Entry {
  localPort: number;
  remotePort: number;
  remoteAddress: string;
  username: string;
}

export class Identd {
  private readonly entries = new Map<string, Entry>();
  private server: Server | null = null;
  private listening: Promise<void> | null = null;

  constructor(
    private readonly port: number,
    private readonly host: string,
    /** The network's logger, once a session gave it one. */
    private readonly log: () => Logger | undefined,
  ) {}

  /** The port actually listened on (useful with port 0), or null. */
  get boundPort(): number | null {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : null;
  }

  /** Registers an open connection; returns the function that forgets it. */
  register(socket: Pick<Socket, 'localPort' | 'remotePort' | 'remoteAddress'>, username: string): () => void {
    if (!socket.localPort || !socket.remotePort || !socket.remoteAddress) return () => undefined;
    const entry: Entry = { localPort: socket.localPort, remotePort: socket.remotePort, remoteAddress: normalize(socket.remoteAddress), username };
    const key = `${entry.localPort},${entry.remotePort}`;
    this.entries.set(key, entry);
    void this.start();
    return () => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      if (this.entries.size === 0) this.stop();
    };
  }

  /** The answer to one query line, from `peer` (RFC 1413 §6). */
  answer(query: string, peer: string): string {
    const match = /^\s*(\d{1,5})\s*,\s*(\d{1,5})\s*$/.exec(query);
    if (!match) return `${query.trim().slice(0, 20)} : ERROR : INVALID-PORT`;
    const local = Number(match[1]);
    const remote = Number(match[2]);
    if (local < 1 || local > 65535 || remote < 1 || remote > 65535) return `${local} , ${remote} : ERROR : INVALID-PORT`;
    const entry = this.entries.get(`${local},${remote}`);
    if (!entry || entry.remoteAddress !== normalize(peer)) return `${local} , ${remote} : ERROR : NO-USER`;
    return `${local} , ${remote} : USERID : UNIX : ${entry.username}`;
  }

  private start(): Promise<void> {
    this.listening ??= new Promise<void>((resolve) => {
      const server = createServer((socket) => this.serve(socket));
      this.server = server;
      server.on('error', (err) => {
        this.log()?.warn({ err: err.message, port: this.port }, 'identd cannot listen; IRC connections go on without ident');
        if (this.server === server) this.server = null;
        this.listening = null;
        resolve();
      });
      server.listen(this.port, this.host, () => {
        this.log()?.info({ port: this.boundPort, host: this.host }, 'identd listening');
        resolve();
      });
    });
    return this.listening;
  }

  /** Resolves once listening (or failed to); for tests and callers who want the port. */
  ready(): Promise<void> {
    return this.listening ?? Promise.resolve();
  }

  stop(): void {
    const server = this.server;
    this.server = null;
    this.listening = null;
    server?.close();
  }

  private serve(socket: Socket): void {
    const peer = socket.remoteAddress ?? '';
    let buffer = '';
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (data: Buffer) => {
      buffer += data.toString('latin1');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        socket.write(`${this.answer(line, peer)}\r\n`);
      }
      if (buffer.length > MAX_QUERY) socket.destroy();
    });
  }
}

function normalize(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
