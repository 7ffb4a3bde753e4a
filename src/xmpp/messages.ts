// Messages both ways: chat (contacts, network servers, private messages to
// room occupants), groupchat (called by the MUC module), and what the network
// reports (room and direct messages, notices, chat states, corrections,
// retractions, reactions, read markers). Stanzas are read and built by
// message-codec.ts; every message with content is archived (store.archive)
// BEFORE it is sent, and the archive row's id is its XEP-0359 stanza-id, so
// the id survives restarts and MAM returns the same one.
//
// Decisions:
// - stanza-id: `by` is the archive that holds the id: the room for
//   groupchat, the gateway domain for one-to-one (that is where MAM finds
//   them; a `by` of the user's bare JID would also be stripped by the user's
//   own server as a spoof, XEP-0359 §7). Chat states, markers and receipts
//   are not archived and carry none: a stanza-id promises a MAM entry.
// - Ids: what the network calls a message lives in its archive row next to
//   the XMPP ids (stanza-id, id attribute, origin-id), so a reference from
//   XMPP (XEP-0308 uses the id attribute; XEP-0424/0444/0461/0333 use the
//   stanza-id in rooms and the origin-id or id in chats) finds the network
//   ids, and a network reference finds the id XMPP clients expect. Messages
//   from others are sent with id = stanza-id, so every style matches.
// - The user's groupchat message is reflected to every joined resource with
//   the client's id and origin-id only after the network accepted it; a
//   refusal is an error to the sending resource (same id, the network's
//   condition and text) and no reflection. Chat messages are not reflected
//   (the user's own server does carbons); a XEP-0184 request gets a receipt
//   once the network accepted the message.
// - A feature the network lacks: corrections fall back to a new message
//   "* corrected text" (the client still shows its edit); a reply keeps the
//   client's quote in the body; an attachment is its URL in the body; chat
//   states and displayed markers are hints, silently not passed on (never an
//   error: that would be noise, nothing is lost); retractions and reactions
//   get feature-not-implemented (a text saying "I retracted" or a lone emoji
//   out of context would mislead more than it helps).
// - Bodies: at most 64 KiB (UTF-8) or policy-violation. A message with no
//   body, attachment or known payload (an empty body, a receipt from the
//   user's client) is ignored: there is nothing to pass on and RFC 6121 lets
//   a recipient drop what it does not handle.
// - A message to the gateway domain itself gets a short help text in return
//   (what the addresses look like), not an error; one without a body
//   (typing, markers) gets nothing.
// - Notices from the network are type 'chat' from the gateway domain, the
//   network server or the contact (as biboumi does): they land in a
//   conversation the user can answer; headlines are hidden by many clients.
// - The user's own messages sent from elsewhere on the network (another
//   client of theirs): in a room, shown as from their nick; in a one-to-one
//   chat, a XEP-0356 privileged message where the user's server granted
//   "message outgoing" (their server then carbons and archives it as theirs;
//   when it comes back to us it is recognised by its id and not sent again),
//   else a message from the contact prefixed "[you] ". An echo of what
//   ponte itself sent (IncomingMessage.xmppId) is dropped.
// - XEP-0393 styling: bodies pass through as text. The disco module
//   advertises the features above from the network's capabilities.
// - Order: the network events of one conversation, and the user's messages to
//   one conversation, are each handled one at a time, in order.
import { randomUUID } from 'node:crypto';
import type { GatewayDomain } from '../core/core.js';
import { GatewayError } from '../core/errors.js';
import type { ChatState, IncomingMessage, OutgoingMessage, SentReceipt } from '../core/message.js';
import type { RoomState } from '../core/rooms.js';
import type { Session } from '../core/sessions.js';
import type { Capability, NetworkAddress } from '../networks/types.js';
import type { ArchivedMessage, ArchiveEntry, ArchiveKind, NewArchiveEntry } from '../store/repositories/archive.js';
import type { Target } from './addressing.js';
import type { XmppContext, XmppModule } from './context.js';
import { mamEnabled } from './mam.js';
import {
  bodyIsFallbackFor,
  contentFromIncoming,
  fallbackText,
  NS_MESSAGE,
  parseMessage,
  renderMessage,
  RETRACTION_FALLBACK,
  splitAction,
  stamp,
  stripFallback,
  type Envelope,
  type MessageContent,
  type ParsedMessage,
} from './message-codec.js';
import { handleDirectInvite } from './muc.js';
import { OwnIds } from './own-ids.js';
import { privilegesOf } from './privilege.js';
import type { InboundStanza } from './router.js';
import { parseJid, xml, type Element } from './stanza.js';

/** The largest body passed to a network, in UTF-8 bytes. */
export const MAX_BODY_BYTES = 64 * 1024;
/** A network timestamp older than this is shown with a XEP-0203 delay. */
const DELAY_THRESHOLD_MS = 5_000;

// --- per-gateway state ------------------------------------------------------------

/** Runs tasks one at a time per key, in the order they were queued. */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

interface State {
  outgoing: KeyedQueue;
  incoming: KeyedQueue;
  /** Client ids of messages being sent right now (user, conversation, id): their network echo is not shown again. */
  sending: Set<string>;
  /** Per session: which client ids the user's latest own messages had (own-ids.ts). */
  ownIds: WeakMap<Session, OwnIds>;
}

const states = new WeakMap<XmppContext['store'], State>();

function stateOf(context: XmppContext): State {
  let state = states.get(context.store);
  if (!state) {
    state = { outgoing: new KeyedQueue(), incoming: new KeyedQueue(), sending: new Set(), ownIds: new WeakMap() };
    states.set(context.store, state);
  }
  return state;
}

