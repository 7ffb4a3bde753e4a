// Message stanzas <-> what they mean, with no state and no I/O: unit tests
// compare elements. parseMessage() reads every extension the gateway
// understands out of a message a user sent; renderMessage() builds a message
// the gateway sends (live, or forwarded inside a MAM result) from an envelope
// (addresses, ids, delay) and a MessageContent. MessageContent is plain JSON
// so the archive stores it as it is and MAM renders it the same way.
//
// Extensions: XEP-0359 stanza-id/origin-id, XEP-0184 receipts, XEP-0085 chat
// states, XEP-0308 corrections, XEP-0424 retractions (v1, and the older
// fasten-based v0 when reading), XEP-0444 reactions, XEP-0461 replies with
// XEP-0428 fallback ranges, XEP-0333 markers, XEP-0066 OOB, XEP-0245 /me,
// XEP-0203 delay, XEP-0334 hints. XEP-0393 styling needs nothing: bodies pass
// through as text.
//
// Fallback ranges (XEP-0426) count Unicode code points, not UTF-16 units.
import type { Attachment, ChatState, IncomingMessage } from '../core/message.js';
import { xml, type Element } from './stanza.js';

export const NS_MESSAGE = {
  client: 'jabber:client',
  stanzaId: 'urn:xmpp:sid:0',
  receipts: 'urn:xmpp:receipts',
  chatStates: 'http://jabber.org/protocol/chatstates',
  correction: 'urn:xmpp:message-correct:0',
  retraction: 'urn:xmpp:message-retract:1',
  retractionV0: 'urn:xmpp:message-retract:0',
  fasten: 'urn:xmpp:fasten:0',
  reactions: 'urn:xmpp:reactions:0',
  reply: 'urn:xmpp:reply:0',
  fallback: 'urn:xmpp:fallback:0',
  markers: 'urn:xmpp:chat-markers:0',
  styling: 'urn:xmpp:styling:0',
  oob: 'jabber:x:oob',
  delay: 'urn:xmpp:delay',
  hints: 'urn:xmpp:hints',
  mucUser: 'http://jabber.org/protocol/muc#user',
  directInvite: 'jabber:x:conference',
} as const;

export const CHAT_STATES: readonly ChatState[] = ['active', 'composing', 'paused', 'inactive', 'gone'];

/** The text XEP-0424 recommends for clients that do not understand a retraction. */
export const RETRACTION_FALLBACK = 'This person attempted to retract a previous message, but it\'s unsupported by your client.';

/** A part of the body that only stands in for an extension (XEP-0428), in code points; no range: the whole body. */
export interface Fallback {
  for: string;
  start?: number;
  end?: number;
}

/** What a message stanza from a user says, extension by extension. */
export interface ParsedMessage {
  /** The stanza's id attribute. */
  id?: string;
  /** XEP-0359 origin-id. */
  originId?: string;
  /** The body as sent, fallbacks included; undefined without a <body/>. */
  body?: string;
  /** XEP-0085. */
  chatState?: ChatState;
  /** XEP-0184 <request/>. */
  receiptRequest: boolean;
  /** XEP-0308: the id of the message this one corrects. */
  replace?: string;
  /** XEP-0424: the id of the message to retract. */
  retract?: string;
  /** XEP-0444: the full set of the sender's reactions to a message (empty: all removed). */
  reactions?: { id: string; emojis: string[] };
  /** XEP-0461. */
  reply?: { id: string; to?: string };
  fallbacks: Fallback[];
  /** XEP-0333 <displayed id/>. */
  displayed?: string;
  /** XEP-0066 OOB urls. */
  attachments: Attachment[];
  /** XEP-0249 direct invitation. */
  invite: boolean;
  /** <subject/> present (a room subject change, not a message). */
  subject?: string;
}

