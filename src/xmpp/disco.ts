// Service discovery (XEP-0030) on every JID of the gateway, the room
// directory with result set management (XEP-0059), the muc#roominfo form
// (XEP-0045 §6.4, XEP-0128), and the entity capabilities verification string
// (XEP-0115) other modules put in the presences they send.
//
// Decisions:
// - The features of a JID are computed from ONE table, CAPABILITY_FEATURES
//   (network capability -> feature vars, per kind of entity), plus the
//   features the XMPP side implements for every network (BASE_FEATURES).
//   Gateway and contact features depend on the network only (never on a live
//   session), so the caps hash of a presence always matches what disco#info
//   answers later. MAM (ponte's own archive) is on rooms and the gateway
//   domain while archive.enabled (FeatureOptions.archive, default true).
// - The gateway domain has identity gateway/<network type>, and also
//   conference/text when the network has rooms: it is the MUC service of the
//   network's rooms (XEP-0045 §6.1), and clients look for that identity.
// - Contacts (and room occupants) are `client/pc`, not `account/registered`:
//   the XEP-0030 registry reserves the account category for a server speaking
//   about accounts it hosts, whereas a contact here is a remote person's chat
//   endpoint whose features (chat states, receipts, corrections...) are
//   client features; slidge makes the same choice. `pc` is the conventional
//   type when the device is unknown.
// - Rooms are advertised muc_semianonymous: ponte never shows the real XMPP
//   JIDs of its users to other occupants (matrix-bifrost's bug #81 was doing
//   so). muc_persistent/muc_temporary are left out: the contract does not
//   tell. Each muc_* pair is advertised only when RoomInfo says which applies.
// - A network without a notion of servers lists rooms nowhere: the room
//   directory lives on `server` JIDs (biboumi's `irc.libera.chat@gateway`).
//   The gateway's items are the ad-hoc command node plus the servers the user
//   has accounts on (account keys that the network's address codec reads back
//   as a server address).
// - Room directory paging: networks page forward only, with an opaque token.
//   The directory is read lazily into a per-user cache (bounded, 5 minutes),
//   so RSM `after`, `before`, `<before/>` (last page) and `index` all work
//   exactly on one stable snapshot; item ids are the room JIDs. A request
//   without a position starts a fresh snapshot.
// - disco#info on a room opens the user's session (if the user may use the
//   network) to ask the network (roomInfo); when the session cannot be opened
//   (not registered, network down) the answer falls back to what is known
//   without the network. Users not allowed to use the network get that
//   fallback too, and never cause a network session.
// - Occupant JIDs: a requester not in the room gets bad-request (XEP-0045
//   §6.7); an occupant who is not there gets item-not-found.
// - Server and room JIDs of a network with settings list their ad-hoc
//   commands (adhoc.ts scopedCommandItems) in the node `commands` and answer
//   disco#info on it and on each command node; they carry the commands feature.
import { createHash } from 'node:crypto';
import type { GatewayDomain } from '../core/core.js';
import { GatewayError } from '../core/errors.js';
import type { Session } from '../core/sessions.js';
import type { Capability, Network, NetworkAddress, RoomInfo } from '../networks/types.js';
import type { Target } from './addressing.js';
import { commandInfo, commandItems, COMMANDS_NODE_NAME, scopedCommandInfo, scopedCommandItems } from './adhoc.js';
import type { XmppContext, XmppModule } from './context.js';
import { buildForm, type DataForm } from './forms.js';
import { mamEnabled, MAM_FEATURES } from './mam.js';
import { NS } from './namespaces.js';
import { parseJid, xml, type Element } from './stanza.js';
import { photoHash } from './vcard.js';

/** The kinds of JID disco describes by features (occupants are described as contacts). */
export type EntityKind = 'gateway' | 'server' | 'room' | 'contact';

/**
 * THE table: what each network capability lets the gateway offer, per kind of
 * entity. MUC, messages and presence modules read it too (featuresOf).
 */