const key = (...parts: string[]) => parts.join('\n');

// --- conversations -----------------------------------------------------------------

/** One conversation of one user, with what the XMPP and network sides call it. */
interface Conversation {
  kind: ArchiveKind;
  gateway: GatewayDomain;
  session: Session;
  /** Bare JID of the room or peer, as sent. */
  jid: string;
  /** Occupant nick of a private message through a room ('' otherwise). */
  resource: string;
  /** Where corrections, retractions, reactions, chat states and markers go; null where the network has no address for them. */
  address: NetworkAddress | null;
  room?: RoomState;
  /** XEP-0359 `by`: the archive holding this conversation. */
  archiveJid: string;
}

/** The JID of the peer of a chat conversation (room/nick for a private message). */
function peerJid(conversation: Conversation): string {
  return conversation.resource ? `${conversation.jid}/${conversation.resource}` : conversation.jid;
}

function has(conversation: Conversation, capability: Capability): boolean {
  return conversation.gateway.network.capabilities.has(capability);
}

/** A user's reference to a message (any of its XMPP ids) to the archived message; null if unknown. */
function findByReference(context: XmppContext, conversation: Conversation, reference: string): Promise<ArchiveEntry | null> {
  return context.store.archive.byReference(conversation.session.userJid, conversation.jid, reference);
}

/** The id an XMPP client uses to point at an archived message in this conversation. */
function referenceTo(conversation: Conversation, entry: ArchivedMessage): string {
  return conversation.kind === 'groupchat' ? entry.id : (entry.originId ?? entry.xmppId);
}

function isPast(timestamp: Date | undefined): timestamp is Date {
  return timestamp !== undefined && Date.now() - timestamp.getTime() > DELAY_THRESHOLD_MS;
}

/** Strips what must not be kept when the admin turned the archive's text off (ids stay). */
function archivable(context: XmppContext, content: MessageContent): MessageContent {
  if (mamEnabled(context)) return content;
  const { replace, retract, reply, originId } = content;
  return {
    ...(replace ? { replace } : {}),
    ...(retract ? { retract } : {}),
    ...(reply ? { reply } : {}),
    ...(originId ? { originId } : {}),
  };
}

function ownIdsOf(context: XmppContext, session: Session): OwnIds {
  const { ownIds } = stateOf(context);
  let ids = ownIds.get(session);
  if (!ids) ownIds.set(session, (ids = new OwnIds()));
  return ids;
}

/**
 * The user's own archived message with this client id, if any (the resend
 * check). The session's index of recent own ids answers most checks without
 * the store: only a probable resend is looked up.
 */
async function ownMessage(context: XmppContext, conversation: Conversation, clientId: string): Promise<ArchiveEntry | null> {
  const { userJid } = conversation.session;
  const { archive: store } = context.store;
  const known = await ownIdsOf(context, conversation.session).mayHave(conversation.jid.toLowerCase(), clientId, (limit) =>
    store.recentOwnClientIds(userJid, conversation.jid, limit),
  );
  return known ? store.ownMessage(userJid, conversation.jid, clientId) : null;
}

async function archive(
  context: XmppContext,
  conversation: Conversation,
  entry: Omit<NewArchiveEntry, 'userJid' | 'network' | 'kind' | 'conversation' | 'resource' | 'content'> & { content: MessageContent },
): Promise<ArchivedMessage> {
  const stored = await context.store.archive.append({
    ...entry,
    userJid: conversation.session.userJid,
    network: conversation.gateway.name,
    kind: conversation.kind,
    conversation: conversation.jid,
    resource: conversation.resource,
    content: archivable(context, entry.content) as Record<string, unknown>,
  });
  if (stored.outgoing) ownIdsOf(context, conversation.session).remember(stored.conversation, [stored.xmppId, stored.originId]);
  return stored;
}

function send(context: XmppContext, elements: readonly Element[]): Promise<void> {
  return Promise.all(
    elements.map((element) =>
      context.send(element).catch((err: Error) => context.log.warn({ err: err.message, to: element.attrs.to }, 'message not sent')),
    ),
  ).then(() => undefined);
}

// --- from the user ---------------------------------------------------------------

/** How one conversation's messages reach the network. */
interface Route {
  conversation: Conversation;
  deliver(message: OutgoingMessage): Promise<SentReceipt>;
  /** The resources that see the user's own messages (groupchat reflection); none for chats. */
  reflectTo: readonly string[];
  /** The address the user wrote to (the `from` of receipts and errors). */
  addressedTo: string;
}

function checkBody(body: string): void {
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_BODY_BYTES) {
    throw new GatewayError(
      'policy-violation',
      `The message is ${Math.ceil(bytes / 1024)} KiB; the gateway passes on at most ${MAX_BODY_BYTES / 1024} KiB. Split it, or share it as a file.`,
    );
  }
}

/** The network method behind a capability, or feature-not-implemented saying what is missing. */
function requireMethod<K extends 'correct' | 'retract' | 'react'>(
  conversation: Conversation,
  capability: Capability,
  method: K,
  what: string,
): { address: NetworkAddress; call: NonNullable<Session['remote'][K]> } {
  const remote = conversation.session.remote;
  const fn = remote[method];
  if (!has(conversation, capability) || typeof fn !== 'function') {
    throw new GatewayError('feature-not-implemented', `${conversation.gateway.network.displayName} does not support ${what}.`);
  }
  if (!conversation.address) {
    throw new GatewayError('feature-not-implemented', `${what[0]!.toUpperCase()}${what.slice(1)} cannot be passed on in this conversation.`);
  }
  return { address: conversation.address, call: (fn as (...args: unknown[]) => unknown).bind(remote) as NonNullable<Session['remote'][K]> };
}

