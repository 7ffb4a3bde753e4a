// Message Archive Management (XEP-0313, urn:xmpp:mam:2 with #extended) over
// ponte's own archive (store.archive), with Result Set Management (XEP-0059).
//
// Decisions:
// - The archive is per user: a room's messages as that user saw them, and
//   their one-to-one chats through the gateway. Queries only ever read the
//   asking user's rows, so the archive of a room needs no membership check
//   (someone who never joined gets an empty archive, not someone else's).
// - Where to query: a room's bare JID for the room (private messages through
//   the room are not in it, XEP-0313 §6.1.2); the gateway domain for
//   one-to-one chats, with `with` = a contact, a network server, the gateway
//   itself, or room/nick for private messages in a room. Clients query their
//   own server's MAM for chats by default; this one holds what went through
//   the gateway (also while the user's server had no archive).
// - `with` on a room: room/nick selects what that nick said; the room's bare
//   JID selects everything; any other JID matches nothing.
// - Order is the archive order (insertion, XEP-0313 §3.1); start/end compare
//   the time ponte archived the message. The <delay/> stamp is that time, or
//   the network's own timestamp when it is older (history the network
//   delivered late).
// - Paging: RSM max (default 50, at most 250), after, before (empty: the last
//   page); no index paging (an <index/> gets feature-not-implemented); count
//   and first/last always; before-id, after-id, ids, flip-page and the
//   metadata query (#extended). An unknown id is item-not-found; an unknown
//   form field feature-not-implemented; bad dates bad-request.
// - Paging back past the archive: a backward page (RSM <before/>) that
//   reaches the start of the archive of a room (queried at its JID, a room
//   the user is in) or of a one-to-one chat (the gateway domain with `with`
//   = a contact, Matrix: its direct room), on a network that keeps history
//   (capability 'history'), asks the network for what came before the
//   oldest archived message (the most recent ones when none is), at most
//   the rest of the page, none older than the retention; archives it before
//   everything there (archive.prepend: the archive order stays the time
//   order; at = the network's time; the user's own messages outgoing) and
//   reads the page again; the page is not complete while the network may
//   have more. A message archived already (same network id) is not
//   archived twice. Queries with ids, a nick or a resource, start or
//   after-id do not page the network.
// - Retention: archive.retentionDays (config), pruned at start and hourly in
//   bounded batches. archive.enabled false: no text is stored and nothing
//   here is offered (service-unavailable), but ids still are (messages.ts).
import { randomUUID } from 'node:crypto';
import type { GatewayDomain } from '../core/core.js';
import { GatewayError } from '../core/errors.js';
import type { ArchiveEntry, ArchiveScope } from '../store/index.js';
import type { ArchivePage } from '../store/repositories/archive.js';
import type { NetworkAddress } from '../networks/types.js';
import type { Target } from './addressing.js';
import type { XmppContext, XmppModule } from './context.js';
import { contentFromIncoming, renderMessage, stamp, type MessageContent } from './message-codec.js';
import { parseJid, xml, type Element } from './stanza.js';

export const NS_MAM = 'urn:xmpp:mam:2';
export const NS_RSM = 'http://jabber.org/protocol/rsm';
export const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_DATA = 'jabber:x:data';
const NS_DELAY = 'urn:xmpp:delay';

/** The disco#info features of an archive (rooms, and the gateway domain): the disco module advertises these when mamEnabled(). */
export const MAM_FEATURES: readonly string[] = [NS_MAM, `${NS_MAM}#extended`];

export const MAM_DEFAULT_PAGE = 50;
export const MAM_MAX_PAGE = 250;
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Whether MAM is offered (archive.enabled). */
export function mamEnabled(context: Pick<XmppContext, 'config'>): boolean {
  return context.config.archive.enabled;
}

export interface MamQuery {
  queryId?: string;
  with?: string;
  start?: Date;
  end?: Date;
  afterId?: string;
  beforeId?: string;
  ids?: string[];
  max: number;
  after?: string;
  /** true: an empty <before/>, the last page. */
  before?: string | true;
  flipPage: boolean;
}