export const CAPABILITY_FEATURES: Readonly<Record<Capability, Readonly<Partial<Record<EntityKind, readonly string[]>>>>> = {
  rooms: { gateway: [NS.muc], server: [NS.muc] },
  contacts: {},
  'private-messages': {},
  'room-password': {},
  topic: {},
  'nick-change': {},
  kick: {},
  ban: {},
  roles: {},
  invites: { contact: [NS.directInvite] },
  'room-list': { server: [NS.rsm] },
  corrections: { room: [NS.correction], contact: [NS.correction] },
  retractions: { room: [NS.retraction], contact: [NS.retraction] },
  reactions: { room: [NS.reactions], contact: [NS.reactions] },
  replies: { room: [NS.reply], contact: [NS.reply] },
  'chat-states': { room: [NS.chatStates], contact: [NS.chatStates] },
  'displayed-markers': { room: [NS.markers], contact: [NS.markers] },
  // OOB is always offered (BASE_FEATURES): without the capability the URL goes as text.
  attachments: {},
  // Backfill from the network; MAM itself is ponte's own archive (ARCHIVE_FEATURES).
  history: {},
  avatars: { room: [NS.vcard], contact: [NS.vcard] },
};

/**
 * What the XMPP side implements for every network: service.ts (ping, version,
 * time), this module, registration.ts, gateway-iq.ts (only with
 * contactFromPrompt, see featuresOf), adhoc.ts, vcard.ts (the gateway's
 * vCard), muc.ts (rooms), messages.ts (receipts once the network accepted a
 * message, XEP-0359 ids, styling passed through, OOB or its URL as text).
 */
export const BASE_FEATURES: Readonly<Record<EntityKind, readonly string[]>> = {
  gateway: [NS.discoInfo, NS.discoItems, NS.ping, NS.version, NS.time, NS.register, NS.commands, NS.dataForms, NS.vcard],
  server: [NS.discoInfo, NS.discoItems],
  // muc#self-ping-optimization: XEP-0410 self-pings are answered for occupants (muc/ping.ts).
  room: [NS.discoInfo, NS.muc, NS.mucSelfPing, NS.stanzaId, NS.styling, NS.oob],
  contact: [NS.discoInfo, NS.receipts, NS.stanzaId, NS.styling, NS.oob],
};

/** MAM (mam.ts) on rooms and, for one-to-one chats, on the gateway domain, when archive.enabled. */
export const ARCHIVE_FEATURES: Readonly<Partial<Record<EntityKind, readonly string[]>>> = {
  gateway: MAM_FEATURES,
  room: MAM_FEATURES,
};

export interface FeatureOptions {
  /** Whether MAM is offered (config archive.enabled, default true). */
  archive?: boolean;
}

/** The feature vars of a kind of entity on this network, sorted and unique. */
export function featuresOf(network: Network, kind: EntityKind, options: FeatureOptions = {}): string[] {
  const features = new Set(BASE_FEATURES[kind]);
  for (const capability of network.capabilities) for (const feature of CAPABILITY_FEATURES[capability]?.[kind] ?? []) features.add(feature);
  if (kind === 'gateway' && network.contactFromPrompt) features.add(NS.gateway);
  // Settings commands (adhoc.ts) on server and room JIDs.
  if ((kind === 'server' || kind === 'room') && network.settings) features.add(NS.commands);
  if (options.archive ?? true) for (const feature of ARCHIVE_FEATURES[kind] ?? []) features.add(feature);
  return [...features].sort();
}

export interface DiscoIdentity {
  category: string;
  type: string;
  name?: string;
  lang?: string;
}

export interface DiscoInfo {
  identities: DiscoIdentity[];
  features: string[];
  /** XEP-0128 extended information (result forms with a FORM_TYPE). */
  forms?: DataForm[];
}

/** What disco#info says of the gateway domain itself. */
export function gatewayDiscoInfo(network: Network, options: FeatureOptions = {}): DiscoInfo {
  const identities: DiscoIdentity[] = [{ category: 'gateway', type: network.identityType, name: network.displayName }];
  if (network.capabilities.has('rooms')) identities.push({ category: 'conference', type: 'text', name: network.displayName });
  return { identities, features: featuresOf(network, 'gateway', options) };
}

