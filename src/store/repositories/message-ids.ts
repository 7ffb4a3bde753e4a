import type { DataSource } from 'typeorm';
import {
  DEADLOCK_DETECTED,
  SERIALIZATION_FAILURE,
  UNIQUE_VIOLATION,
  sql,
  sqlState,
  transaction,
  type Timed,
} from './support.js';

const RECORD_ATTEMPTS = 5;
const RETRYABLE = new Set([UNIQUE_VIOLATION, DEADLOCK_DETECTED, SERIALIZATION_FAILURE]);

/**
 * XMPP message id <-> network message ids, per account and conversation. One
 * XMPP message may become several network messages (IRC splits long lines),
 * kept in order.
 */
export class MessageIdsRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly time: Timed,
  ) {}

  /**
   * Records that `xmppId` became `networkIds` (in that order). Recording an
   * XMPP id again replaces its network ids; a network id recorded again moves
   * to the newer XMPP id (last writer wins), so the mapping stays 1 -> N.
   */
  async record(accountId: string, conversation: string, xmppId: string, networkIds: readonly string[]): Promise<void> {
    checkIds(conversation, xmppId);
    if (!Array.isArray(networkIds) || networkIds.length === 0) {
      throw new TypeError('networkIds must be a non-empty array');
    }
    if (networkIds.some((id) => typeof id !== 'string' || id === '')) {
      throw new TypeError('every network id must be a non-empty string');
    }
    if (new Set(networkIds).size !== networkIds.length) throw new TypeError('networkIds has duplicates');
    const ids = [...networkIds];
    return this.time('messageIds.record', async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await transaction(this.dataSource, async (runner) => {
            // One writer per (account, conversation) at a time, across processes:
            // without it, concurrent records of overlapping ids collide on the
            // unique keys (measured: 8 concurrent records exhaust any retry budget).
            await sql(runner, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
              `ponte.message_ids\n${accountId}\n${conversation}`,
            ]);
            await sql(
              runner,
              `DELETE FROM message_ids
               WHERE account_id = $1 AND conversation = $2 AND (xmpp_id = $3 OR network_id = ANY($4::text[]))`,
              [accountId, conversation, xmppId, ids],
            );
            await sql(
              runner,
              `INSERT INTO message_ids (account_id, conversation, xmpp_id, part, network_id)
               SELECT $1, $2, $3, t.ord - 1, t.network_id
               FROM unnest($4::text[]) WITH ORDINALITY AS t(network_id, ord)`,
              [accountId, conversation, xmppId, ids],
            );
          });
          return;
        } catch (err) {
          // A safety net (the lock above should leave nothing to retry).
          if (!RETRYABLE.has(sqlState(err) ?? '') || attempt >= RECORD_ATTEMPTS) throw err;
        }
      }
    });
  }

  /** The network ids an XMPP message became, in order; [] if unknown. */
  async networkIdsFor(accountId: string, conversation: string, xmppId: string): Promise<string[]> {
    return this.time('messageIds.networkIdsFor', async () => {
      const { rows } = await sql<{ networkId: string }>(
        this.dataSource,
        `SELECT network_id AS "networkId" FROM message_ids
         WHERE account_id = $1 AND conversation = $2 AND xmpp_id = $3 ORDER BY part`,
        [accountId, conversation, xmppId],
      );
      return rows.map((row) => row.networkId);
    });
  }

  /** The XMPP message id a network message belongs to, or null. */
  async xmppIdFor(accountId: string, conversation: string, networkId: string): Promise<string | null> {
    return this.time('messageIds.xmppIdFor', async () => {
      const { rows } = await sql<{ xmppId: string }>(
        this.dataSource,
        `SELECT xmpp_id AS "xmppId" FROM message_ids
         WHERE account_id = $1 AND conversation = $2 AND network_id = $3`,
        [accountId, conversation, networkId],
      );
      return rows[0]?.xmppId ?? null;
    });
  }

  /** Forgets mappings recorded before `cutoff` (the table would otherwise grow forever). Returns how many rows went. */
  async pruneOlderThan(cutoff: Date): Promise<number> {
    return this.time('messageIds.prune', async () => {
      const { affected } = await sql(this.dataSource, `DELETE FROM message_ids WHERE created_at < $1`, [cutoff]);
      return affected;
    });
  }
}

function checkIds(conversation: string, xmppId: string): void {
  if (typeof conversation !== 'string' || conversation === '') {
    throw new TypeError('conversation must be a non-empty string');
  }
  if (typeof xmppId !== 'string' || xmppId === '') throw new TypeError('xmppId must be a non-empty string');
}