/** The content of a message the gateway sends or archived: JSON, stored as it is. */
export interface MessageContent {
  /** Text as the client shows it (a /me action keeps its prefix, fallbacks included). */
  body?: string;
  originId?: string;
  replace?: string;
  retract?: string;
  /** XEP-0424 tombstone of a retracted message (MAM), with the time of the retraction. */
  retracted?: { stamp: string };
  reactions?: { id: string; emojis: string[] };
  reply?: { id: string; to?: string };
  fallbacks?: Fallback[];
  attachments?: Attachment[];
  chatState?: ChatState;
  displayed?: string;
  /** XEP-0184 <received id/>. */
  receipt?: string;
  /** XEP-0333 <markable/>: the recipient may send displayed markers. */
  markable?: boolean;
  /** An empty muc#user <x/>: a private message through a room (XEP-0045 §7.5). */
  privateViaRoom?: boolean;
  /** XEP-0334 hints. */
  store?: boolean;
  noStore?: boolean;
}

export interface Envelope {
  from: string;
  to?: string;
  type: 'chat' | 'groupchat' | 'normal' | 'headline';
  id?: string;
  /** XEP-0359 stanza-id: the archive id, by the archive's JID. */
  stanzaId?: { id: string; by: string };
  /** XEP-0203. */
  delay?: { stamp: Date; from?: string };
  /** Set to jabber:client for a message forwarded inside another (XEP-0297). */
  xmlns?: string;
}

// --- reading ------------------------------------------------------------------

/** Code points of a string (what XEP-0426 counts). */
function codePoints(text: string): string[] {
  return Array.from(text);
}

function firstBody(stanza: Element): string | undefined {
  const bodies = stanza.getChildren('body').filter((b) => {
    const ns = b.getNS();
    return ns === undefined || ns === 'jabber:client' || ns === 'jabber:component:accept' || ns === 'jabber:server';
  });
  if (bodies.length === 0) return undefined;
  const plain = bodies.find((b) => b.attrs['xml:lang'] === undefined) ?? bodies[0]!;
  return plain.text();
}

function parseNonNegative(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return undefined;
  return Number(value);
}

function parseFallbacks(stanza: Element): Fallback[] {
  const out: Fallback[] = [];
  for (const fallback of stanza.getChildren('fallback', NS_MESSAGE.fallback)) {
    const target = fallback.attrs.for ?? '';
    const ranges = fallback.getChildren('body');
    if (ranges.length === 0) {
      out.push({ for: target });
      continue;
    }
    for (const range of ranges) {
      const start = parseNonNegative(range.attrs.start);
      const end = parseNonNegative(range.attrs.end);
      if (start !== undefined && end !== undefined && end >= start) out.push({ for: target, start, end });
      else out.push({ for: target });
    }
  }
  return out;
}

