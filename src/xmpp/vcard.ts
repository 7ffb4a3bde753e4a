// vCard-temp (XEP-0054) for the gateway's JIDs, from what the network tells
// of contacts (contactInfo) and rooms (roomInfo), and the XEP-0153 avatar
// hash helpers the presence and MUC modules put in the presences they send.
//
// Decisions:
// - Contacts and rooms need the user's session (opened if needed: the user
//   asked for it explicitly); a network without contactInfo / roomInfo gets
//   feature-not-implemented with a text.
// - An occupant's vCard is its contact's, when the network tells who the
//   occupant is; else what the network tells of the occupant by nick
//   (occupantInfo); otherwise item-not-found (nothing to show).
// - The gateway's vCard is its display name; a network server's is its name.
// - vCards here are read-only: a set gets not-allowed.
import { createHash } from 'node:crypto';
import { GatewayError } from '../core/errors.js';
import type { ContactInfo, RoomInfo } from '../networks/types.js';
import type { XmppModule } from './context.js';
import { NS } from './namespaces.js';
import { parseJid, xml, type Element } from './stanza.js';

/** XEP-0153 §2.2: the photo hash is the hex SHA-1 of the image bytes. */
export function photoHash(image: Buffer): string {
  return createHash('sha1').update(image).digest('hex');
}

/**
 * The `<x xmlns='vcard-temp:x:update'/>` for a presence: with the hash when
 * there is an avatar, an empty `<photo/>` when there is none (XEP-0153 §3.2).
 */
export function vcardUpdateElement(image: Buffer | null): Element {
  return xml('x', { xmlns: NS.vcardUpdate }, image ? xml('photo', {}, photoHash(image)) : xml('photo'));
}

export interface VcardData {
  fn?: string;
  nickname?: string;
  url?: string;
  desc?: string;
  photo?: { data: Buffer; type: string };
}

/** The `<vCard xmlns='vcard-temp'/>` with the given fields (empty ones left out). */
export function vcardElement(data: VcardData): Element {
  const card = xml('vCard', { xmlns: NS.vcard });
  if (data.fn) card.append(xml('FN', {}, data.fn));
  if (data.nickname) card.append(xml('NICKNAME', {}, data.nickname));
  if (data.url) card.append(xml('URL', {}, data.url));
  if (data.desc) card.append(xml('DESC', {}, data.desc));
  if (data.photo && data.photo.data.length > 0) {
    card.append(xml('PHOTO', {}, xml('TYPE', {}, data.photo.type), xml('BINVAL', {}, data.photo.data.toString('base64'))));
  }
  return card;
}

export function contactVcard(info: ContactInfo): VcardData {
  return { fn: info.name ?? info.nick, nickname: info.nick, url: info.url, desc: info.description, photo: info.avatar };
}

export function roomVcard(info: RoomInfo, fallbackName: string): VcardData {
  return { fn: info.name || fallbackName, desc: info.description, photo: info.avatar };
}

export const registerVcard: XmppModule = ({ router, core, addressing }) => {
  for (const gateway of core.domains) {
    const { network } = gateway;

    router.onIq(gateway.domain, 'get', NS.vcard, 'vCard', async (iq) => {
      const target = await addressing.resolve(iq.to);
      switch (target.kind) {
        case 'gateway':
          if (target.resource) throw new GatewayError('item-not-found', `${iq.to} does not exist on this gateway.`);
          return vcardElement({ fn: network.displayName });
        case 'server':
          return vcardElement({ fn: target.address.id });
        case 'contact': {
          const session = await core.openSession(gateway, iq.from);
          if (!session.remote.contactInfo) {
            throw new GatewayError('feature-not-implemented', `${network.displayName} does not give profiles of its users.`);
          }
          return vcardElement(contactVcard(await session.remote.contactInfo(target.address)));
        }
        case 'room': {
          const session = await core.openSession(gateway, iq.from);
          if (!session.remote.roomInfo) {
            throw new GatewayError('feature-not-implemented', `${network.displayName} does not describe its rooms.`);
          }
          return vcardElement(roomVcard(await session.remote.roomInfo(target.address), parseJid(target.bare).getLocal(true)));
        }
        case 'occupant': {
          const session = core.session(gateway, iq.from);
          const room = session?.room(target.address);
          if (!session?.loggedIn || !room) throw new GatewayError('bad-request', `You are not in ${target.bare}.`);
          const participant =
            room.participants.get(target.nick) ??
            [...room.participants.values()].find((p) => p.nick.toLowerCase() === target.nick.toLowerCase());
          if (participant && !participant.contact && session.remote.occupantInfo) {
            return vcardElement(contactVcard(await session.remote.occupantInfo(target.address, participant.nick)));
          }
          if (!participant?.contact) throw new GatewayError('item-not-found', `${network.displayName} tells nothing about ${target.nick}.`);
          if (!session.remote.contactInfo) {
            throw new GatewayError('feature-not-implemented', `${network.displayName} does not give profiles of its users.`);
          }
          return vcardElement(contactVcard(await session.remote.contactInfo(participant.contact)));
        }
      }
    });

    router.onIq(gateway.domain, 'set', NS.vcard, 'vCard', () => {
      throw new GatewayError('not-allowed', 'The vCards of the gateway and of network users cannot be changed from XMPP.');
    });
  }
};
