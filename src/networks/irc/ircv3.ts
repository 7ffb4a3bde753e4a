// IRCv3 client tags and echoes, the parts that need no connection: typing
// (+typing) <-> XEP-0085 chat states, reactions (+draft/react) <-> XEP-0444
// sets, and which echo of ours answers which line we sent.
//
// Decisions:
// - Typing: composing -> active, paused -> paused, active/inactive/gone ->
//   done (the IRCv3 typing spec's three states); the same state to the same
//   target is not repeated within 3 s (the spec asks clients to throttle).
// - Reactions: IRC sends one emoji per TAGMSG and has no "unreact"; XEP-0444
//   sends the whole set each time. Incoming, each user's emojis per message
//   accumulate (bounded memory) and the set goes to XMPP; outgoing, only the
//   emojis not yet sent for that message go out, and a removal has nothing
//   to say on IRC.
// - Echoes (echo-message): matched by label where the server has
//   labeled-response, else first in, first out per target.
import type { ChatState } from '../../core/message.js';

export type TypingValue = 'active' | 'paused' | 'done';

/** The caps ponte asks for beyond irc-framework's own list. */
export const EXTRA_CAPS = ['labeled-response', 'echo-message'] as const;

export function typingOf(state: ChatState): TypingValue {
  if (state === 'composing') return 'active';
  if (state === 'paused') return 'paused';
  return 'done';
}

export function chatStateOf(value: string | undefined): ChatState | null {
  if (value === 'active') return 'composing';
  if (value === 'paused') return 'paused';
  if (value === 'done') return 'active';
  return null;
}

/** A map that forgets its oldest keys beyond `limit` entries. */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.has(key)) this.delete(key);
    super.set(key, value);
    while (this.size > this.limit) this.delete(this.keys().next().value as K);
    return this;
  }
}

/** The emoji sets of reactions, per message and reacting nick. */
export class ReactionBook {
  private readonly sets = new BoundedMap<string, Set<string>>(2000);

  /** Adds one emoji from `nick` to `messageId`; returns the nick's whole set. */
  add(messageId: string, nick: string, emoji: string): string[] {
    const key = `${messageId}\n${nick.toLowerCase()}`;
    const set = this.sets.get(key) ?? new Set<string>();
    set.add(emoji);
    this.sets.set(key, set);
    return [...set];
  }

  /** The emojis of `wanted` not sent yet for `messageId` by `nick` (and records them as sent). */
  toSend(messageId: string, nick: string, wanted: string[]): string[] {
    const key = `${messageId}\n${nick.toLowerCase()}`;
    const sent = this.sets.get(key) ?? new Set<string>();
    const fresh = wanted.filter((emoji) => !sent.has(emoji));
    this.sets.set(key, new Set(wanted));
    return fresh;
  }
}

/** Throttles typing notifications: true when this state to this target may go out now. */
export class TypingThrottle {
  private readonly last = new BoundedMap<string, { value: TypingValue; at: number }>(1000);

  constructor(private readonly now: () => number = Date.now) {}

  allow(target: string, value: TypingValue): boolean {
    const previous = this.last.get(target);
    const at = this.now();
    if (previous && previous.value === value && at - previous.at < 3_000) return false;
    this.last.set(target, { value, at });
    return true;
  }
}

/** Lines waiting for their echo, by label and by target (oldest first). */
export class EchoWaiters<T> {
  private readonly byLabel = new Map<string, { target: string; item: T }>();
  private readonly byTarget = new Map<string, T[]>();

  add(target: string, item: T, label?: string): void {
    if (label !== undefined) this.byLabel.set(label, { target, item });
    const queue = this.byTarget.get(target) ?? [];
    queue.push(item);
    this.byTarget.set(target, queue);
  }

  /** The line an echo (or an error about `target`) answers; removed from the waiters. */
  take(target: string, label?: string): T | undefined {
    let item: T | undefined;
    if (label !== undefined && this.byLabel.has(label)) {
      const entry = this.byLabel.get(label)!;
      this.byLabel.delete(label);
      item = entry.item;
      target = entry.target;
    }
    const queue = this.byTarget.get(target);
    if (!queue) return item;
    const index = item === undefined ? 0 : queue.indexOf(item);
    if (index < 0 || queue.length === 0) return item;
    const [taken] = queue.splice(index, 1);
    if (queue.length === 0) this.byTarget.delete(target);
    if (item === undefined) {
      for (const [label2, entry] of this.byLabel) if (entry.item === taken) this.byLabel.delete(label2);
    }
    return taken;
  }

  /** Removes `item` wherever it waits (its echo will not come: timeout, connection lost). */
  drop(item: T): void {
    for (const [label, entry] of this.byLabel) if (entry.item === item) this.byLabel.delete(label);
    for (const [target, queue] of this.byTarget) {
      const index = queue.indexOf(item);
      if (index >= 0) queue.splice(index, 1);
      if (queue.length === 0) this.byTarget.delete(target);
    }
  }

  all(): T[] {
    return [...this.byTarget.values()].flat();
  }
}
