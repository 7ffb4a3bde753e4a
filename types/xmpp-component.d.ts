// Type declarations for the parts of @xmpp/component (xmpp.js) that ponte
// uses. xmpp.js ships no types; only src/xmpp/component.ts imports this
// module, everything else goes through that typed facade.
declare module '@xmpp/component' {
  import { EventEmitter } from 'node:events';

  export class Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: Array<Element | string>;
    parent: Element | null;
    constructor(name: string, attrs?: Record<string, string | number | undefined>);
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string | null): string | null;
    getText(): string;
    text(): string;
    text(value: string): this;
    attr(name: string): string | undefined;
    attr(name: string, value: string | undefined): this;
    append(...children: Array<Element | string>): Element;
    c(name: string, attrs?: Record<string, string | undefined>): Element;
    t(text: string): Element;
    up(): Element;
    root(): Element;
    clone(): Element;
    remove(el: Element | string, xmlns?: string): this;
    toString(): string;
  }

  export type XmlChild = Element | string | null | undefined | false | XmlChild[];

  export interface XmlFactory {
    (name: string, attrs?: Record<string, string | number | undefined> | null, ...children: XmlChild[]): Element;
    Element: typeof Element;
  }
  export const xml: XmlFactory;

  export class JID {
    constructor(local: string | null | undefined, domain: string, resource?: string);
    local: string;
    domain: string;
    resource: string;
    bare(): JID;
    equals(other: JID): boolean;
    toString(unescape?: boolean): string;
    getLocal(unescape?: boolean): string;
    getDomain(): string;
    getResource(): string;
  }
  export interface JidFactory {
    (address: string): JID;
    (local: string | null | undefined, domain: string, resource?: string): JID;
    JID: typeof JID;
    equal(a: JID, b: JID): boolean;
    detectEscape(local: string): boolean;
    escapeLocal(local: string): string;
    unescapeLocal(local: string): string;
  }
  export const jid: JidFactory;

  export interface IncomingContext {
    stanza: Element;
    entity: Component;
    name: string;
    id: string;
    type: string;
    to?: JID;
    from?: JID;
    element?: Element;
  }
  export type Middleware = (ctx: IncomingContext, next: () => Promise<unknown>) => unknown;

  export interface Component extends EventEmitter {
    status: string;
    jid: JID | null;
    /** The TCP socket while connected (null between connections). */
    socket: import('node:net').Socket | null;
    options: { service: string; domain: string };
    middleware: { use(fn: Middleware): Middleware };
    iqCallee: {
      get(ns: string, name: string, handler: (ctx: IncomingContext, next: () => Promise<unknown>) => unknown): void;
      set(ns: string, name: string, handler: (ctx: IncomingContext, next: () => Promise<unknown>) => unknown): void;
    };
    iqCaller: { request(el: Element, timeout?: number): Promise<Element> };
    reconnect: EventEmitter & { delay: number; start(): void; stop(): void; reconnect(): Promise<void> };
    start(): Promise<JID>;
    stop(): Promise<void>;
    send(el: Element): Promise<void>;
    disconnect(timeout?: number): Promise<void>;
  }

  export function component(options: { service: string; domain: string; password: string }): Component;
}
