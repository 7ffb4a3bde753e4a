import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { GatewayError } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import { sql, type Timed } from './support.js';
import { normalizeBareJid, type UsersRepository } from './users.js';

// The message archive (migrations/1795308173203-archive.ts): MAM results and
// the place where XMPP ids and network ids of one message meet.

export type ArchiveKind = 'groupchat' | 'chat';

export interface NewArchiveEntry {
  /** The stanza-id; a fresh UUID when omitted. */
  id?: string;
  userJid: string;
  network: string;
  kind: ArchiveKind;
  /** Bare JID of the room or the peer (lowercased here). */
  conversation: string;
  /** The occupant nick of a private message through a room; '' otherwise. */
  resource?: string;
  /** The user sent it (from XMPP, or from elsewhere on the network). */
  outgoing: boolean;
  /** Groupchat: the sender's nick (the user's own for outgoing). */
  nick?: string;
  /** The id attribute the message carries; the stanza-id when omitted. */
  xmppId?: string;
  originId?: string;
  networkIds?: readonly string[];
  /** The message content (JSON); null keeps ids only. */
  content: Record<string, unknown> | null;
  /** When the network says it was sent. */
  sentAt?: Date;
}

/** A message as archived: what `append` returns before its row is written. */
export interface ArchivedMessage {
  id: string;
  network: string;
  kind: ArchiveKind;
  conversation: string;
  resource: string;
  outgoing: boolean;
  nick: string;
  xmppId: string;
  originId: string | null;
  networkIds: string[];
  content: Record<string, unknown> | null;
  at: Date;
  sentAt: Date | null;
}

/** An archived message read back from the archive. */
export interface ArchiveEntry extends ArchivedMessage {
  /** The archive order (a bigint, as a string). */
  seq: string;
}

/**
 * Appends wait this long to be written together. In PGlite a statement's
 * commit costs ~550 µs of CPU whatever it writes and each row ~100 µs more:
 * one INSERT per message made the archive most of ponte's cost per message.
 */
const WRITE_DELAY_MS = 10;
/** Written at once when this many are waiting. */
const WRITE_BATCH_MAX = 500;

/** An append waiting to be written: the entry, and its column values in insertRows' order (after the user's JID). */
interface Row {
  userJid: string;
  entry: ArchivedMessage;
  values: unknown[];
}

/** Checks and normalizes a new entry (throws on a bad one, before anything is queued). */
function rowOf(entry: NewArchiveEntry, at: Date): Row {
  const userJid = normalizeBareJid(entry.userJid);
  const id = entry.id ?? randomUUID();
  if (!isArchiveId(id)) throw new TypeError('an archive id must be a UUID');
  if (!entry.conversation) throw new TypeError('conversation must be a non-empty string');
  const json = entry.content === null ? null : JSON.stringify(entry.content);
  const stored: ArchivedMessage = {
    id,
    network: entry.network,
    kind: entry.kind,
    conversation: entry.conversation.toLowerCase(),
    resource: entry.resource ?? '',
    outgoing: entry.outgoing,
    nick: entry.nick ?? '',
    xmppId: entry.xmppId ?? id,
    originId: entry.originId ?? null,
    networkIds: [...(entry.networkIds ?? [])],
    // A copy, as reading the row back would give: the caller's object stays the caller's.
    content: json === null ? null : (JSON.parse(json) as Record<string, unknown>),
    at,
    sentAt: entry.sentAt ?? null,
  };
  const s = stored;
  const values = [s.id, s.network, s.kind, s.conversation, s.resource, s.outgoing, s.nick, s.xmppId, s.originId, json, s.sentAt, at, JSON.stringify(s.networkIds)];
  return { userJid, entry: stored, values };
}

/** Which archive a query reads: one user's messages on one network, of one kind. */
export interface ArchiveScope {
  userJid: string;
  network: string;
  kind: ArchiveKind;
  /** Only this conversation (bare JID). */
  conversation?: string;
  /** Only this resource of the conversation (a full-JID 'with'). */
  resource?: string;
  /** Groupchat: only messages from this nick. */
  nick?: string;
}

export interface ArchivePageRequest {
  start?: Date;
  end?: Date;
  /** Form fields after-id / before-id: exclusive bounds, they do not change the paging direction. */
  afterId?: string;
  beforeId?: string;
  /** Form field ids: exactly these messages. */
  ids?: readonly string[];
  /** RSM after: the page after this id. */
  after?: string;
  /** RSM before: the page before this id; true (an empty <before/>) for the last page. */
  before?: string | true;
  max: number;
}

