// The socket under irc-framework (its `transport` option): irc-framework's own
// TCP/TLS transport, with what ponte needs on top:
// - TLS always verifies the certificate (rejectUnauthorized), against the
//   system's CAs plus the admin's networks.irc.caFile, and sends the user's
//   client certificate when one is set (SASL EXTERNAL, CertFP);
// - incoming lines are read as UTF-8 and, when not valid UTF-8, with the
//   input fallback encoding (per channel where set, else per server);
// - outgoing lines use the output encoding of their target channel, else the
//   server's.
// Only the socket set-up and the byte <-> text step are replaced; line
// splitting, parsing and everything else stay irc-framework's.
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, rootCertificates } from 'node:tls';
import { TextDecoder } from 'node:util';
import { batchWritesThisTurn } from '../../write-batching.js';
import { ircLower } from './addresses.js';

const require = createRequire(import.meta.url);

interface NetTransportBase {
  options: TransportOptions;
  socket: import('node:net').Socket | null;
  state: number;
  encoding: string;
  incoming_buffer: Buffer;
  requested_disconnect: boolean;
  disposeSocket(): void;
  setEncoding(encoding: string): boolean;
  debugOut(text: string): void;
  emit(event: string, ...args: unknown[]): boolean;
  writeLine(line: string, cb?: () => void): void;
  _onSocketCreate(options: TransportOptions, socket: import('node:net').Socket): void;
}
type NetTransportClass = new (options: TransportOptions) => NetTransportBase;

// irc-framework ships its transports as CommonJS files without an export map.
const NetTransport = require('irc-framework/src/transports/net.js') as NetTransportClass;
const parseLine = (require('irc-framework') as { ircLineParser(line: string): { command: string; params: string[] } | null }).ircLineParser;

const SOCK_CONNECTING = 1;

/** The options ponte adds to irc-framework's connect options for this transport. */
export interface TransportOptions {
  host: string;
  port: number;
  tls?: boolean;
  encoding?: string;
  client_certificate?: { private_key: string; certificate: string };
  ponte_ca?: string;
  ponte_encoding_in?: string;
  /** Lowercased channel name -> its encodings. */
  ponte_channel_encodings?: Map<string, { out: string; in: string }>;
}

const decoders = new Map<string, TextDecoder>();
function decoder(encoding: string): TextDecoder {
  let found = decoders.get(encoding);
  if (!found) decoders.set(encoding, (found = new TextDecoder(encoding)));
  return found;
}
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The channel a line is about (its first parameter), if it has encodings of its own. */
function channelEncodings(line: string, table: Map<string, { out: string; in: string }> | undefined): { out: string; in: string } | undefined {
  if (!table || table.size === 0) return undefined;
  const target = parseLine(line)?.params[0];
  return target ? table.get(ircLower(target)) : undefined;
}

/** Decodes one line: UTF-8 if it is valid UTF-8, else the fallback of its channel or server. */
export function decodeLine(bytes: Buffer, fallback: string, table?: Map<string, { out: string; in: string }>): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // Latin-1 maps each byte to one character: enough to read the command and target.
    const own = channelEncodings(bytes.toString('latin1'), table);
    return decoder(own?.in ?? fallback).decode(bytes);
  }
}

export class PonteTransport extends (NetTransport as unknown as NetTransportClass) {
  connect(): void {
    const options = this.options;
    this.debugOut('connect()');
    this.disposeSocket();
    this.requested_disconnect = false;
    this.incoming_buffer = Buffer.alloc(0);
    if (!options.encoding || !this.setEncoding(options.encoding)) this.setEncoding('utf8');
    this.state = SOCK_CONNECTING;
    const socket = options.tls
      ? tlsConnect({
          host: options.host,
          port: options.port,
          // SNI only for names, as irc-framework does.
          ...(isIP(options.host) ? {} : { servername: options.host }),
          rejectUnauthorized: true,
          // The system's CAs stay trusted: `ca` would replace them, so the extra ones are added to the defaults.
          ...(options.ponte_ca ? { ca: [...systemCertificates(), options.ponte_ca] } : {}),
          ...(options.client_certificate ? { key: options.client_certificate.private_key, cert: options.client_certificate.certificate } : {}),
        })
      : netConnect({ host: options.host, port: options.port });
    this.socket = socket;
    this._onSocketCreate(options, socket);
  }

  onSocketData(data: Buffer): void {
    this.incoming_buffer = Buffer.concat([this.incoming_buffer, data]);
    let start = 0;
    for (;;) {
      const end = this.incoming_buffer.indexOf(0x0a, start) + 1;
      if (end === 0) {
        this.incoming_buffer = this.incoming_buffer.subarray(start);
        break;
      }
      const line = this.incoming_buffer.subarray(start, end);
      this.emit('line', decodeLine(line, this.options.ponte_encoding_in ?? 'iso-8859-1', this.options.ponte_channel_encodings));
      start = end;
    }
  }

  override writeLine(line: string, cb?: () => void): void {
    batchWritesThisTurn(this.socket);
    const own = channelEncodings(line, this.options.ponte_channel_encodings);
    if (!own) return super.writeLine(line, cb);
    // irc-framework encodes with this.encoding: switch it for this one line.
    const saved = this.encoding;
    this.encoding = own.out === 'utf-8' ? 'utf8' : own.out;
    try {
      super.writeLine(line, cb);
    } finally {
      this.encoding = saved;
    }
  }
}

/** Node's bundled CAs: what a connection without `ca` trusts. */
function systemCertificates(): readonly string[] {
  return rootCertificates;
}