// XEP-0082 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function parseDateTime(field: string, value: string): Date {
  const date = DATETIME.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new GatewayError('bad-request', `The ${field} field must be a date-time such as 2024-01-31T12:00:00Z (XEP-0082), not "${value.slice(0, 60)}".`);
  }
  return date;
}

const KNOWN_FIELDS = new Set(['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids']);

/** Reads a MAM query (its data form, RSM set and flip-page). Throws GatewayError for what it cannot serve. */
export function parseMamQuery(query: Element): MamQuery {
  const result: MamQuery = { max: MAM_DEFAULT_PAGE, flipPage: query.getChild('flip-page') !== undefined };
  if (query.attrs.queryid) result.queryId = query.attrs.queryid;
  if (query.attrs.node) throw new GatewayError('item-not-found', 'This archive has no nodes (pubsub archives are not served here).');

  const form = query.getChild('x', NS_DATA);
  if (form) {
    if (form.attrs.type !== undefined && form.attrs.type !== 'submit') {
      throw new GatewayError('bad-request', `The query form must be of type "submit", not "${form.attrs.type}".`);
    }
    for (const field of form.getChildren('field')) {
      const name = field.attrs.var ?? '';
      const values = field.getChildren('value').map((v) => v.text().trim());
      const value = values[0] ?? '';
      if (!KNOWN_FIELDS.has(name)) {
        throw new GatewayError('feature-not-implemented', `The query field "${name.slice(0, 60)}" is not supported; supported: with, start, end, before-id, after-id, ids.`);
      }
      if (name === 'FORM_TYPE') {
        if (value !== NS_MAM) throw new GatewayError('bad-request', `FORM_TYPE must be ${NS_MAM}.`);
        continue;
      }
      if (name === 'ids') {
        const ids = values.filter((v) => v !== '');
        if (ids.length > 0) result.ids = ids;
        continue;
      }
      if (value === '') continue;
      if (name === 'with') {
        try {
          parseJid(value);
        } catch {
          throw new GatewayError('jid-malformed', `The with field is not a valid JID: "${value.slice(0, 60)}".`);
        }
        result.with = value;
      } else if (name === 'start') result.start = parseDateTime('start', value);
      else if (name === 'end') result.end = parseDateTime('end', value);
      else if (name === 'before-id') result.beforeId = value;
      else if (name === 'after-id') result.afterId = value;
    }
  }

  const set = query.getChild('set', NS_RSM);
  if (set) {
    if (set.getChild('index')) throw new GatewayError('feature-not-implemented', 'Paging by index is not supported; page with <after/> and <before/>.');
    const max = set.getChild('max');
    if (max) {
      const text = max.text().trim();
      if (!/^\d{1,9}$/.test(text)) throw new GatewayError('bad-request', `RSM <max/> must be a non-negative integer, not "${text.slice(0, 20)}".`);
      result.max = Math.min(Number(text), MAM_MAX_PAGE);
    }
    const after = set.getChild('after');
    const before = set.getChild('before');
    if (after && before) throw new GatewayError('bad-request', 'RSM <after/> and <before/> together are undefined; use the before-id and after-id fields for a range.');
    if (after) {
      const id = after.text().trim();
      if (id === '') throw new GatewayError('bad-request', 'RSM <after/> needs an id.');
      result.after = id;
    }
    if (before) result.before = before.text().trim() || true;
  }
  return result;
}

/** The fields a client may use (XEP-0313 §4.1.4). */
export function mamForm(): Element {
  return xml(
    'x',
    { xmlns: NS_DATA, type: 'form' },
    xml('field', { type: 'hidden', var: 'FORM_TYPE' }, xml('value', {}, NS_MAM)),
    xml('field', { type: 'jid-single', var: 'with' }),
    xml('field', { type: 'text-single', var: 'start' }),
    xml('field', { type: 'text-single', var: 'end' }),
    xml('field', { type: 'text-single', var: 'before-id' }),
    xml('field', { type: 'text-single', var: 'after-id' }),
    xml(
      'field',
      { type: 'list-multi', var: 'ids' },
      xml('validate', { xmlns: 'http://jabber.org/protocol/xdata-validate', datatype: 'xs:string' }, xml('open')),
    ),
  );
}