/** Finds the user's own message a correction or retraction points at. */
async function ownTarget(context: XmppContext, conversation: Conversation, reference: string, what: string): Promise<ArchiveEntry> {
  const target = await findByReference(context, conversation, reference);
  if (!target) {
    throw new GatewayError('item-not-found', `The gateway does not know the message you want to ${what} (too old, or not sent through it).`);
  }
  if (!target.outgoing) throw new GatewayError('not-allowed', `You can only ${what} your own messages.`);
  return target;
}

/** What the user's own message looks like when reflected and archived: as they sent it. */
function ownContent(parsed: ParsedMessage, body: string | undefined): MessageContent {
  const content: MessageContent = {};
  if (body !== undefined) content.body = body;
  if (parsed.originId) content.originId = parsed.originId;
  if (parsed.replace) content.replace = parsed.replace;
  if (parsed.reply) content.reply = parsed.reply;
  if (parsed.fallbacks.length > 0) content.fallbacks = parsed.fallbacks;
  if (parsed.attachments.length > 0) content.attachments = parsed.attachments;
  return content;
}

/** Sends the reflection of the user's own groupchat message to every resource in the room. */
function reflect(context: XmppContext, route: Route, entry: ArchivedMessage, id: string, content: MessageContent): Promise<void> {
  const { conversation } = route;
  const room = conversation.room;
  if (!room || route.reflectTo.length === 0) return Promise.resolve();
  return send(
    context,
    route.reflectTo.map((to) =>
      renderMessage(
        { from: `${room.jid}/${room.nick}`, to, type: 'groupchat', id, stanzaId: { id: entry.id, by: room.jid } },
        content,
      ),
    ),
  );
}

async function sendReceipt(context: XmppContext, stanza: InboundStanza, route: Route, parsed: ParsedMessage): Promise<void> {
  if (!parsed.receiptRequest || !parsed.id || route.conversation.kind === 'groupchat') return;
  await send(context, [renderMessage({ from: route.addressedTo, to: stanza.from, type: 'chat', id: randomUUID() }, { receipt: parsed.id })]);
}

/** Handles one message from the user, whatever the conversation. */
async function fromUser(context: XmppContext, stanza: InboundStanza, route: Route): Promise<void> {
  const { conversation } = route;
  const parsed = parseMessage(stanza.stanza);
  const log = context.log.child({ user: conversation.session.userJid, to: route.addressedTo });
  const body = parsed.body ?? '';
  const hasContent = body.trim() !== '' || parsed.attachments.length > 0;

  if (hasContent || parsed.retract || parsed.reactions) {
    // Already passed on (a client's resend, or our own privileged copy coming back): once is enough.
    const clientId = parsed.originId ?? parsed.id;
    const done = clientId ? await ownMessage(context, conversation, clientId) : null;
    if (done) {
      log.debug({ id: clientId }, 'message already passed on; not sent again');
      if (done.content) await reflect(context, route, done, done.xmppId, done.content as MessageContent);
      await sendReceipt(context, stanza, route, parsed);
      return;
    }
    if (parsed.retract) return retractFromUser(context, route, parsed, parsed.retract);
    if (parsed.reactions) return reactFromUser(context, route, parsed, parsed.reactions);
    checkBody(body);
    if (parsed.replace) await correctFromUser(context, stanza, route, parsed, parsed.replace, body);
    else await sendFromUser(context, stanza, route, parsed, body);
  } else if (parsed.chatState) {
    await chatStateFromUser(context, conversation, parsed.chatState, log);
  }
  if (parsed.displayed) await displayedFromUser(context, conversation, parsed.displayed, log);
  if (!hasContent && !parsed.retract && !parsed.reactions && !parsed.chatState && !parsed.displayed) {
    log.debug({ id: parsed.id }, 'message with nothing to pass on ignored');
  }
}

/** The resource of a JID the client gave, if it is one. */
function resourceOf(address: string | undefined): string | undefined {
  if (!address) return undefined;
  try {
    return parseJid(address).resource || undefined;
  } catch {
    return undefined;
  }
}

/** The text, action flag, reply and attachments of the user's message as the network gets them. */
async function outgoingFrom(
  context: XmppContext,
  conversation: Conversation,
  parsed: ParsedMessage,
  body: string,
  clientId: string,
): Promise<OutgoingMessage> {
  let text = body;
  let replyTo: OutgoingMessage['replyTo'];
  if (parsed.reply && has(conversation, 'replies')) {
    const target = await findByReference(context, conversation, parsed.reply.id);
    if (target && target.networkIds.length > 0) {
      const quoted = fallbackText(body, parsed.fallbacks, NS_MESSAGE.reply);
      const nick = target.nick || resourceOf(parsed.reply.to);
      replyTo = { id: target.networkIds[0]!, ...(nick ? { nick } : {}), ...(quoted ? { quote: quoted } : {}) };
      text = stripFallback(body, parsed.fallbacks, NS_MESSAGE.reply);
    }
    // A reply to something the gateway does not know keeps the client's quote: still readable.
  }
  const { text: plain, action } = splitAction(text);
  text = plain;
  let attachments: OutgoingMessage['attachments'];
  if (parsed.attachments.length > 0) {
    const urls = parsed.attachments.map((a) => a.url);
    if (has(conversation, 'attachments')) {
      attachments = parsed.attachments;
      // Clients put the URL alone in the body for clients without OOB: it is the attachment, not text.
      if (urls.includes(text.trim()) || text.trim() === urls.join('\n')) text = '';
    } else if (text.trim() === '') {
      text = urls.join('\n');
    }
  }
  return {
    xmppId: clientId,
    body: text,
    ...(action ? { action } : {}),
    ...(replyTo ? { replyTo } : {}),
    ...(attachments ? { attachments } : {}),
  };
}

