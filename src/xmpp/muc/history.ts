// Discussion history on join (XEP-0045 §7.2.14): which of the messages the
// gateway holds a joining client gets, following its
// `<history maxstanzas maxchars seconds since/>`. Without that element the
// client gets everything held (at most RoomState.HISTORY_LIMIT messages).
import type { RoomHistoryEntry } from '../../core/rooms.js';
import type { Element } from '../stanza.js';
import { MUC_NS } from './stanzas.js';

export interface HistoryRequest {
  maxstanzas?: number;
  /** Characters of the complete stanzas (the XEP counts the XML). */
  maxchars?: number;
  seconds?: number;
  since?: Date;
}

function nonNegative(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/** The client's history request from a join presence; unparseable attributes are ignored, as if absent. */
export function parseHistoryRequest(presence: Element): HistoryRequest {
  const history = presence.getChild('x', MUC_NS)?.getChild('history');
  if (!history) return {};
  const request: HistoryRequest = {};
  const maxstanzas = nonNegative(history.attrs.maxstanzas);
  if (maxstanzas !== undefined) request.maxstanzas = maxstanzas;
  const maxchars = nonNegative(history.attrs.maxchars);
  if (maxchars !== undefined) request.maxchars = maxchars;
  const seconds = nonNegative(history.attrs.seconds);
  if (seconds !== undefined) request.seconds = seconds;
  if (history.attrs.since) {
    const since = new Date(history.attrs.since);
    if (!Number.isNaN(since.getTime())) request.since = since;
  }
  return request;
}

/**
 * The entries to send, oldest first, rendered by `render`; every limit the
 * client gave applies (the XEP: the service should honour all of them).
 */
export function selectHistory(
  entries: readonly RoomHistoryEntry[],
  request: HistoryRequest,
  render: (entry: RoomHistoryEntry) => Element,
  now = new Date(),
): Element[] {
  let chosen = [...entries];
  const cutoff = Math.max(
    request.seconds !== undefined ? now.getTime() - request.seconds * 1000 : -Infinity,
    request.since ? request.since.getTime() : -Infinity,
  );
  // A message without a time is taken as recent: better shown than lost.
  if (cutoff > -Infinity) chosen = chosen.filter((entry) => (entry.message.timestamp?.getTime() ?? now.getTime()) >= cutoff);
  if (request.maxstanzas !== undefined) chosen = request.maxstanzas === 0 ? [] : chosen.slice(-request.maxstanzas);
  const stanzas = chosen.map(render);
  if (request.maxchars === undefined) return stanzas;
  // Newest first until the budget is spent, then back in order.
  const kept: Element[] = [];
  let budget = request.maxchars;
  for (let i = stanzas.length - 1; i >= 0; i--) {
    const size = stanzas[i]!.toString().length;
    if (size > budget) break;
    budget -= size;
    kept.unshift(stanzas[i]!);
  }
  return kept;
}