/** Which archive an iq to `target` reads, or null for JIDs that hold none. */
export function archiveScope(
  target: Target,
  userJid: string,
  withJid: string | undefined,
): { scope: ArchiveScope; archiveJid: string } | { empty: true; archiveJid: string } | null {
  if (target.kind === 'room') {
    const scope: ArchiveScope = { userJid, network: target.gateway.name, kind: 'groupchat', conversation: target.bare };
    if (withJid !== undefined) {
      const jid = parseJid(withJid);
      if (jid.bare().toString().toLowerCase() !== target.bare.toLowerCase()) return { empty: true, archiveJid: target.bare };
      if (jid.resource) scope.nick = jid.resource;
    }
    return { scope, archiveJid: target.bare };
  }
  if (target.kind === 'gateway' && !target.resource) {
    const scope: ArchiveScope = { userJid, network: target.gateway.name, kind: 'chat' };
    if (withJid !== undefined) {
      const jid = parseJid(withJid);
      scope.conversation = jid.bare().toString().toLowerCase();
      if (jid.resource) scope.resource = jid.resource;
    }
    return { scope, archiveJid: target.gateway.domain };
  }
  return null;
}

/** An archived message as a client sees it: the inner message of a MAM result. */
export function archivedMessage(entry: ArchiveEntry, userJid: string): Element | null {
  if (!entry.content) return null;
  const content = entry.content as MessageContent;
  const peer = entry.resource ? `${entry.conversation}/${entry.resource}` : entry.conversation;
  if (entry.kind === 'groupchat') {
    const from = entry.nick ? `${entry.conversation}/${entry.nick}` : entry.conversation;
    // XEP-0313 §6.1.2: no 'to' on MUC archive results.
    return renderMessage({ xmlns: 'jabber:client', from, type: 'groupchat', id: entry.xmppId }, content);
  }
  const [from, to] = entry.outgoing ? [userJid, peer] : [peer, userJid];
  return renderMessage({ xmlns: 'jabber:client', from, to, type: 'chat', id: entry.xmppId }, content);
}

/** The time a MAM result's <delay/> gives. */
export function archivedAt(entry: ArchiveEntry): Date {
  return entry.sentAt && entry.sentAt < entry.at ? entry.sentAt : entry.at;
}

/** One result message of a query (XEP-0313 §4.2). */
export function resultMessage(args: { archiveJid: string; to: string; queryId?: string; entry: ArchiveEntry; userJid: string }): Element {
  const inner = archivedMessage(args.entry, args.userJid);
  return xml(
    'message',
    { from: args.archiveJid, to: args.to, id: randomUUID() },
    xml(
      'result',
      { xmlns: NS_MAM, queryid: args.queryId, id: args.entry.id },
      xml('forwarded', { xmlns: NS_FORWARD }, xml('delay', { xmlns: NS_DELAY, stamp: stamp(archivedAt(args.entry)) }), inner),
    ),
  );
}

/** The <fin/> closing a query. */
export function finElement(entries: readonly ArchiveEntry[], complete: boolean, count: number): Element {
  const first = entries[0];
  const last = entries[entries.length - 1];
  return xml(
    'fin',
    { xmlns: NS_MAM, complete: complete ? 'true' : undefined },
    xml(
      'set',
      { xmlns: NS_RSM },
      first ? xml('first', {}, first.id) : null,
      last ? xml('last', {}, last.id) : null,
      xml('count', {}, String(count)),
    ),
  );
}

function userOf(from: string): string {
  return parseJid(from).bare().toString().toLowerCase();
}

/** What a backfill did: how many messages it archived, and whether the network may have more before them. */
interface Backfill {
  archived: number;
  more: boolean;
}
const NOTHING: Backfill = { archived: 0, more: false };

/** Backfills in progress, per user and conversation: parallel queries share one (no message archived twice). */
const backfilling = new Map<string, Promise<Backfill>>();

/** The conversation a backfill fills: a room, or the one-to-one chat with a contact. */
interface BackfillTarget {
  gateway: GatewayDomain;
  address: NetworkAddress;
  /** The archive's conversation: the room's or the contact's bare JID. */
  conversation: string;
  kind: ArchiveScope['kind'];
  /** Groupchat: the user's nick (their own messages are outgoing). */
  nick?: string;
}