/** What disco#info says of a contact JID, and of a room occupant's JID. */
export function contactDiscoInfo(network: Network): DiscoInfo {
  return { identities: [{ category: 'client', type: 'pc' }], features: featuresOf(network, 'contact') };
}

/** What disco#info says of a network server's JID (the MUC service of its rooms, when the network has rooms). */
export function serverDiscoInfo(network: Network, name: string): DiscoInfo {
  const identity = network.capabilities.has('rooms')
    ? { category: 'conference', type: 'text', name }
    : { category: 'gateway', type: network.identityType, name };
  return { identities: [identity], features: featuresOf(network, 'server') };
}

/** A room's disco#info from what the network says of it (XEP-0045 §6.4). */
export function roomDiscoInfo(network: Network, name: string, info: RoomInfo, options: FeatureOptions = {}): DiscoInfo {
  const features = new Set(featuresOf(network, 'room', options));
  const pair = (flag: boolean | undefined, yes: string, no: string) => {
    if (flag !== undefined) features.add(flag ? yes : no);
  };
  pair(info.passwordProtected, 'muc_passwordprotected', 'muc_unsecured');
  pair(info.membersOnly, 'muc_membersonly', 'muc_open');
  pair(info.moderated, 'muc_moderated', 'muc_unmoderated');
  pair(info.public, 'muc_public', 'muc_hidden');
  features.add('muc_semianonymous');
  const roomInfoFields = [
    info.name !== undefined && info.name !== '' && { var: 'muc#roomconfig_roomname', label: 'Name', type: 'text-single' as const, value: info.name },
    info.description !== undefined && { var: 'muc#roominfo_description', label: 'Description', type: 'text-single' as const, value: info.description },
    info.subject !== undefined && { var: 'muc#roominfo_subject', label: 'Current subject', type: 'text-single' as const, value: info.subject },
    info.occupants !== undefined && {
      var: 'muc#roominfo_occupants',
      label: 'Number of occupants',
      type: 'text-single' as const,
      value: String(info.occupants),
    },
    // XEP-0486: clients compare the hash with the one they have, and fetch the room's vCard when it differs.
    info.avatar !== undefined && info.avatar.data.length > 0 && {
      var: 'muc#roominfo_avatarhash',
      label: 'Avatar hash',
      type: 'text-multi' as const,
      values: [photoHash(info.avatar.data)],
    },
  ].filter((field) => field !== false);
  return {
    identities: [{ category: 'conference', type: 'text', name: info.name || name }],
    features: [...features].sort(),
    forms: [{ type: 'result', formType: NS.mucRoomInfo, fields: roomInfoFields }],
  };
}

/** The `<query xmlns='disco#info'/>` of an answer. */
export function discoInfoElement(info: DiscoInfo, node?: string): Element {
  const query = xml('query', { xmlns: NS.discoInfo, node });
  for (const identity of info.identities) {
    query.append(xml('identity', { category: identity.category, type: identity.type, name: identity.name, 'xml:lang': identity.lang }));
  }
  for (const feature of info.features) query.append(xml('feature', { var: feature }));
  for (const form of info.forms ?? []) query.append(buildForm(form));
  return query;
}

/** The caps node ponte puts in `<c/>` (XEP-0115; a URI naming the software: replace with the project's URL once it has one). */
export const CAPS_NODE = 'urn:ponte:caps';

/** The XEP-0115 §5.1 verification string (SHA-1, base64) of a disco#info answer. */
export function capsVerification(info: DiscoInfo): string {
  const identities = info.identities
    .map((i) => `${i.category}/${i.type}/${i.lang ?? ''}/${i.name ?? ''}`)
    .sort(compareOctets);
  const features = [...new Set(info.features)].sort(compareOctets);
  let text = identities.map((i) => `${i}<`).join('') + features.map((f) => `${f}<`).join('');
  const forms = (info.forms ?? []).filter((form) => form.formType).sort((a, b) => compareOctets(a.formType!, b.formType!));
  for (const form of forms) {
    text += `${form.formType}<`;
    const fields = form.fields.filter((f) => f.var && f.var !== 'FORM_TYPE').sort((a, b) => compareOctets(a.var!, b.var!));
    for (const field of fields) {
      const values = field.values ? [...field.values] : field.value !== undefined ? [field.value] : [];
      text += `${field.var}<` + values.sort(compareOctets).map((v) => `${v}<`).join('');
    }
  }
  return createHash('sha1').update(text, 'utf8').digest('base64');
}

