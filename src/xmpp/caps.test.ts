// Entity capabilities (XEP-0115): the verification string algorithm against
// the specification's own examples, and the <c/> of each kind of JID against
// what disco#info answers for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayDomain } from '../core/core.js';
import type { Capability, Network } from '../networks/types.js';
import { capsElement, serverCapsElement } from './caps.js';
import { CAPS_NODE, capsVerification, contactDiscoInfo, discoInfoElement, gatewayDiscoInfo, serverDiscoInfo, type DiscoInfo } from './disco.js';
import { NS } from './namespaces.js';
import { xml, type Element } from './stanza.js';

test('XEP-0115 §5.2 simple example gives its ver', () => {
  const info: DiscoInfo = {
    identities: [{ category: 'client', type: 'pc', name: 'Exodus 0.9.1' }],
    // Out of order on purpose: the algorithm sorts.
    features: [
      'http://jabber.org/protocol/muc',
      'http://jabber.org/protocol/disco#info',
      'http://jabber.org/protocol/caps',
      'http://jabber.org/protocol/disco#items',
    ],
  };
  assert.equal(capsVerification(info), 'QgayPKawpkPSDYmwT/WM94uAlu0=');
});

test('XEP-0115 §5.3 complex example (languages, non-ASCII name, extended form) gives its ver', () => {
  const info: DiscoInfo = {
    identities: [
      { category: 'client', type: 'pc', lang: 'en', name: 'Psi 0.11' },
      { category: 'client', type: 'pc', lang: 'el', name: 'Ψ 0.11' },
    ],
    features: [
      'http://jabber.org/protocol/disco#items',
      'http://jabber.org/protocol/caps',
      'http://jabber.org/protocol/disco#info',
      'http://jabber.org/protocol/muc',
    ],
    forms: [
      {
        type: 'result',
        formType: 'urn:xmpp:dataforms:softwareinfo',
        fields: [
          { var: 'ip_version', type: 'text-multi', values: ['ipv6', 'ipv4'] },
          { var: 'os', type: 'text-single', value: 'Mac' },
          { var: 'os_version', type: 'text-single', value: '10.5.1' },
          { var: 'software', type: 'text-single', value: 'Psi' },
          { var: 'software_version', type: 'text-single', value: '0.11' },
        ],
      },
    ],
  };
  assert.equal(capsVerification(info), 'q07IKJEyjvHSyhy//CH0CxmKi8w=');
});

/** What a client computes from a disco#info answer (XEP-0115 §5.6 verification), independently of DiscoInfo. */
function verOfAnswer(query: Element): string {
  return capsVerification({
    identities: query.getChildren('identity').map((i) => ({
      category: String(i.attrs.category),
      type: String(i.attrs.type),
      name: i.attrs.name,
      lang: i.attrs['xml:lang'],
    })),
    features: query.getChildren('feature').map((f) => f.attrs.var as string),
  });
}

function gatewayWith(capabilities: Capability[]): GatewayDomain {
  const network = {
    name: 'test',
    identityType: 'test',
    displayName: 'Test network gateway',
    capabilities: new Set(capabilities),
  } as unknown as Network;
  return { name: 'test', domain: 'test.localhost', network };
}

test('each kind of JID gets the <c/> of its own disco#info answer', () => {
  const gateway = gatewayWith(['rooms', 'contacts', 'reactions', 'chat-states']);
  const expected = (info: DiscoInfo) => xml('c', { xmlns: NS.caps, hash: 'sha-1', node: CAPS_NODE, ver: verOfAnswer(discoInfoElement(info)) });
  assert.deepEqual(capsElement(gateway, 'gateway'), expected(gatewayDiscoInfo(gateway.network)));
  assert.deepEqual(capsElement(gateway, 'contact'), expected(contactDiscoInfo(gateway.network)));
  assert.deepEqual(capsElement(gateway, 'occupant'), expected(contactDiscoInfo(gateway.network)));
  assert.deepEqual(
    serverCapsElement(gateway, { kind: 'server', id: 'irc.example.net' }),
    expected(serverDiscoInfo(gateway.network, 'irc.example.net')),
  );
  assert.notEqual(capsElement(gateway, 'gateway')!.attrs.ver, capsElement(gateway, 'contact')!.attrs.ver);
  assert.notEqual(capsElement(gateway, 'gateway'), capsElement(gateway, 'gateway'), 'a fresh element each time');
});

test('the contact ver follows the network capabilities', () => {
  const rich = capsElement(gatewayWith(['contacts', 'reactions']), 'contact')!.attrs.ver;
  const poor = capsElement(gatewayWith(['contacts']), 'contact')!.attrs.ver;
  assert.notEqual(rich, poor);
});