/**
 * The conversation a backward page may fill from the network: a room the
 * user is in (queried at its JID), or a contact of the queried gateway (the
 * `with` of a query to the gateway domain). Null for anything else.
 */
async function backfillTarget(context: XmppContext, to: string, withJid: string | undefined, scope: ArchiveScope, userJid: string): Promise<BackfillTarget | null> {
  const target = await context.addressing.resolve(to);
  if (!scope.conversation || !target.gateway.network.capabilities.has('history')) return null;
  if (scope.kind === 'groupchat') {
    if (target.kind !== 'room') return null;
    const room = context.core.session(target.gateway, userJid)?.room(target.address);
    if (!room || room.joining) return null;
    return { gateway: target.gateway, address: target.address, conversation: target.bare, kind: 'groupchat', nick: room.nick };
  }
  const gateway = target.gateway;
  if (withJid === undefined) return null;
  const contact = await context.addressing.resolve(parseJid(withJid).bare().toString()).catch(() => null);
  if (!contact || contact.kind !== 'contact' || contact.gateway !== gateway) return null;
  return { gateway, address: contact.address, conversation: contact.bare, kind: 'chat' };
}

/**
 * Asks the network for the messages before the oldest archived one of a
 * conversation (the most recent ones when none is archived) and archives
 * them before it (see the header). Never throws (the page is served from
 * what there is).
 */
async function backfill(context: XmppContext, target: BackfillTarget, userJid: string, scope: ArchiveScope, wanted: number): Promise<Backfill> {
  const session = context.core.session(target.gateway, userJid);
  const history = session?.remote.history?.bind(session.remote);
  if (!session || !history) return NOTHING;
  const key = `${userJid}\n${target.conversation.toLowerCase()}`;
  const running = backfilling.get(key);
  if (running) return running;
  const work = (async () => {
    try {
      const bounds = await context.store.archive.bounds(scope);
      const oldest = bounds?.first.networkIds[0];
      // An archived message without a network id gives no place to page back from.
      if (bounds && !oldest) return NOTHING;
      const cutoff = Date.now() - context.config.archive.retentionDays * DAY_MS;
      const limit = Math.min(wanted, MAM_MAX_PAGE);
      const older = await history(target.address, { ...(oldest ? { before: oldest } : {}), limit });
      // A full answer: there may be more before it (a short one reached the beginning).
      let more = older.length >= limit;
      let archived = 0;
      // Newest first: each prepend sorts before the one before it.
      for (const { nick, message } of [...older].reverse()) {
        if (message.timestamp && message.timestamp.getTime() < cutoff) {
          more = false; // past the retention: what is older would be pruned anyway
          break;
        }
        if (await context.store.archive.byNetworkId(userJid, target.conversation, message.id)) continue;
        const outgoing = message.own === true || (target.kind === 'groupchat' && nick === target.nick);
        await context.store.archive.prepend({
          userJid,
          network: target.gateway.name,
          kind: target.kind,
          conversation: target.conversation,
          outgoing,
          ...(target.kind === 'groupchat' ? { nick } : {}),
          networkIds: [message.id],
          content: contentFromIncoming(message) as Record<string, unknown>,
          ...(message.timestamp ? { sentAt: message.timestamp } : {}),
        });
        archived += 1;
      }
      return { archived, more };
    } catch (err) {
      context.log.info({ err: (err as Error).message, conversation: target.conversation }, 'archive: no older history from the network');
      return NOTHING;
    } finally {
      backfilling.delete(key);
    }
  })();
  backfilling.set(key, work);
  return work;
}

/** Whether a page warrants asking the network for older history: a backward page of a whole room or one-to-one chat that reached the archive's start. */
function reachedArchiveStart(query: MamQuery, scope: ArchiveScope, page: ArchivePage): boolean {
  return (
    query.before !== undefined &&
    page.complete &&
    page.entries.length < query.max &&
    scope.conversation !== undefined &&
    scope.nick === undefined &&
    (scope.resource === undefined || scope.resource === '') &&
    query.ids === undefined &&
    query.start === undefined &&
    query.afterId === undefined
  );
}