/** Runs a network call for a message of the user, remembering its client id while in flight (to recognise its echo). */
async function tracked<T>(context: XmppContext, conversation: Conversation, xmppId: string, work: () => Promise<T>): Promise<T> {
  const { sending } = stateOf(context);
  const flight = key(conversation.session.userJid, conversation.jid.toLowerCase(), xmppId);
  sending.add(flight);
  try {
    return await work();
  } finally {
    sending.delete(flight);
  }
}

function deliverTracked(context: XmppContext, route: Route, message: OutgoingMessage): Promise<SentReceipt> {
  return tracked(context, route.conversation, message.xmppId, () => route.deliver(message));
}

/** After the network accepted the user's message: archive it (its stanza-id), reflect it, send the receipt. */
async function archiveAndReflect(
  context: XmppContext,
  stanza: InboundStanza,
  route: Route,
  parsed: ParsedMessage,
  body: string,
  clientId: string,
  receipt: SentReceipt,
): Promise<void> {
  const { conversation } = route;
  const id = parsed.id ?? clientId;
  const content = ownContent(parsed, body);
  const entry = await archive(context, conversation, {
    outgoing: true,
    nick: conversation.room?.nick,
    xmppId: id,
    originId: parsed.originId,
    networkIds: receipt.ids,
    content,
    sentAt: receipt.timestamp,
  });
  await reflect(context, route, entry, id, content);
  await sendReceipt(context, stanza, route, parsed);
}

async function sendFromUser(context: XmppContext, stanza: InboundStanza, route: Route, parsed: ParsedMessage, body: string): Promise<void> {
  const { conversation } = route;
  const clientId = parsed.originId ?? parsed.id ?? randomUUID();
  const outgoing = await outgoingFrom(context, conversation, parsed, body, clientId);
  const receipt = await deliverTracked(context, route, outgoing);
  await archiveAndReflect(context, stanza, route, parsed, body, clientId, receipt);
}

async function correctFromUser(
  context: XmppContext,
  stanza: InboundStanza,
  route: Route,
  parsed: ParsedMessage,
  replaceId: string,
  body: string,
): Promise<void> {
  const { conversation } = route;
  const clientId = parsed.originId ?? parsed.id ?? randomUUID();
  const remote = conversation.session.remote;
  const canCorrect = has(conversation, 'corrections') && typeof remote.correct === 'function' && conversation.address !== null;
  let receipt: SentReceipt;
  if (canCorrect) {
    const target = await ownTarget(context, conversation, replaceId, 'correct');
    if (target.networkIds.length === 0) throw new GatewayError('item-not-found', 'The network gave no id for the message you want to correct.');
    const outgoing = await outgoingFrom(context, conversation, parsed, body, clientId);
    receipt = await tracked(context, conversation, clientId, () => remote.correct!(conversation.address!, target.networkIds, outgoing));
  } else {
    // Readable fallback: the corrected text as a new message, marked the way IRC users mark corrections.
    const outgoing = await outgoingFrom(context, conversation, parsed, body, clientId);
    receipt = await deliverTracked(context, route, { ...outgoing, body: `* ${outgoing.body}` });
  }
  await archiveAndReflect(context, stanza, route, parsed, body, clientId, receipt);
}

async function retractFromUser(context: XmppContext, route: Route, parsed: ParsedMessage, reference: string): Promise<void> {
  const { conversation } = route;
  const { address, call } = requireMethod(conversation, 'retractions', 'retract', 'retracting messages');
  const target = await ownTarget(context, conversation, reference, 'retract');
  if (target.networkIds.length === 0) throw new GatewayError('item-not-found', 'The network gave no id for the message you want to retract.');
  await call(address, target.networkIds);
  await context.store.archive.replaceContent(target.id, {
    retracted: { stamp: stamp(new Date()) },
    ...(target.originId ? { originId: target.originId } : {}),
  });
  const id = parsed.id ?? randomUUID();
  const content: MessageContent = {
    retract: reference,
    fallbacks: [{ for: NS_MESSAGE.retraction }],
    body: parsed.body && bodyIsFallbackFor(parsed.fallbacks, NS_MESSAGE.retraction) ? parsed.body : RETRACTION_FALLBACK,
    store: true,
    ...(parsed.originId ? { originId: parsed.originId } : {}),
  };
  const entry = await archive(context, conversation, { outgoing: true, nick: conversation.room?.nick, xmppId: id, originId: parsed.originId, content });
  await reflect(context, route, entry, id, content);
}

async function reactFromUser(
  context: XmppContext,
  route: Route,
  parsed: ParsedMessage,
  reactions: { id: string; emojis: string[] },
): Promise<void> {
  const { conversation } = route;
  const { address, call } = requireMethod(conversation, 'reactions', 'react', 'reactions');
  const target = await findByReference(context, conversation, reactions.id);
  if (!target || target.networkIds.length === 0) {
    throw new GatewayError('item-not-found', 'The gateway does not know the message you reacted to (too old, or not sent through it).');
  }
  await call(address, target.networkIds[0]!, reactions.emojis, parsed.id);
  const id = parsed.id ?? randomUUID();
  const content: MessageContent = { reactions, store: true, ...(parsed.originId ? { originId: parsed.originId } : {}) };
  const entry = await archive(context, conversation, { outgoing: true, nick: conversation.room?.nick, xmppId: id, originId: parsed.originId, content });
  await reflect(context, route, entry, id, content);
}