/** The `<c xmlns='http://jabber.org/protocol/caps'/>` for presences from an entity with this disco#info. */
export function capsElement(info: DiscoInfo): Element {
  return xml('c', { xmlns: NS.caps, hash: 'sha-1', node: CAPS_NODE, ver: capsVerification(info) });
}

function compareOctets(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Whether a disco#info node is "<anything>#<ver>" for this info's caps version (XEP-0115 §6.2). */
function isCapsNode(node: string, info: DiscoInfo): boolean {
  const hash = node.lastIndexOf('#');
  return hash > 0 && node.slice(hash + 1) === capsVerification(info);
}

// --- result set management (XEP-0059) ------------------------------------------

export interface RsmRequest {
  max?: number;
  after?: string;
  /** '' is `<before/>`: the last page. */
  before?: string;
  index?: number;
}

const RSM_DEFAULT_MAX = 100;
const RSM_MAX = 500;

/** Reads `<set xmlns='http://jabber.org/protocol/rsm'/>` from a query; undefined when absent. */
export function parseRsm(query: Element): RsmRequest | undefined {
  const set = query.getChild('set', NS.rsm);
  if (!set) return undefined;
  const request: RsmRequest = {};
  const number = (name: string): number | undefined => {
    const text = set.getChildText(name);
    if (text === null) return undefined;
    if (!/^\d{1,9}$/.test(text.trim())) throw new GatewayError('bad-request', `RSM <${name}/> must be a non-negative integer.`);
    return Number(text.trim());
  };
  request.max = number('max');
  request.index = number('index');
  const after = set.getChild('after');
  const before = set.getChild('before');
  if (after) request.after = after.text();
  if (before) request.before = before.text();
  if (after && before) throw new GatewayError('bad-request', 'RSM <after/> and <before/> cannot be combined.');
  return request;
}

export interface RsmPage<T> {
  items: T[];
  /** Position of the first item in the whole set. */
  firstIndex: number;
  count: number | undefined;
}

/** Pages through a (possibly partly loaded) list; throws item-not-found for an unknown after/before id. */
export function rsmPage<T>(all: readonly T[], uid: (item: T) => string, request: RsmRequest | undefined, count: number | undefined): RsmPage<T> {
  const max = Math.min(request?.max ?? RSM_DEFAULT_MAX, RSM_MAX);
  const find = (id: string) => {
    const at = all.findIndex((item) => uid(item) === id);
    if (at < 0) throw new GatewayError('item-not-found', `No item "${id.slice(0, 200)}" in this result set (it may have changed; start again from the first page).`);
    return at;
  };
  let start: number;
  if (request?.after !== undefined) start = find(request.after) + 1;
  else if (request?.before !== undefined) {
    const end = request.before === '' ? all.length : find(request.before);
    start = Math.max(0, end - max);
    return { items: all.slice(start, end), firstIndex: start, count };
  } else start = request?.index ?? 0;
  return { items: all.slice(start, start + max), firstIndex: start, count };
}

/** The `<set/>` of an answer. */
export function rsmElement(page: RsmPage<unknown>, first: string | undefined, last: string | undefined): Element {
  const set = xml('set', { xmlns: NS.rsm });
  if (first !== undefined && last !== undefined) {
    set.append(xml('first', { index: String(page.firstIndex) }, first));
    set.append(xml('last', {}, last));
  }
  if (page.count !== undefined) set.append(xml('count', {}, String(page.count)));
  return set;
}

// --- the room directory ----------------------------------------------------------

interface DirectoryEntry {
  jid: string;
  name: string;
}

interface Directory {
  entries: DirectoryEntry[];
  /** The network's token for the next page; undefined before the first fetch. */
  next: string | undefined;
  complete: boolean;
  total: number | undefined;
  expires: number;
  /** Serialises reads of one directory. */
  lock: Promise<void>;
}

const DIRECTORY_TTL_MS = 5 * 60_000;
const DIRECTORY_CACHE_SIZE = 100;
/** Rooms read at most per directory; beyond, the listing is cut (and the count says how many were read). */
const DIRECTORY_MAX_ENTRIES = 20_000;
const DIRECTORY_FETCH = 100;

class DirectoryCache {
  private readonly directories = new Map<string, Directory>();

  get(key: string, fresh: boolean): Directory {
    const now = Date.now();
    for (const [k, d] of this.directories) if (d.expires < now) this.directories.delete(k);
    let directory = fresh ? undefined : this.directories.get(key);
    if (!directory) {
      directory = { entries: [], next: undefined, complete: false, total: undefined, expires: now + DIRECTORY_TTL_MS, lock: Promise.resolve() };
      this.directories.delete(key);
      this.directories.set(key, directory);
      while (this.directories.size > DIRECTORY_CACHE_SIZE) this.directories.delete(this.directories.keys().next().value!);
    }
    return directory;
  }
}

async function withLock<T>(directory: Directory, work: () => Promise<T>): Promise<T> {
  const previous = directory.lock;
  let release!: () => void;
  directory.lock = new Promise((resolve) => (release = resolve));
  await previous;
  try {
    return await work();
  } finally {
    release();
  }
}

/** Reads pages from the network until `enough()` or the end. */
async function loadDirectory(
  context: XmppContext,
  gateway: GatewayDomain,
  session: Session,
  server: NetworkAddress,
  directory: Directory,
  enough: () => boolean,
): Promise<void> {
  const listRooms = session.remote.listRooms!.bind(session.remote);
  while (!directory.complete && !enough()) {
    const page = await listRooms(server, { limit: DIRECTORY_FETCH, ...(directory.next !== undefined ? { after: directory.next } : {}) });
    for (const item of page.items) {
      const jid = await context.addressing.jid(gateway, item.address);
      directory.entries.push({ jid, name: item.name || parseJid(jid).getLocal(true) });
    }
    directory.total = page.total;
    directory.next = page.next;
    // A page with no continuation, or an empty one (a network that never ends would loop), closes the listing.
    if (!page.next || page.items.length === 0 || directory.entries.length >= DIRECTORY_MAX_ENTRIES) directory.complete = true;
  }
}

// --- the module --------------------------------------------------------------------

export const registerDisco: XmppModule = (context) => {
  const { router, core, addressing } = context;
  const directories = new DirectoryCache();
  const featureOptions: FeatureOptions = { archive: mamEnabled(context) };

  /** The user's logged-in session, opened if needed; null for users who may not use the network or when it cannot be opened. */
  async function sessionIfPossible(gateway: GatewayDomain, from: string): Promise<Session | null> {
    if (!core.access.mayUse(gateway.name, from)) return null;
    const existing = core.session(gateway, from);
    if (existing?.loggedIn) return existing;
    try {
      return await core.openSession(gateway, from);
    } catch (err) {
      context.log.debug({ err: (err as Error).message, network: gateway.name }, 'disco: no session, answering from what is known');
      return null;
    }
  }

  /** The occupant's room as the requester sees it; throws per XEP-0045 §6.7. */
  function occupantRoom(target: Extract<Target, { kind: 'occupant' }>, from: string) {
    const room = core.session(target.gateway, from)?.room(target.address);
    if (!room) throw new GatewayError('bad-request', `You are not in ${target.bare}, so you cannot query its occupants.`);
    const nick = target.nick;
    const present =
      room.nick === nick ||
      room.participants.has(nick) ||
      [...room.participants.keys()].some((other) => other.toLowerCase() === nick.toLowerCase());
    if (!present) throw new GatewayError('item-not-found', `Nobody is called ${nick} in ${target.bare}.`);
    return room;
  }

  async function roomInfoFor(target: Extract<Target, { kind: 'room' }>, from: string): Promise<DiscoInfo> {
    const { gateway, address } = target;
    const fallbackName = parseJid(target.bare).getLocal(true);
    const session = await sessionIfPossible(gateway, from);
    if (session?.loggedIn && session.remote.roomInfo) {
      return roomDiscoInfo(gateway.network, fallbackName, await session.remote.roomInfo(address), featureOptions);
    }
    const joined = (session ?? core.session(gateway, from))?.room(address);
    const known: RoomInfo = joined
      ? { name: joined.name, subject: joined.subject?.text, occupants: joined.participants.size + 1 }
      : {};
    return roomDiscoInfo(gateway.network, fallbackName, known, featureOptions);
  }

  /** The commands node or a command node of a server or room JID (adhoc.ts). */
  function commandNodeInfo(target: Target, node: string, jid: string): Element {
    if (node === NS.commands && scopedCommandItems(context, target, '') !== null) {
      return xml('query', { xmlns: NS.discoInfo, node }, xml('identity', { category: 'automation', type: 'command-list', name: COMMANDS_NODE_NAME }), xml('feature', { var: NS.commands }));
    }
    const command = scopedCommandInfo(target, node);
    if (command) return command;
    throw new GatewayError('item-not-found', `${jid} has no node "${node.slice(0, 200)}".`);
  }

  /** Answers a node on a JID whose node-less answer is `info`: only its caps node exists. */
  function withNode(info: DiscoInfo, node: string | undefined, jid: string): Element {
    if (node === undefined) return discoInfoElement(info);
    if (isCapsNode(node, info)) return discoInfoElement(info, node);
    throw new GatewayError('item-not-found', `${jid} has no node "${node.slice(0, 200)}".`);
  }

  async function serverItems(gateway: GatewayDomain, from: string): Promise<Element[]> {
    const user = await context.store.users.find(parseJid(from).bare().toString());
    if (!user) return [];
    const handles = core.handles(gateway.name);
    const items: Element[] = [];
    for (const account of await context.store.accounts.listForUser(user.id)) {
      if (account.network !== gateway.name || account.accountKey === '') continue;
      const server: NetworkAddress = { kind: 'server', id: account.accountKey };
      // Only account keys that the network itself reads back as a server name one.
      const local = await gateway.network.addresses.format(server, handles);
      const back = await gateway.network.addresses.parse(local, handles);
      if (back?.kind !== 'server' || back.id !== server.id) continue;
      items.push(xml('item', { jid: await addressing.jid(gateway, server), name: account.accountKey }));
    }
    return items;
  }

  async function roomDirectory(target: Extract<Target, { kind: 'contact' | 'server' }>, from: string, query: Element): Promise<Element> {
    const { gateway } = target;
    if (!gateway.network.capabilities.has('room-list')) {
      throw new GatewayError('feature-not-implemented', `${gateway.network.displayName} cannot list the rooms of a server.`);
    }
    const request = parseRsm(query);
    const session = await core.openSession(gateway, from);
    if (!session.remote.listRooms) {
      throw new GatewayError('feature-not-implemented', `${gateway.network.displayName} cannot list the rooms of a server.`);
    }
    const key = `${gateway.name}\n${session.userJid}\n${target.address.id}`;
    const fresh = request?.after === undefined && !request?.before && !request?.index;
    const directory = directories.get(key, fresh);
    return withLock(directory, async () => {
      const max = Math.min(request?.max ?? RSM_DEFAULT_MAX, RSM_MAX);
      const has = (id: string | undefined) => id !== undefined && directory.entries.some((e) => e.jid === id);
      let enough: () => boolean;
      if (request?.after !== undefined) {
        const after = request.after;
        enough = () => {
          const at = directory.entries.findIndex((e) => e.jid === after);
          return at >= 0 && directory.entries.length >= at + 1 + max;
        };
      } else if (request?.before === '' || (request?.max === 0 && directory.total === undefined)) {
        enough = () => false; // the last page, or a count nobody gave: read it all
      } else if (request?.before !== undefined) {
        const before = request.before;
        enough = () => has(before);
      } else {
        const index = request?.index ?? 0;
        enough = () => directory.entries.length >= index + max;
      }
      await loadDirectory(context, gateway, session, target.address, directory, enough);
      const count = directory.complete ? directory.entries.length : directory.total;
      const page = rsmPage(directory.entries, (e) => e.jid, request, count);
      const result = xml('query', { xmlns: NS.discoItems });
      for (const entry of page.items) result.append(xml('item', { jid: entry.jid, name: entry.name }));
      result.append(rsmElement(page, page.items[0]?.jid, page.items[page.items.length - 1]?.jid));
      return result;
    });
  }

  for (const gateway of core.domains) {
    router.onIq(gateway.domain, 'get', NS.discoInfo, 'query', async (iq) => {
      const target = await addressing.resolve(iq.to);
      const node = iq.payload.attrs.node;
      switch (target.kind) {
        case 'gateway': {
          if (target.resource) throw new GatewayError('item-not-found', `${iq.to} does not exist on this gateway.`);
          if (node === NS.commands) {
            return xml(
              'query',
              { xmlns: NS.discoInfo, node },
              xml('identity', { category: 'automation', type: 'command-list', name: COMMANDS_NODE_NAME }),
              xml('feature', { var: NS.commands }),
            );
          }
          const info = gatewayDiscoInfo(gateway.network, featureOptions);
          if (node !== undefined && !isCapsNode(node, info)) {
            const command = await commandInfo(context, gateway, iq.from, node);
            if (command) return command;
          }
          return withNode(info, node, iq.to);
        }
        case 'room': {
          if (node === 'x-roomuser-item') {
            // XEP-0045 §7.2.4: the nick to use; the networks reserve none, so the one in use if any, else an empty answer.
            const nick = core.session(gateway, iq.from)?.room(target.address)?.nick;
            return xml('query', { xmlns: NS.discoInfo, node }, nick ? xml('identity', { category: 'conference', type: 'text', name: nick }) : null);
          }
          if (node !== undefined) return commandNodeInfo(target, node, iq.to);
          return discoInfoElement(await roomInfoFor(target, iq.from));
        }
        case 'occupant':
          occupantRoom(target, iq.from);
          return withNode(contactDiscoInfo(gateway.network), node, iq.to);
        case 'contact':
          return withNode(contactDiscoInfo(gateway.network), node, iq.to);
        case 'server': {
          const info = serverDiscoInfo(gateway.network, target.address.id);
          if (node !== undefined && !target.resource && !isCapsNode(node, info)) return commandNodeInfo(target, node, iq.to);
          return withNode(info, node, iq.to);
        }
      }
    });

    router.onIq(gateway.domain, 'get', NS.discoItems, 'query', async (iq) => {
      const target = await addressing.resolve(iq.to);
      const node = iq.payload.attrs.node;
      const empty = () => xml('query', { xmlns: NS.discoItems, node });
      if (target.kind === 'gateway') {
        if (target.resource) throw new GatewayError('item-not-found', `${iq.to} does not exist on this gateway.`);
        if (node === NS.commands) return xml('query', { xmlns: NS.discoItems, node }, ...(await commandItems(context, gateway, iq.from)));
        if (node !== undefined) throw new GatewayError('item-not-found', `${iq.to} has no node "${node.slice(0, 200)}".`);
        return xml(
          'query',
          { xmlns: NS.discoItems },
          xml('item', { jid: gateway.domain, node: NS.commands, name: COMMANDS_NODE_NAME }),
          ...(await serverItems(gateway, iq.from)),
        );
      }
      if (node === NS.commands) {
        const items = scopedCommandItems(context, target, iq.from);
        if (items) return xml('query', { xmlns: NS.discoItems, node }, ...items);
      }
      if (node !== undefined) throw new GatewayError('item-not-found', `${iq.to} has no node "${node.slice(0, 200)}".`);
      switch (target.kind) {
        case 'server':
          return roomDirectory(target, iq.from, iq.payload);
        case 'occupant':
          occupantRoom(target, iq.from);
          return empty();
        default:
          // Rooms do not list their occupants here (XEP-0045 §6.5 leaves it optional); contacts have no items.
          return empty();
      }
    });
  }
};
