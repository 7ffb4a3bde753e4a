// Type declarations for the parts of irc-framework 4.14 that ponte uses
// (the package ships no types). Only src/networks/irc/ imports it.
declare module 'irc-framework' {
  import { EventEmitter } from 'node:events';

  export interface IrcClientOptions {
    host: string;
    port: number;
    tls?: boolean;
    rejectUnauthorized?: boolean;
    nick: string;
    username?: string;
    gecos?: string;
    password?: string;
    account?: { account: string; password: string };
    encoding?: string;
    version?: string | null;
    enable_chghost?: boolean;
    enable_echomessage?: boolean;
    auto_reconnect?: boolean;
    ping_interval?: number;
    ping_timeout?: number;
    message_max_length?: number;
  }

  export interface IrcMessageLike {
    command: string;
    params: string[];
    nick?: string;
    tags: Record<string, string>;
  }

  /** A line to build: tags (escaped on output), command, parameters. */
  export class Message {
    constructor(command: string, ...params: string[]);
    tags: Record<string, string>;
    to1459(): string;
  }

  export class Client extends EventEmitter {
    constructor(options?: Partial<IrcClientOptions>);
    user: { nick: string; username: string; host?: string };
    network: {
      name: string;
      supports(name: string): string | boolean | undefined;
      isChannelName(name: string): boolean;
      options: Record<string, unknown>;
      cap: { isEnabled(name: string): boolean; enabled: string[] };
    };
    /** Capabilities to ask for in CAP REQ, beyond irc-framework's own list. */
    requestCap(caps: string | string[]): void;
    connected: boolean;
    connection: { connected: boolean; end(data?: string): void };
    connect(options?: IrcClientOptions): void;
    raw(...args: Array<string | number>): void;
    /** The line raw() would write for these parameters (a trailing parameter with spaces gets its colon). */
    rawString(...args: Array<string | number>): string;
    quit(message?: string): void;
    join(channel: string, key?: string): void;
    part(channel: string, message?: string): void;
    changeNick(nick: string): void;
    setTopic(channel: string, topic: string): void;
    caseLower(text: string): string;
  }
}