async function chatStateFromUser(
  context: XmppContext,
  conversation: Conversation,
  state: ChatState,
  log: XmppContext['log'],
): Promise<void> {
  const remote = conversation.session.remote;
  if (!has(conversation, 'chat-states') || typeof remote.setChatState !== 'function' || !conversation.address) {
    log.debug({ state }, 'chat state not passed on: the network has no chat states');
    return;
  }
  // A typing notification that fails is not worth an error to the user.
  await remote.setChatState(conversation.address, state).catch((err: Error) => log.debug({ err: err.message }, 'chat state not sent'));
}

async function displayedFromUser(context: XmppContext, conversation: Conversation, reference: string, log: XmppContext['log']): Promise<void> {
  const remote = conversation.session.remote;
  if (!has(conversation, 'displayed-markers') || typeof remote.markDisplayed !== 'function' || !conversation.address) {
    log.debug('displayed marker not passed on: the network has no read markers');
    return;
  }
  const target = await findByReference(context, conversation, reference);
  const networkId = target?.networkIds[target.networkIds.length - 1];
  if (!networkId) {
    log.debug({ reference }, 'displayed marker for a message the gateway does not know');
    return;
  }
  await remote.markDisplayed(conversation.address, networkId).catch((err: Error) => log.debug({ err: err.message }, 'marker not sent'));
}

/**
 * A groupchat message from one of the user's resources to a room they are in
 * (called by the MUC module for anything that is not a subject change or an
 * invitation): text, corrections, retractions, reactions, chat states, ...
 */
export async function handleGroupchatMessage(
  context: XmppContext,
  stanza: InboundStanza,
  target: Extract<Target, { kind: 'room' }>,
  session: Session,
  room: RoomState,
): Promise<void> {
  const conversation: Conversation = {
    kind: 'groupchat',
    gateway: target.gateway,
    session,
    jid: room.jid,
    resource: '',
    address: room.address,
    room,
    archiveJid: room.jid,
  };
  const route: Route = {
    conversation,
    deliver: (message) => session.remote.send(room.address, message),
    get reflectTo() {
      return [...room.resources];
    },
    addressedTo: room.jid,
  };
  await stateOf(context).outgoing.run(key(session.userJid, room.jid.toLowerCase()), () => fromUser(context, stanza, route));
}

/** Whether the message asks for nothing that needs a network session (typing, markers, nothing at all). */
function onlyHints(stanza: Element): boolean {
  const parsed = parseMessage(stanza);
  return (parsed.body ?? '').trim() === '' && parsed.attachments.length === 0 && !parsed.retract && !parsed.reactions;
}

/** Messages to contacts, network servers, room occupants and the gateway itself. */
async function onMessage(context: XmppContext, stanza: InboundStanza, target: Target): Promise<void> {
  if (stanza.type === 'error') {
    // Our message bounced at the user's side; never answer an error (RFC 6120 §8.3.1).
    context.log.debug({ from: stanza.from, to: stanza.to }, 'message error from the user side');
    return;
  }
  if (target.kind === 'gateway') return toGateway(context, stanza, target);
  if (stanza.type === 'groupchat') {
    throw new GatewayError('bad-request', `${stanza.to} is not a room; send it type "chat".`);
  }
  if (target.kind === 'contact' && stanza.stanza.getChild('x', NS_MESSAGE.directInvite)) {
    return handleDirectInvite(context, stanza, target);
  }
  const { gateway } = target;
  // Typing and markers need no login: without a session they have nowhere to go.
  const session = onlyHints(stanza.stanza)
    ? context.core.session(gateway, stanza.from)
    : await context.core.openSession(gateway, stanza.from);
  if (!session?.loggedIn) {
    context.log.debug({ to: stanza.to }, 'hint without a session ignored');
    return;
  }
  const route = routeFor(context, stanza, target, session);
  await stateOf(context).outgoing.run(key(session.userJid, route.conversation.jid.toLowerCase(), route.conversation.resource), () =>
    fromUser(context, stanza, route),
  );
}

function routeFor(context: XmppContext, stanza: InboundStanza, target: Target, session: Session): Route {
  const { gateway } = target;
  const network = gateway.network;
  if (target.kind === 'contact') {
    const conversation: Conversation = {
      kind: 'chat',
      gateway,
      session,
      jid: target.bare,
      resource: '',
      address: target.address,
      archiveJid: gateway.domain,
    };
    return {
      conversation,
      deliver: (message) => {
        if (!network.capabilities.has('contacts')) {
          throw new GatewayError('feature-not-implemented', `${network.displayName} has no one-to-one chats.`);
        }
        return session.remote.send(target.address, message);
      },
      reflectTo: [],
      addressedTo: stanza.to,
    };
  }
  if (target.kind === 'server') {
    // IRC sends it as a raw line; corrections and the like have no meaning there.
    const conversation: Conversation = { kind: 'chat', gateway, session, jid: target.bare, resource: '', address: null, archiveJid: gateway.domain };
    return { conversation, deliver: (message) => session.remote.send(target.address, message), reflectTo: [], addressedTo: stanza.to };
  }
  if (target.kind === 'occupant') {
    const room = session.room(target.address);
    if (!room || room.joining || !room.resources.has(stanza.from)) {
      throw new GatewayError('not-acceptable', `You are not in ${target.bare}; join it to write to its occupants.`);
    }
    const conversation: Conversation = {
      kind: 'chat',
      gateway,
      session,
      jid: room.jid,
      resource: target.nick,
      address: room.participants.get(target.nick)?.contact ?? null,
      room,
      archiveJid: gateway.domain,
    };
    return {
      conversation,
      deliver: (message) => {
        const sendPrivate = session.remote.sendPrivate;
        if (!network.capabilities.has('private-messages') || typeof sendPrivate !== 'function') {
          throw new GatewayError('feature-not-implemented', `${network.displayName} has no private messages to room occupants.`);
        }
        return sendPrivate.call(session.remote, room.address, target.nick, message);
      },
      reflectTo: [],
      addressedTo: stanza.to,
    };
  }
  throw new GatewayError('service-unavailable', `${stanza.to} does not accept messages.`);
}

