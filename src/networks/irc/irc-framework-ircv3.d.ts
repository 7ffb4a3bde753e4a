// Type declarations for the parts of irc-framework 4.14 that the IRCv3
// batch modules (chathistory.ts, multiline.ts) use; merged with
// irc-framework.d.ts.
declare module 'irc-framework' {
  export const MessageTags: {
    encode(tags: Record<string, string | true>, separator?: string): string;
    decode(text: string): Record<string, string>;
  };

  /** irc-framework's line parser (tags decoded, command upper-cased). */
  export function ircLineParser(line: string): { tags: Record<string, string>; prefix: string; nick: string; command: string; params: string[] };

  interface IrcMiddleware {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- middleware arguments differ per stack
    use(fn: (...args: any[]) => void): void;
  }

  interface Client {
    /** Adds middleware: raw (every parsed line before dispatch) and parsed. */
    use(fn: (client: Client, raw: IrcMiddleware, parsed: IrcMiddleware) => void): Client;
  }

  /** client.network.cap with the offered values (`available`), read through capsOf() in multiline.ts. */
  export interface NetworkCaps {
    enabled: string[];
    available: Map<string, string>;
    isEnabled(cap: string): boolean;
  }
}
