// The resend check without a store round trip for every message.
//
// Every message from the user is first checked against the archive: a
// client's resend (stream resumption) or the gateway's own privileged copy
// coming back must not reach the network twice. Asking the store each time
// cost a query per message. Instead each session keeps, per conversation,
// 30-bit hashes of the client ids (id attribute, origin-id) of the user's
// latest own messages: loaded from the archive on the conversation's first
// check, then added to as the user's messages are archived. A miss means
// "not among the last OWN_IDS_WINDOW own messages": a new message, no query.
// A hit (a resend, or a hash collision: about 1 in 2 million per check) is
// confirmed by the archive, which also gives the entry to reflect again.
//
// Decided: a resend is recognised when its original is among the user's last
// OWN_IDS_WINDOW messages in that conversation; resends are of the last few.
// A client reusing an older id gets its message passed on, where the archive
// lookup used to drop it as already sent.
//
// The index belongs to the session (dropped with it, rebuilt by the next one
// from the store), so a process that takes a user over, or a restart, starts
// from what the archive holds: nothing here is the only copy of anything.

/** Own messages per conversation whose client ids are remembered. */
export const OWN_IDS_WINDOW = 256;

/** 30 bits of FNV-1a: small integers V8 stores without boxing. */
export function idHash(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash & 0x3fffffff;
}

/** A ring of the hashes of the last `capacity` ids: ~4 bytes each. */
export class RecentIds {
  private readonly hashes: Int32Array;
  private next = 0;
  private size = 0;

  constructor(capacity: number) {
    this.hashes = new Int32Array(capacity);
  }

  add(id: string): void {
    this.hashes[this.next] = idHash(id);
    this.next = (this.next + 1) % this.hashes.length;
    if (this.size < this.hashes.length) this.size++;
  }

  /** False: certainly none of the last `capacity` ids. True: probably one of them. */
  mayHave(id: string): boolean {
    const hash = idHash(id);
    for (let i = 0; i < this.size; i++) if (this.hashes[i] === hash) return true;
    return false;
  }
}

/** Where the index of one conversation comes from: the client ids of the user's latest own messages there. */
export type LoadOwnIds = (limit: number) => Promise<string[]>;

/** One session's indexes, per conversation. */
export class OwnIds {
  private readonly conversations = new Map<string, Promise<RecentIds>>();

  /** False when no own message with this client id is among the last OWN_IDS_WINDOW (no need to ask the store). */
  async mayHave(conversation: string, clientId: string, load: LoadOwnIds): Promise<boolean> {
    return (await this.index(conversation, load)).mayHave(clientId);
  }

  /** An own message was archived: its client ids. A conversation not loaded yet will read them from the store. */
  remember(conversation: string, ids: ReadonlyArray<string | null | undefined>): void {
    const index = this.conversations.get(conversation);
    if (!index) return;
    void index.then(
      (recent) => {
        for (const id of ids) if (id) recent.add(id);
      },
      () => undefined,
    );
  }

  private index(conversation: string, load: LoadOwnIds): Promise<RecentIds> {
    let index = this.conversations.get(conversation);
    if (!index) {
      // Each own message has up to two client ids: room for both.
      index = load(OWN_IDS_WINDOW).then((ids) => {
        const recent = new RecentIds(2 * OWN_IDS_WINDOW);
        for (const id of ids.reverse()) recent.add(id);
        return recent;
      });
      this.conversations.set(conversation, index);
      // A failed load is not kept: the next check tries again.
      index.catch(() => {
        if (this.conversations.get(conversation) === index) this.conversations.delete(conversation);
      });
    }
    return index;
  }
}