export function parseMessage(stanza: Element): ParsedMessage {
  const parsed: ParsedMessage = {
    receiptRequest: stanza.getChild('request', NS_MESSAGE.receipts) !== undefined,
    fallbacks: parseFallbacks(stanza),
    attachments: [],
    invite: stanza.getChild('x', NS_MESSAGE.directInvite) !== undefined,
  };
  if (stanza.attrs.id) parsed.id = stanza.attrs.id;
  const originId = stanza.getChild('origin-id', NS_MESSAGE.stanzaId)?.attrs.id;
  if (originId) parsed.originId = originId;
  const body = firstBody(stanza);
  if (body !== undefined) parsed.body = body;
  const subject = stanza.getChild('subject');
  if (subject) parsed.subject = subject.text();

  for (const child of stanza.getChildElements()) {
    if (child.getNS() === NS_MESSAGE.chatStates && (CHAT_STATES as readonly string[]).includes(child.name)) {
      parsed.chatState = child.name as ChatState;
      break;
    }
  }

  const replace = stanza.getChild('replace', NS_MESSAGE.correction)?.attrs.id;
  if (replace) parsed.replace = replace;

  const retract = stanza.getChild('retract', NS_MESSAGE.retraction)?.attrs.id;
  if (retract) parsed.retract = retract;
  else {
    // XEP-0424 before 0.4: <apply-to xmlns=fasten:0 id><retract xmlns=message-retract:0/></apply-to>
    const applyTo = stanza.getChild('apply-to', NS_MESSAGE.fasten);
    if (applyTo?.attrs.id && applyTo.getChild('retract', NS_MESSAGE.retractionV0)) parsed.retract = applyTo.attrs.id;
  }

  const reactions = stanza.getChild('reactions', NS_MESSAGE.reactions);
  if (reactions?.attrs.id) {
    const emojis = reactions
      .getChildren('reaction')
      .map((r) => r.text().trim())
      .filter((e) => e !== '');
    parsed.reactions = { id: reactions.attrs.id, emojis: [...new Set(emojis)] };
  }

  const reply = stanza.getChild('reply', NS_MESSAGE.reply);
  if (reply?.attrs.id) parsed.reply = reply.attrs.to ? { id: reply.attrs.id, to: reply.attrs.to } : { id: reply.attrs.id };

  const displayed = stanza.getChild('displayed', NS_MESSAGE.markers)?.attrs.id;
  if (displayed) parsed.displayed = displayed;

  for (const oob of stanza.getChildren('x', NS_MESSAGE.oob)) {
    const url = oob.getChildText('url')?.trim();
    if (!url) continue;
    const desc = oob.getChildText('desc')?.trim();
    parsed.attachments.push(desc ? { url, description: desc } : { url });
  }
  return parsed;
}

/** The body without the fallback ranges that stand in for `feature` (e.g. the quote of a reply). */
export function stripFallback(body: string, fallbacks: readonly Fallback[], feature: string): string {
  const ranges = fallbacks
    .filter((f) => f.for === feature && f.start !== undefined && f.end !== undefined)
    .map((f) => [f.start!, f.end!] as const)
    .sort((a, b) => b[0] - a[0]);
  if (ranges.length === 0) return body;
  const points = codePoints(body);
  for (const [start, end] of ranges) points.splice(start, Math.max(0, Math.min(end, points.length) - start));
  return points.join('');
}

/** The text inside the fallback ranges for `feature`, e.g. the quoted part of a reply. */
export function fallbackText(body: string, fallbacks: readonly Fallback[], feature: string): string {
  const points = codePoints(body);
  return fallbacks
    .filter((f) => f.for === feature && f.start !== undefined && f.end !== undefined)
    .map((f) => points.slice(f.start, f.end).join(''))
    .join('');
}

/** Whether the whole body is a fallback for `feature` (a fallback element without ranges). */
export function bodyIsFallbackFor(fallbacks: readonly Fallback[], feature: string): boolean {
  return fallbacks.some((f) => f.for === feature && f.start === undefined);
}

/** Splits a XEP-0245 "/me " action off a body. */
export function splitAction(body: string): { text: string; action: boolean } {
  return body.startsWith('/me ') ? { text: body.slice(4), action: true } : { text: body, action: false };
}

// --- writing ------------------------------------------------------------------

/** XEP-0082 date-time, without milliseconds. */
export function stamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Prefixes each line of `text` with "> " (the quote of a reply fallback), ending with a newline. */
export function quote(text: string, maxLength = 200): string {
  const points = codePoints(text.trim());
  const short = points.length > maxLength ? `${points.slice(0, maxLength).join('')}…` : points.join('');
  return `${short
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n')}\n`;
}

/**
 * A network message as the user should see it: "/me " for actions, the
 * attachments' URLs in the body (alone when there is no text, so clients
 * show the file inline) and as OOB elements, a reply with its quote.
 */