/** The help text a message to the gateway domain gets. */
export function gatewayHelp(gateway: GatewayDomain): string {
  const domain = gateway.domain;
  const lines = [
    `This is ${gateway.network.displayName}, an XMPP gateway (ponte). It does not read messages sent to ${domain} itself.`,
    `Write to people as contacts and join rooms as group chats, at addresses of the form <name>%<network server>@${domain}`,
  ];
  if (gateway.network.capabilities.has('rooms')) lines.push(`(a room: #room%server@${domain}, with your nick as the resource).`);
  lines.push(`Settings and status are in the ad-hoc commands of ${domain}; registration (if needed) through your client's "register".`);
  return lines.join('\n');
}

async function toGateway(context: XmppContext, stanza: InboundStanza, target: Extract<Target, { kind: 'gateway' }>): Promise<void> {
  const parsed = parseMessage(stanza.stanza);
  if ((parsed.body ?? '').trim() === '') return; // typing, markers, receipts: nothing to answer
  await send(context, [
    renderMessage({ from: target.gateway.domain, to: stanza.from, type: 'chat', id: randomUUID() }, { body: gatewayHelp(target.gateway) }),
  ]);
}

// --- from the network ------------------------------------------------------------

/** Runs a network event of one conversation in order; failures are logged, never thrown into the emitter. */
function incoming(context: XmppContext, session: Session, conversationKey: string, event: string, work: () => Promise<void>): void {
  stateOf(context)
    .incoming.run(key(session.userJid, conversationKey), work)
    .catch((err: Error) => context.log.warn({ err: err.message, user: session.userJid, event }, 'network event not shown'));
}

/** Runs now, or once the room's join is done (the MUC module applies deferred events after the join sequence). */
function whenJoined(room: RoomState, run: () => void): void {
  if (room.joining) room.deferred.push(run);
  else run();
}

async function roomConversation(context: XmppContext, session: Session, address: NetworkAddress): Promise<Conversation | null> {
  const gateway = context.core.gateway(session.domain);
  const room = session.room(address);
  if (!gateway || !room) return null;
  return { kind: 'groupchat', gateway, session, jid: room.jid, resource: '', address, room, archiveJid: room.jid };
}

async function contactConversation(context: XmppContext, session: Session, address: NetworkAddress | null): Promise<Conversation | null> {
  const gateway = context.core.gateway(session.domain);
  if (!gateway) return null;
  const jid = address ? await context.addressing.jid(gateway, address) : gateway.domain;
  return { kind: 'chat', gateway, session, jid, resource: '', address, archiveJid: gateway.domain };
}

/** Whether an own message from the network is the echo of one ponte sent for the user. */
async function isEcho(context: XmppContext, conversation: Conversation, message: IncomingMessage): Promise<boolean> {
  if (!message.own || !message.xmppId) return false;
  const flight = key(conversation.session.userJid, conversation.jid.toLowerCase(), message.xmppId);
  if (stateOf(context).sending.has(flight)) return true;
  return (await ownMessage(context, conversation, message.xmppId)) !== null;
}

/** The XEP-0461 reply a network message carries, pointing at the archived original. */
async function replyFor(
  context: XmppContext,
  conversation: Conversation,
  message: IncomingMessage,
): Promise<{ id: string; to?: string; quoted?: string } | undefined> {
  if (!message.replyTo) return undefined;
  const original = await context.store.archive.byNetworkId(conversation.session.userJid, conversation.jid, message.replyTo.id);
  if (!original) return undefined;
  let to: string;
  if (conversation.kind === 'groupchat') to = original.nick ? `${conversation.jid}/${original.nick}` : conversation.jid;
  else to = original.outgoing ? conversation.session.userJid : peerJid(conversation);
  const content = original.content as MessageContent | null;
  const body = content?.body;
  const quoted = body !== undefined ? stripFallback(body, content?.fallbacks ?? [], NS_MESSAGE.reply) : undefined;
  return { id: referenceTo(conversation, original), to, ...(quoted ? { quoted } : {}) };
}