export interface ArchivePage {
  /** Oldest first. */
  entries: ArchiveEntry[];
  /** No more results in the paging direction. */
  complete: boolean;
  /** How many messages match the query without paging. */
  count: number;
}

const COLUMNS = `a.seq::text AS seq, a.id::text AS id, a.network, a.kind, a.conversation, a.resource, a.outgoing, a.nick,
  a.xmpp_id AS "xmppId", a.origin_id AS "originId", a.network_ids AS "networkIds", a.content, a.at, a.sent_at AS "sentAt"`;

/** The archive columns an XMPP reference can name. */
type ReferenceColumn = 'xmpp_id' | 'origin_id' | 'id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Archive ids are UUIDs; anything else names no message (and must not reach a ::uuid cast). */
export function isArchiveId(value: string): boolean {
  return UUID.test(value);
}

/** Builds a WHERE clause with numbered parameters. */
class Conditions {
  readonly params: unknown[] = [];
  readonly clauses: string[] = [];

  /** A parameter's placeholder ($n). */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  add(clause: (param: (value: unknown) => string) => string): this {
    this.clauses.push(clause((value) => this.param(value)));
    return this;
  }

  get where(): string {
    return this.clauses.join(' AND ');
  }
}

function scopeConditions(scope: ArchiveScope): Conditions {
  const c = new Conditions();
  c.add((p) => `u.jid = ${p(normalizeBareJid(scope.userJid))}`);
  c.add((p) => `a.network = ${p(scope.network)}`);
  c.add((p) => `a.kind = ${p(scope.kind)}`);
  if (scope.conversation !== undefined) c.add((p) => `a.conversation = ${p(scope.conversation!.toLowerCase())}`);
  if (scope.resource !== undefined) c.add((p) => `a.resource = ${p(scope.resource)}`);
  if (scope.nick !== undefined) c.add((p) => `a.nick = ${p(scope.nick)}`);
  return c;
}