export function contentFromIncoming(
  message: IncomingMessage,
  options: { reply?: { id: string; to?: string; quoted?: string }; markable?: boolean } = {},
): MessageContent {
  const content: MessageContent = {};
  let text = message.action ? `/me ${message.body}` : message.body;
  const attachments = message.attachments ?? [];
  const urls = attachments.map((a) => a.url).filter((url) => !text.includes(url));
  if (urls.length > 0) text = text === '' ? urls.join('\n') : `${text}\n${urls.join('\n')}`;
  if (attachments.length > 0) content.attachments = attachments.map((a) => ({ ...a }));
  if (options.reply) {
    content.reply = options.reply.to ? { id: options.reply.id, to: options.reply.to } : { id: options.reply.id };
    if (options.reply.quoted) {
      const prefix = quote(options.reply.quoted);
      content.fallbacks = [{ for: NS_MESSAGE.reply, start: 0, end: codePoints(prefix).length }];
      text = prefix + text;
    }
  }
  content.body = text;
  if (options.markable) content.markable = true;
  return content;
}

export function renderMessage(envelope: Envelope, content: MessageContent): Element {
  const message = xml('message', {
    xmlns: envelope.xmlns,
    from: envelope.from,
    to: envelope.to,
    type: envelope.type,
    id: envelope.id,
  });
  const add = (child: Element | null | undefined) => {
    if (child) message.append(child);
  };
  if (content.body !== undefined) add(xml('body', {}, content.body));
  if (content.retracted) add(xml('retracted', { xmlns: NS_MESSAGE.retraction, stamp: content.retracted.stamp }));
  if (content.replace) add(xml('replace', { xmlns: NS_MESSAGE.correction, id: content.replace }));
  if (content.retract) add(xml('retract', { xmlns: NS_MESSAGE.retraction, id: content.retract }));
  if (content.reactions) {
    add(
      xml(
        'reactions',
        { xmlns: NS_MESSAGE.reactions, id: content.reactions.id },
        ...content.reactions.emojis.map((emoji) => xml('reaction', {}, emoji)),
      ),
    );
  }
  if (content.reply) add(xml('reply', { xmlns: NS_MESSAGE.reply, id: content.reply.id, to: content.reply.to }));
  for (const fallback of content.fallbacks ?? []) {
    add(
      xml(
        'fallback',
        { xmlns: NS_MESSAGE.fallback, for: fallback.for },
        fallback.start !== undefined && fallback.end !== undefined
          ? xml('body', { start: String(fallback.start), end: String(fallback.end) })
          : null,
      ),
    );
  }
  for (const attachment of content.attachments ?? []) {
    add(
      xml(
        'x',
        { xmlns: NS_MESSAGE.oob },
        xml('url', {}, attachment.url),
        attachment.description ? xml('desc', {}, attachment.description) : null,
      ),
    );
  }
  if (content.chatState) add(xml(content.chatState, { xmlns: NS_MESSAGE.chatStates }));
  if (content.displayed) add(xml('displayed', { xmlns: NS_MESSAGE.markers, id: content.displayed }));
  if (content.receipt) add(xml('received', { xmlns: NS_MESSAGE.receipts, id: content.receipt }));
  if (content.markable) add(xml('markable', { xmlns: NS_MESSAGE.markers }));
  if (content.privateViaRoom) add(xml('x', { xmlns: NS_MESSAGE.mucUser }));
  if (content.store) add(xml('store', { xmlns: NS_MESSAGE.hints }));
  if (content.noStore) add(xml('no-store', { xmlns: NS_MESSAGE.hints }));
  if (envelope.stanzaId) add(xml('stanza-id', { xmlns: NS_MESSAGE.stanzaId, id: envelope.stanzaId.id, by: envelope.stanzaId.by }));
  if (content.originId) add(xml('origin-id', { xmlns: NS_MESSAGE.stanzaId, id: content.originId }));
  if (envelope.delay) add(xml('delay', { xmlns: NS_MESSAGE.delay, from: envelope.delay.from, stamp: stamp(envelope.delay.stamp) }));
  return message;
}
