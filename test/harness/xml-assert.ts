// Compare XML elements, not strings: attribute order and serialisation
// details do not matter, names, attributes, text and child order do.
import assert from 'node:assert/strict';
import type { Element } from '../../src/xmpp/stanza.js';

/** An element as plain data (name, attributes, children), for deepEqual without parent links. */
type Plain = { name: string; attrs: Record<string, string | undefined>; children: Array<Plain | string> };

export function plain(element: Element): Plain {
  return {
    name: element.name,
    attrs: { ...element.attrs },
    children: element.children.map((child) => (typeof child === 'string' ? child : plain(child))),
  };
}

export function assertXml(actual: Element, expected: Element): void {
  assert.deepEqual(plain(actual), plain(expected));
}