export class ArchiveRepository {
  /** Appends not yet handed to the database. */
  private pending: Row[] = [];
  /** The batch being written (batches are written one after the other, in order). */
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly time: Timed,
    private readonly users: UsersRepository,
    private readonly log?: Logger,
  ) {}

  /**
   * Archives a message (creating the user row if needed) and returns the
   * entry as it will be stored, at once: the row is written with the other
   * appends of the next WRITE_DELAY_MS in one statement.
   * Every read of the archive (lookups, MAM pages, prepend, deletes) first
   * waits for the appends made before it, so nothing can miss a message
   * already handed out; `settled()` waits for them too (close, tests).
   */
  append(entry: NewArchiveEntry): Promise<ArchivedMessage> {
    let row: Row;
    try {
      row = rowOf(entry, new Date());
    } catch (err) {
      return Promise.reject(err);
    }
    this.pending.push(row);
    if (this.pending.length >= WRITE_BATCH_MAX) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), WRITE_DELAY_MS);
    return Promise.resolve(row.entry);
  }

  /** Resolves once every append made before the call is written (or its failure logged). */
  settled(): Promise<void> {
    return this.flush();
  }

  /**
   * Archives a message older than everything archived in its conversation
   * (history fetched from the network on demand): it sorts before all the
   * conversation's rows, and before earlier calls' rows (archive_backfill_seq
   * counts down), so call it newest first. Its `at` is when the network says
   * it was sent (start/end filters and retention treat it by its own time).
   */
  async prepend(entry: NewArchiveEntry): Promise<ArchiveEntry> {
    const row = rowOf(entry, entry.sentAt ?? new Date());
    const e = row.entry;
    await this.settled();
    return this.time('archive.prepend', async () => {
      const insert = () =>
        sql<{ seq: string }>(
          this.dataSource,
          `INSERT INTO archive (user_id, id, network, kind, conversation, resource, outgoing, nick, xmpp_id, origin_id,
                                network_ids, content, sent_at, at, seq)
           OVERRIDING SYSTEM VALUE
           SELECT u.id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text[], $12::jsonb, $13, $14, nextval('archive_backfill_seq')
           FROM users u WHERE u.jid = $1
           RETURNING seq::text AS seq`,
          [
            row.userJid,
            e.id,
            e.network,
            e.kind,
            e.conversation,
            e.resource,
            e.outgoing,
            e.nick,
            e.xmppId,
            e.originId,
            e.networkIds,
            row.values[9],
            e.sentAt,
            e.at,
          ],
          { prepare: true },
        );
      let { rows } = await insert();
      if (!rows[0]) {
        await this.users.getOrCreate(row.userJid);
        ({ rows } = await insert());
      }
      if (!rows[0]) throw new Error(`user ${row.userJid} vanished while archiving`);
      return { ...row.entry, seq: rows[0].seq };
    });
  }

  /** Writes the appends made so far, after those already being written; never rejects. */
  private flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      this.writing = this.writing.then(() => this.write(batch));
    }
    return this.writing;
  }

  /**
   * One INSERT for a batch of appends, in append order (seq follows it). A
   * user without a row gets one and their messages a second try; a batch the
   * database refuses is retried row by row, so one bad row loses only itself.
   */
  private async write(batch: Row[]): Promise<void> {
    try {
      await this.time('archive.append', async () => {
        let missing = await this.insertRows(batch);
        if (missing.length === 0) return;
        for (const jid of new Set(missing.map((row) => row.userJid))) await this.users.getOrCreate(jid);
        missing = await this.insertRows(missing);
        if (missing.length > 0) throw new Error(`${missing.length} message(s) lost their user while being archived`);
      });
    } catch (err) {
      if (batch.length > 1) {
        for (const row of batch) await this.write([row]);
        return;
      }
      this.log?.error({ err: (err as Error).message, id: batch[0]!.entry.id, conversation: batch[0]!.entry.conversation }, 'message not archived');
    }
  }

  /** Inserts rows whose user exists; returns the rows whose user has no row. */
  private async insertRows(rows: Row[]): Promise<Row[]> {
    const columns: unknown[][] = Array.from({ length: 14 }, () => []);
    for (const row of rows) {
      columns[0]!.push(row.userJid);
      row.values.forEach((value, i) => columns[i + 1]!.push(value));
    }
    const { rows: written } = await sql<{ id: string }>(
      this.dataSource,
      `INSERT INTO archive (user_id, id, network, kind, conversation, resource, outgoing, nick, xmpp_id, origin_id,
                            content, sent_at, at, network_ids)
       SELECT u.id, v.id, v.network, v.kind, v.conversation, v.resource, v.outgoing, v.nick, v.xmpp_id, v.origin_id,
              v.content, v.sent_at, v.at, ARRAY(SELECT jsonb_array_elements_text(v.network_ids))
       FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::text[],
                   $9::text[], $10::text[], $11::jsonb[], $12::timestamptz[], $13::timestamptz[], $14::jsonb[])
            WITH ORDINALITY AS v(jid, id, network, kind, conversation, resource, outgoing, nick, xmpp_id, origin_id,
                                 content, sent_at, at, network_ids, ord)
       JOIN users u ON u.jid = v.jid
       ORDER BY v.ord
       RETURNING id::text AS id`,
      columns,
      { prepare: true },
    );
    if (written.length === rows.length) return [];
    const done = new Set(written.map((row) => row.id));
    return rows.filter((row) => !done.has(row.entry.id));
  }

  /**
   * The message an XMPP reference names in a conversation: its stanza-id, its
   * id attribute or its origin-id (the latest, should a client reuse an id).
   */
  async byReference(userJid: string, conversation: string, reference: string): Promise<ArchiveEntry | null> {
    await this.settled();
    const columns: ReferenceColumn[] = isArchiveId(reference) ? ['xmpp_id', 'origin_id', 'id'] : ['xmpp_id', 'origin_id'];
    return this.time('archive.byReference', () => this.latestBy(userJid, conversation, reference, columns, false));
  }

  /** The (first) message that got this network id in a conversation. */
  async byNetworkId(userJid: string, conversation: string, networkId: string): Promise<ArchiveEntry | null> {
    await this.settled();
    return this.time('archive.byNetworkId', async () => {
      // The materialized CTE can only be answered from the GIN index on
      // network_ids: without it the planner (PGlite has no autovacuum, so no
      // statistics) walks the whole conversation through its btree prefix.
      const { rows } = await sql<ArchiveEntry>(
        this.dataSource,
        `WITH hits AS MATERIALIZED (SELECT seq, user_id, conversation FROM archive WHERE network_ids @> ARRAY[$3]::text[])
         SELECT ${COLUMNS} FROM hits h JOIN archive a ON a.seq = h.seq
         WHERE h.user_id = (SELECT id FROM users WHERE jid = $1) AND h.conversation = $2
         ORDER BY h.seq ASC LIMIT 1`,
        [normalizeBareJid(userJid), conversation.toLowerCase(), networkId],
        { prepare: true },
      );
      return rows[0] ?? null;
    });
  }

  /** The user's own archived message with this client id (id attribute or origin-id), if any. */
  async ownMessage(userJid: string, conversation: string, clientId: string): Promise<ArchiveEntry | null> {
    await this.settled();
    return this.time('archive.ownMessage', () => this.latestBy(userJid, conversation, clientId, ['xmpp_id', 'origin_id'], true));
  }

  /**
   * The client ids (id attribute, origin-id) of the user's latest `limit`
   * own messages in a conversation, newest first: the resend check's index.
   */
  async recentOwnClientIds(userJid: string, conversation: string, limit: number): Promise<string[]> {
    await this.settled();
    return this.time('archive.recentOwnClientIds', async () => {
      const { rows } = await sql<{ xmppId: string; originId: string | null }>(
        this.dataSource,
        `SELECT xmpp_id AS "xmppId", origin_id AS "originId" FROM archive
         WHERE user_id = (SELECT id FROM users WHERE jid = $1) AND conversation = $2 AND outgoing
         ORDER BY seq DESC LIMIT $3`,
        [normalizeBareJid(userJid), conversation.toLowerCase(), limit],
        { prepare: true },
      );
      return rows.flatMap((row) => (row.originId && row.originId !== row.xmppId ? [row.xmppId, row.originId] : [row.xmppId]));
    });
  }

  /**
   * The latest message of a conversation whose value in one of `columns` is
   * `value`. One exact index lookup per column (UNION ALL): an OR over the
   * columns made the planner scan every message of the conversation.
   */
  private async latestBy(
    userJid: string,
    conversation: string,
    value: string,
    columns: readonly ReferenceColumn[],
    ownOnly: boolean,
  ): Promise<ArchiveEntry | null> {
    const owner = `user_id = (SELECT id FROM users WHERE jid = $1) AND conversation = $2`;
    const branches = columns.map((column) =>
      column === 'id'
        ? // OFFSET 0 keeps the unique index on id: else the conversation's btree prefix is scanned.
          `SELECT * FROM (SELECT * FROM archive WHERE id = $3::uuid OFFSET 0) i WHERE ${owner}`
        : `SELECT * FROM archive WHERE ${owner} AND ${column} = $3`,
    );
    const { rows } = await sql<ArchiveEntry>(
      this.dataSource,
      `SELECT ${COLUMNS} FROM (${branches.join(' UNION ALL ')}) a ${ownOnly ? 'WHERE a.outgoing' : ''} ORDER BY a.seq DESC LIMIT 1`,
      [normalizeBareJid(userJid), conversation.toLowerCase(), value],
      { prepare: true },
    );
    return rows[0] ?? null;
  }

  /** Replaces a message's content (a retraction leaves a tombstone). */
  async replaceContent(id: string, content: Record<string, unknown> | null): Promise<boolean> {
    await this.settled();
    return this.time('archive.replaceContent', async () => {
      const { affected } = await sql(
        this.dataSource,
        `UPDATE archive SET content = $2::jsonb WHERE id = $1::uuid`,
        [id, content === null ? null : JSON.stringify(content)],
        { prepare: true },
      );
      return affected > 0;
    });
  }

  /**
   * One page of a MAM query. Throws item-not-found when an id given as a
   * bound (RSM after/before, after-id, before-id) or in `ids` is not in this
   * archive.
   */
  async query(scope: ArchiveScope, request: ArchivePageRequest): Promise<ArchivePage> {
    await this.settled();
    return this.time('archive.query', async () => {
      const filters = scopeConditions(scope);
      if (request.start) filters.add((p) => `a.at >= ${p(request.start)}`);
      if (request.end) filters.add((p) => `a.at <= ${p(request.end)}`);
      if (request.afterId !== undefined) {
        const seq = await this.seqOf(scope, request.afterId);
        filters.add((p) => `a.seq > ${p(seq)}::bigint`);
      }
      if (request.beforeId !== undefined) {
        const seq = await this.seqOf(scope, request.beforeId);
        filters.add((p) => `a.seq < ${p(seq)}::bigint`);
      }
      if (request.ids !== undefined) {
        for (const id of request.ids) await this.seqOf(scope, id);
        filters.add((p) => `a.id = ANY(${p([...request.ids!])}::uuid[])`);
      }
      const { rows: counted } = await sql<{ n: number }>(
        this.dataSource,
        `SELECT count(*)::int AS n FROM archive a JOIN users u ON u.id = a.user_id WHERE ${filters.where}`,
        filters.params,
      );
      const count = counted[0]?.n ?? 0;
      const max = Math.max(0, Math.floor(request.max));
      if (max === 0) return { entries: [], complete: count === 0, count };

      const backward = request.before !== undefined;
      const page = new Conditions();
      page.params.push(...filters.params);
      page.clauses.push(...filters.clauses);
      if (typeof request.before === 'string') {
        const seq = await this.seqOf(scope, request.before);
        page.add((p) => `a.seq < ${p(seq)}::bigint`);
      }
      if (request.after !== undefined) {
        const seq = await this.seqOf(scope, request.after);
        page.add((p) => `a.seq > ${p(seq)}::bigint`);
      }
      const limit = page.param(max + 1);
      const { rows } = await sql<ArchiveEntry>(
        this.dataSource,
        `SELECT ${COLUMNS} FROM archive a JOIN users u ON u.id = a.user_id
         WHERE ${page.where} ORDER BY a.seq ${backward ? 'DESC' : 'ASC'} LIMIT ${limit}`,
        page.params,
      );
      const complete = rows.length <= max;
      const entries = rows.slice(0, max);
      if (backward) entries.reverse();
      return { entries, complete, count };
    });
  }

  /** The first and last message of an archive (MAM metadata), or nothing when it is empty. */
  async bounds(scope: ArchiveScope): Promise<{ first: ArchiveEntry; last: ArchiveEntry } | null> {
    await this.settled();
    return this.time('archive.bounds', async () => {
      const filters = scopeConditions(scope);
      const pick = async (order: 'ASC' | 'DESC') =>
        (
          await sql<ArchiveEntry>(
            this.dataSource,
            `SELECT ${COLUMNS} FROM archive a JOIN users u ON u.id = a.user_id WHERE ${filters.where}
             ORDER BY a.seq ${order} LIMIT 1`,
            filters.params,
          )
        ).rows[0];
      const first = await pick('ASC');
      const last = await pick('DESC');
      return first && last ? { first, last } : null;
    });
  }

  /**
   * Deletes messages archived before `cutoff`, oldest first, in batches so
   * that no statement holds many rows; stops after `maxBatches` (the next
   * run goes on). Returns how many rows went.
   */
  async pruneOlderThan(cutoff: Date, options: { batchSize?: number; maxBatches?: number } = {}): Promise<number> {
    const batchSize = options.batchSize ?? 5000;
    const maxBatches = options.maxBatches ?? 20;
    await this.settled();
    return this.time('archive.prune', async () => {
      let total = 0;
      for (let batch = 0; batch < maxBatches; batch++) {
        const { affected } = await sql(
          this.dataSource,
          `DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE at < $1 ORDER BY seq LIMIT $2)`,
          [cutoff, batchSize],
        );
        total += affected;
        if (affected < batchSize) break;
      }
      return total;
    });
  }

  /** Forgets a user's archive on one network (unregistration), or on all networks. Returns how many rows went. */
  async removeForUser(userJid: string, network?: string): Promise<number> {
    await this.settled();
    return this.time('archive.removeForUser', async () => {
      const { affected } = await sql(
        this.dataSource,
        `DELETE FROM archive a USING users u WHERE u.id = a.user_id AND u.jid = $1 AND ($2::text IS NULL OR a.network = $2)`,
        [normalizeBareJid(userJid), network ?? null],
      );
      return affected;
    });
  }

  /** The archive order of an id in this scope; item-not-found if it is not there. */
  private async seqOf(scope: ArchiveScope, id: string): Promise<string> {
    if (isArchiveId(id)) {
      const c = scopeConditions(scope);
      c.add((p) => `a.id = ${p(id)}::uuid`);
      const { rows } = await sql<{ seq: string }>(
        this.dataSource,
        `SELECT a.seq::text AS seq FROM archive a JOIN users u ON u.id = a.user_id WHERE ${c.where}`,
        c.params,
      );
      if (rows[0]) return rows[0].seq;
    }
    throw new GatewayError('item-not-found', `The message ${JSON.stringify(id).slice(0, 80)} is not in this archive (too old, or from another conversation).`);
  }
}