/** Sends `content` to the user in a conversation: to every joined resource in a room, to the bare JID otherwise. */
function toUser(
  context: XmppContext,
  conversation: Conversation,
  fromNick: string | undefined,
  content: MessageContent,
  options: { id?: string; entry?: ArchivedMessage; timestamp?: Date } = {},
): Promise<void> {
  const id = options.entry?.xmppId ?? options.id ?? randomUUID();
  const stanzaId = options.entry ? { id: options.entry.id, by: conversation.archiveJid } : undefined;
  const delay = isPast(options.timestamp) ? { stamp: options.timestamp, from: conversation.archiveJid } : undefined;
  const base: Omit<Envelope, 'to' | 'from'> = {
    type: conversation.kind,
    id,
    ...(stanzaId ? { stanzaId } : {}),
    ...(delay ? { delay } : {}),
  };
  if (conversation.kind === 'groupchat') {
    const room = conversation.room!;
    const from = fromNick ? `${room.jid}/${fromNick}` : room.jid;
    return send(context, [...room.resources].map((to) => renderMessage({ ...base, from, to }, content)));
  }
  // A private message through a room goes to the resources in that room (XEP-0045 §7.5), else to the bare JID.
  const resources = conversation.resource && conversation.room ? [...conversation.room.resources] : [];
  const recipients = resources.length > 0 ? resources : [conversation.session.userJid];
  return send(context, recipients.map((to) => renderMessage({ ...base, from: peerJid(conversation), to }, content)));
}

async function onNetworkMessage(
  context: XmppContext,
  conversation: Conversation,
  nick: string | undefined,
  message: IncomingMessage,
): Promise<void> {
  if (await isEcho(context, conversation, message)) return;
  const own = message.own === true;
  const reply = await replyFor(context, conversation, message);
  const markable = has(conversation, 'displayed-markers') && !own;
  const content = contentFromIncoming(message, { ...(reply ? { reply } : {}), markable });
  if (conversation.resource) content.privateViaRoom = true;

  if (own && conversation.kind === 'chat') return ownChatFromElsewhere(context, conversation, message, content);

  const entry = await archive(context, conversation, {
    outgoing: own,
    nick: conversation.kind === 'groupchat' ? nick : undefined,
    networkIds: message.id ? [message.id] : [],
    content,
    sentAt: message.timestamp,
  });
  await toUser(context, conversation, nick, content, { entry, timestamp: message.timestamp });
}

/**
 * The user wrote to a contact from another client on the network: their
 * server shows it as theirs when it lets the gateway send on their behalf
 * (XEP-0356 message permission), else it comes from the contact, marked.
 */
async function ownChatFromElsewhere(
  context: XmppContext,
  conversation: Conversation,
  message: IncomingMessage,
  content: MessageContent,
): Promise<void> {
  const { session, gateway } = conversation;
  const server = parseJid(session.userJid).domain;
  const privileges = privilegesOf(context.router).get(gateway.domain, server);
  const privileged = privileges?.message === 'outgoing';
  const { markable: _markable, ...plain } = content;
  // From the contact's JID, a correction would point at a message of another sender: shown as text.
  const { replace: _replace, ...unreferenced } = plain;
  const shown: MessageContent = { ...unreferenced, body: `[you] ${plain.replace ? '* ' : ''}${plain.body ?? ''}` };
  const entry = await archive(context, conversation, {
    outgoing: true,
    networkIds: [message.id],
    content: plain,
    sentAt: message.timestamp,
  });
  if (!privileged) {
    await toUser(context, conversation, undefined, shown, { entry, timestamp: message.timestamp });
    return;
  }
  // The server takes this as sent by the user (carbons, their archive) and routes it to the contact: back
  // here, where fromUser() recognises the id and does not send it again.
  const forwarded = renderMessage(
    {
      xmlns: NS_MESSAGE.client,
      from: session.userJid,
      to: peerJid(conversation),
      type: 'chat',
      id: entry.xmppId,
      ...(isPast(message.timestamp) ? { delay: { stamp: message.timestamp, from: gateway.domain } } : {}),
    },
    { ...plain, originId: entry.xmppId },
  );
  await send(context, [
    xml(
      'message',
      { from: gateway.domain, to: server, id: randomUUID() },
      xml('privilege', { xmlns: privileges!.namespace }, xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, forwarded)),
    ),
  ]);
}

/** A network event pointing at a message: the archived target, or null (logged) when the gateway never saw it. */
async function targetOf(context: XmppContext, conversation: Conversation, networkId: string, event: string): Promise<ArchiveEntry | null> {
  const target = await context.store.archive.byNetworkId(conversation.session.userJid, conversation.jid, networkId);
  if (!target) context.log.debug({ user: conversation.session.userJid, networkId, event }, 'network event for a message the gateway does not know');
  return target;
}

/** The sender of an event in a conversation: a nick in rooms; in chats, the contact (undefined). */
function senderNick(conversation: Conversation, from: string): string | undefined {
  return conversation.kind === 'groupchat' ? from : undefined;
}

/**
 * A notice from a network user (IRC NOTICE) is a message like any other in
 * XMPP, which has no notice type: its body says "[notice] " first, as
 * biboumi does, so nobody takes it for something to answer. Notices of the
 * network itself (the 'notice' event) come from the server JID: no mark.
 */
function markedNotice(message: IncomingMessage): IncomingMessage {
  return message.notice ? { ...message, body: `[notice] ${message.body}` } : message;
}

function isOwnNick(conversation: Conversation, from: string): boolean {
  return conversation.kind === 'groupchat' && conversation.room?.nick === from;
}

