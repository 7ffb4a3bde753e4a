// The channel list of a server (LIST), paged for disco#items with RSM.
//
// Decisions (docs/irc.md "Channel list"):
// - One LIST per server and user, kept for 60 s (a big network's LIST is
//   tens of thousands of lines: paging through it must not re-run it); the
//   pages are cut from that snapshot, sorted by channel name so they are
//   stable. The continuation token is the offset into the snapshot; a token
//   that outlives its snapshot continues at that offset in a fresh one.
// - The wait is bounded: at most 30 s for the end of the list (323); what
//   came by then is the list (an empty one after a timeout is an error), and
//   at most 20,000 channels are kept.
// - Secret channels the server shows as `*` and channel names that are not
//   channel names to ponte are left out.
import { GatewayError } from '../../core/errors.js';
import type { Client } from 'irc-framework';
import type { RoomListing } from '../types.js';
import { chanTypesOf, ircLower, isChannelName, roomAddress } from './addresses.js';
import { ircLine } from './safety.js';

const LIST_TTL_MS = 60_000;
const LIST_TIMEOUT_MS = 30_000;
const LIST_MAX = 20_000;

export interface ListedChannel {
  channel: string;
  users: number;
  topic: string;
}

/** Runs LIST on a registered client; resolves with the channels (bounded in time and size). */
export function runList(client: Client, server: string, timeoutMs = LIST_TIMEOUT_MS): Promise<ListedChannel[]> {
  return new Promise((resolve, reject) => {
    const channels: ListedChannel[] = [];
    const chanTypes = chanTypesOf(client.network.supports('CHANTYPES'));
    const onPart = (part: Array<{ channel: string; num_users: number; topic: string }>) => {
      for (const entry of part) {
        if (channels.length >= LIST_MAX) break;
        if (!isChannelName(entry.channel, chanTypes)) continue;
        channels.push({ channel: entry.channel, users: Number.isFinite(entry.num_users) ? entry.num_users : 0, topic: entry.topic ?? '' });
      }
    };
    const finish = (timedOut: boolean) => {
      clearTimeout(timer);
      client.removeListener('channel list', onPart);
      client.removeListener('channel list end', onEnd);
      client.removeListener('close', onClose);
      if (timedOut && channels.length === 0) reject(new GatewayError('remote-server-timeout', `${server} did not answer LIST within ${timeoutMs / 1000} s.`));
      else resolve(channels);
    };
    const onEnd = () => finish(false);
    const onClose = () => {
      clearTimeout(timer);
      client.removeListener('channel list', onPart);
      client.removeListener('channel list end', onEnd);
      reject(new GatewayError('remote-server-not-found', `The connection to ${server} closed during LIST.`));
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    client.on('channel list', onPart);
    client.on('channel list end', onEnd);
    client.once('close', onClose);
    client.raw(ircLine('LIST'));
  });
}

interface Snapshot {
  channels: ListedChannel[];
  expires: number;
}

/** Per-user cache of LIST snapshots, one per server. */
export class ChannelListCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly running = new Map<string, Promise<ListedChannel[]>>();

  /** A page of the server's channels; `list` runs LIST when there is no fresh snapshot. */
  async page(server: string, limit: number, after: string | undefined, list: () => Promise<ListedChannel[]>): Promise<RoomListing> {
    let offset = 0;
    if (after !== undefined) {
      if (!/^\d{1,9}$/.test(after)) throw new GatewayError('bad-request', 'This continuation token is not one of the gateway\'s.');
      offset = Number(after);
    }
    const channels = await this.snapshot(server, list);
    const items = channels.slice(offset, offset + Math.max(1, limit));
    const end = offset + items.length;
    return {
      items: items.map((entry) => ({ address: roomAddress(entry.channel, server), name: entry.channel, occupants: entry.users, ...(entry.topic ? { topic: entry.topic } : {}) })),
      ...(end < channels.length ? { next: String(end) } : {}),
      total: channels.length,
    };
  }

  private async snapshot(server: string, list: () => Promise<ListedChannel[]>): Promise<ListedChannel[]> {
    const now = Date.now();
    const cached = this.snapshots.get(server);
    // A first page reuses a recent snapshot too: clients re-ask often, and a LIST is expensive for the server.
    if (cached && cached.expires > now) return cached.channels;
    let running = this.running.get(server);
    if (!running) {
      running = list().then((channels) => channels.sort((a, b) => (ircLower(a.channel) < ircLower(b.channel) ? -1 : ircLower(a.channel) > ircLower(b.channel) ? 1 : 0)));
      this.running.set(server, running);
      running.finally(() => this.running.delete(server)).catch(() => undefined);
    }
    const channels = await running;
    this.snapshots.set(server, { channels, expires: Date.now() + LIST_TTL_MS });
    return channels;
  }
}
