// The part of ltx (xmpp.js' XML library) the tests use to parse files.
declare module 'ltx' {
  export class Element {
    name: string;
    attrs: Record<string, string | undefined>;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
  }
  export function parse(text: string): Element;
}