export const registerMessages: XmppModule = (context) => {
  context.stanzas.on('message', ['contact', 'occupant', 'server', 'gateway'], (stanza, target) => onMessage(context, stanza, target));

  const { events } = context.core;

  /** Runs `work` for a room event, in order, once the room is joined. */
  const inRoom = (session: Session, address: NetworkAddress, event: string, work: (conversation: Conversation) => Promise<void>) => {
    const room = session.room(address);
    if (!room) {
      context.log.debug({ user: session.userJid, room: address.id, event }, 'event for a room the user is not in');
      return;
    }
    whenJoined(room, () =>
      incoming(context, session, `room\n${address.id}`, event, async () => {
        if (session.room(address) !== room) return;
        const conversation = await roomConversation(context, session, address);
        if (conversation) await work(conversation);
      }),
    );
  };

  /** Runs `work` for an event in a one-to-one conversation, in order. */
  const inChat = (session: Session, address: NetworkAddress | null, event: string, work: (conversation: Conversation) => Promise<void>) =>
    incoming(context, session, `chat\n${address?.kind ?? ''}\n${address?.id ?? ''}`, event, async () => {
      const conversation = await contactConversation(context, session, address);
      if (conversation) await work(conversation);
    });

  /** A room or a contact, by the kind of address the network names. */
  const inConversation = (session: Session, address: NetworkAddress, event: string, work: (conversation: Conversation) => Promise<void>) =>
    address.kind === 'room' ? inRoom(session, address, event, work) : inChat(session, address, event, work);

  events.on('roomMessage', (session, address, nick, message) =>
    inRoom(session, address, 'roomMessage', (conversation) => onNetworkMessage(context, conversation, nick, markedNotice(message))),
  );

  events.on('directMessage', (session, from, message, viaRoom) => {
    if (!viaRoom) {
      inChat(session, from, 'directMessage', (conversation) => onNetworkMessage(context, conversation, undefined, markedNotice(message)));
      return;
    }
    incoming(context, session, `pm\n${viaRoom.room.id}\n${viaRoom.nick}`, 'directMessage', async () => {
      const gateway = context.core.gateway(session.domain);
      if (!gateway) return;
      const roomJid = session.room(viaRoom.room)?.jid ?? (await context.addressing.jid(gateway, viaRoom.room));
      const room = session.room(viaRoom.room);
      const conversation: Conversation = {
        kind: 'chat',
        gateway,
        session,
        jid: roomJid,
        resource: viaRoom.nick,
        address: from,
        ...(room ? { room } : {}),
        archiveJid: gateway.domain,
      };
      await onNetworkMessage(context, conversation, undefined, markedNotice(message));
    });
  });

  events.on('notice', (session, from, text) => {
    // A notice has no network id: nothing on the network can point at it.
    const message: IncomingMessage = { id: '', body: text, notice: true };
    if (from?.kind === 'room') {
      inRoom(session, from, 'notice', (conversation) => onNetworkMessage(context, conversation, undefined, message));
      return;
    }
    inChat(session, from, 'notice', (conversation) => onNetworkMessage(context, conversation, undefined, message));
  });

  events.on('chatState', (session, address, from, state) =>
    inConversation(session, address, 'chatState', async (conversation) => {
      if (isOwnNick(conversation, from)) return;
      await toUser(context, conversation, senderNick(conversation, from), { chatState: state, noStore: true });
    }),
  );

  events.on('corrected', (session, address, from, targetId, message) =>
    inConversation(session, address, 'corrected', async (conversation) => {
      if (await isEcho(context, conversation, message)) return;
      const target = await targetOf(context, conversation, targetId, 'corrected');
      const own = isOwnNick(conversation, from) || target?.outgoing === true;
      const content = contentFromIncoming(message);
      // A correction of a message the gateway never saw is still worth showing, as a message.
      if (target) content.replace = target.xmppId;
      if (conversation.kind === 'chat' && own) return ownChatFromElsewhere(context, conversation, message, content);
      const entry = await archive(context, conversation, {
        outgoing: own,
        nick: senderNick(conversation, from),
        networkIds: [message.id],
        content,
        sentAt: message.timestamp,
      });
      await toUser(context, conversation, senderNick(conversation, from), content, { entry, timestamp: message.timestamp });
    }),
  );

  events.on('retracted', (session, address, from, targetId) =>
    inConversation(session, address, 'retracted', async (conversation) => {
      const target = await targetOf(context, conversation, targetId, 'retracted');
      if (!target) return;
      const reference = referenceTo(conversation, target);
      await context.store.archive.replaceContent(target.id, {
        retracted: { stamp: stamp(new Date()) },
        ...(target.originId ? { originId: target.originId } : {}),
      });
      const content: MessageContent = {
        retract: reference,
        fallbacks: [{ for: NS_MESSAGE.retraction }],
        body: RETRACTION_FALLBACK,
        store: true,
      };
      const entry = await archive(context, conversation, { outgoing: isOwnNick(conversation, from), nick: senderNick(conversation, from), content });
      await toUser(context, conversation, senderNick(conversation, from), content, { entry });
    }),
  );

  events.on('reacted', (session, address, from, targetId, emojis) =>
    inConversation(session, address, 'reacted', async (conversation) => {
      const target = await targetOf(context, conversation, targetId, 'reacted');
      if (!target) return;
      const content: MessageContent = { reactions: { id: referenceTo(conversation, target), emojis }, store: true };
      const entry = await archive(context, conversation, { outgoing: isOwnNick(conversation, from), nick: senderNick(conversation, from), content });
      await toUser(context, conversation, senderNick(conversation, from), content, { entry });
    }),
  );

  events.on('displayed', (session, address, from, upToId) =>
    inConversation(session, address, 'displayed', async (conversation) => {
      if (isOwnNick(conversation, from)) return;
      const target = await targetOf(context, conversation, upToId, 'displayed');
      if (!target) return;
      await toUser(context, conversation, senderNick(conversation, from), { displayed: referenceTo(conversation, target) });
    }),
  );
};