async function resolveArchive(context: XmppContext, to: string, from: string, withJid?: string) {
  if (!mamEnabled(context)) throw new GatewayError('service-unavailable', 'The gateway keeps no message archive (archive.enabled is off).');
  const target = await context.addressing.resolve(to);
  const resolved = archiveScope(target, userOf(from), withJid);
  if (!resolved) {
    const domain = target.gateway.domain;
    throw new GatewayError('service-unavailable', `${to} has no archive: query a room's JID for the room, or ${domain} with a "with" field for one-to-one chats.`);
  }
  return resolved;
}

/** Deletes what is older than archive.retentionDays; never throws. */
export async function pruneArchive(context: XmppContext, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - context.config.archive.retentionDays * DAY_MS);
  try {
    const removed = await context.store.archive.pruneOlderThan(cutoff);
    if (removed > 0) context.log.info({ removed, cutoff }, 'archive: pruned messages past the retention');
    return removed;
  } catch (err) {
    context.log.warn({ err: (err as Error).message }, 'archive: pruning failed; will retry');
    return 0;
  }
}

function startRetention(context: XmppContext): void {
  void pruneArchive(context);
  const timer = setInterval(() => {
    // The store closes with ponte; a timer of a stopped instance ends here.
    if (!context.store.dataSource.isInitialized) {
      clearInterval(timer);
      return;
    }
    void pruneArchive(context);
  }, PRUNE_INTERVAL_MS);
  timer.unref();
}

export const registerMam: XmppModule = (context) => {
  for (const gateway of context.core.domains) registerFor(context, gateway);
  startRetention(context);
};

function registerFor(context: XmppContext, gateway: GatewayDomain): void {
  const { router } = context;

  router.onIq(gateway.domain, 'get', NS_MAM, 'query', async (iq) => {
    await resolveArchive(context, iq.to, iq.from);
    return xml('query', { xmlns: NS_MAM }, mamForm());
  });

  router.onIq(gateway.domain, 'get', NS_MAM, 'metadata', async (iq) => {
    const resolved = await resolveArchive(context, iq.to, iq.from);
    const bounds = 'scope' in resolved ? await context.store.archive.bounds(resolved.scope) : null;
    return xml(
      'metadata',
      { xmlns: NS_MAM },
      bounds ? xml('start', { id: bounds.first.id, timestamp: stamp(bounds.first.at) }) : null,
      bounds ? xml('end', { id: bounds.last.id, timestamp: stamp(bounds.last.at) }) : null,
    );
  });

  router.onIq(gateway.domain, 'set', NS_MAM, 'query', async (iq) => {
    const query = parseMamQuery(iq.payload);
    const resolved = await resolveArchive(context, iq.to, iq.from, query.with);
    if (!('scope' in resolved)) return finElement([], true, 0);
    const userJid = userOf(iq.from);
    const read = () =>
      context.store.archive.query(resolved.scope, {
        start: query.start,
        end: query.end,
        afterId: query.afterId,
        beforeId: query.beforeId,
        ids: query.ids,
        after: query.after,
        before: query.before,
        max: query.max,
      });
    let page = await read();
    if (reachedArchiveStart(query, resolved.scope, page)) {
      const target = await backfillTarget(context, iq.to, query.with, resolved.scope, userJid);
      const filled = target ? await backfill(context, target, userJid, resolved.scope, query.max - page.entries.length) : NOTHING;
      if (filled.archived > 0) page = await read();
      // The archive's start is not the conversation's: a client keeps paging back while the network may have more.
      if (filled.more) page = { ...page, complete: false };
    }
    const ordered = query.flipPage ? [...page.entries].reverse() : page.entries;
    // Results first, in order, then the iq result (XEP-0313 §4).
    const sendResult = iq.sendBeforeReply ?? context.send;
    for (const entry of ordered) {
      await sendResult(resultMessage({ archiveJid: resolved.archiveJid, to: iq.from, queryId: query.queryId, entry, userJid }));
    }
    // first/last name the page in archive order, flipped or not.
    return finElement(page.entries, page.complete, page.count);
  });
}
