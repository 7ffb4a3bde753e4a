import type { DataSource } from 'typeorm';
import { normalizeBareJid } from './users.js';
import { sql, type Timed } from './support.js';

/** What a roster entry is about: the gateway itself, or a network address behind it. */
export interface RosterEntity {
  kind: 'gateway' | 'contact' | 'server';
  /** The network address id; '' for the gateway. */
  id: string;
}

/** The presence subscription state between a user and one of the gateway's JIDs (RFC 6121 §3). */
export interface RosterItem {
  userJid: string;
  network: string;
  kind: RosterEntity['kind'];
  addressId: string;
  /** The user is subscribed to the entity's presence. */
  userSees: boolean;
  /** The entity is subscribed to the user's presence. */
  entitySees: boolean;
  /** The entity asked for the user's presence; no answer yet. */
  entityAsked: boolean;
  name: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type RosterPatch = Partial<Pick<RosterItem, 'userSees' | 'entitySees' | 'entityAsked' | 'name'>>;

const COLUMNS = `u.jid AS "userJid", r.network, r.kind, r.address_id AS "addressId", r.user_sees AS "userSees",
  r.entity_sees AS "entitySees", r.entity_asked AS "entityAsked", r.name, r.created_at AS "createdAt",
  r.updated_at AS "updatedAt"`;

/** Presence subscriptions per (user, network, entity); see migrations/1795308059421-roster.ts. */
export class RosterRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly time: Timed,
  ) {}

  async get(userJid: string, network: string, entity: RosterEntity): Promise<RosterItem | null> {
    const jid = normalizeBareJid(userJid);
    return this.time('roster.get', async () => {
      const { rows } = await sql<RosterItem>(
        this.dataSource,
        `SELECT ${COLUMNS} FROM roster_items r JOIN users u ON u.id = r.user_id
         WHERE u.jid = $1 AND r.network = $2 AND r.kind = $3 AND r.address_id = $4`,
        [jid, network, entity.kind, entity.id],
      );
      return rows[0] ?? null;
    });
  }

  /**
   * Creates or changes the entry (and the user, if new): fields in `patch`
   * are set, the others kept (false / null for a new entry).
   */
  async update(userJid: string, network: string, entity: RosterEntity, patch: RosterPatch): Promise<RosterItem> {
    const jid = normalizeBareJid(userJid);
    if (network === '') throw new TypeError('network must be a non-empty string');
    return this.time('roster.update', async () => {
      // A concurrent first write for the same new user can leave this
      // statement seeing no user row (its snapshot predates the other
      // insert): then once more.
      for (let attempt = 1; ; attempt++) {
        const row = await this.upsert(jid, network, entity, patch);
        if (row || attempt >= 3) {
          if (!row) throw new Error(`roster entry for ${jid} could not be written`);
          return row;
        }
      }
    });
  }

  private async upsert(jid: string, network: string, entity: RosterEntity, patch: RosterPatch): Promise<RosterItem | undefined> {
    {
      const { rows } = await sql<RosterItem>(
        this.dataSource,
        `WITH u0 AS (
           INSERT INTO users (jid) VALUES ($1) ON CONFLICT (jid) DO NOTHING RETURNING id
         ), u AS (
           SELECT id FROM u0 UNION ALL SELECT id FROM users WHERE jid = $1
         ), r AS (
           INSERT INTO roster_items (user_id, network, kind, address_id, user_sees, entity_sees, entity_asked, name)
           SELECT id, $2, $3, $4, COALESCE($5::boolean, false), COALESCE($6::boolean, false), COALESCE($7::boolean, false),
                  CASE WHEN $9::boolean THEN $8::text ELSE NULL END
           FROM u LIMIT 1
           ON CONFLICT (user_id, network, kind, address_id) DO UPDATE SET
             user_sees = COALESCE($5::boolean, roster_items.user_sees),
             entity_sees = COALESCE($6::boolean, roster_items.entity_sees),
             entity_asked = COALESCE($7::boolean, roster_items.entity_asked),
             name = CASE WHEN $9::boolean THEN $8::text ELSE roster_items.name END,
             updated_at = now()
           RETURNING *
         )
         SELECT $1::text AS "userJid", r.network, r.kind, r.address_id AS "addressId", r.user_sees AS "userSees",
                r.entity_sees AS "entitySees", r.entity_asked AS "entityAsked", r.name, r.created_at AS "createdAt",
                r.updated_at AS "updatedAt"
         FROM r`,
        [
          jid,
          network,
          entity.kind,
          entity.id,
          patch.userSees ?? null,
          patch.entitySees ?? null,
          patch.entityAsked ?? null,
          patch.name ?? null,
          'name' in patch,
        ],
      );
      return rows[0];
    }
  }

  /** The user's entries on a network (all of them, or those matching `filter`). */
  async list(userJid: string, network: string, filter: { kind?: RosterEntity['kind']; userSees?: boolean } = {}): Promise<RosterItem[]> {
    const jid = normalizeBareJid(userJid);
    return this.time('roster.list', async () => {
      const { rows } = await sql<RosterItem>(
        this.dataSource,
        `SELECT ${COLUMNS} FROM roster_items r JOIN users u ON u.id = r.user_id
         WHERE u.jid = $1 AND r.network = $2 AND ($3::text IS NULL OR r.kind = $3) AND ($4::boolean IS NULL OR r.user_sees = $4)
         ORDER BY r.kind, r.address_id`,
        [jid, network, filter.kind ?? null, filter.userSees ?? null],
      );
      return rows;
    });
  }

  /** Entries of every user on a network (e.g. whom to probe at start), optionally only those the entity sees. */
  async listByNetwork(network: string, filter: { kind?: RosterEntity['kind']; entitySees?: boolean } = {}): Promise<RosterItem[]> {
    return this.time('roster.listByNetwork', async () => {
      const { rows } = await sql<RosterItem>(
        this.dataSource,
        `SELECT ${COLUMNS} FROM roster_items r JOIN users u ON u.id = r.user_id
         WHERE r.network = $1 AND ($2::text IS NULL OR r.kind = $2) AND ($3::boolean IS NULL OR r.entity_sees = $3)
         ORDER BY u.jid, r.kind, r.address_id`,
        [network, filter.kind ?? null, filter.entitySees ?? null],
      );
      return rows;
    });
  }

  /** Forgets the user's entries on a network (when they unregister). Returns how many went. */
  async removeForUser(userJid: string, network: string): Promise<number> {
    const jid = normalizeBareJid(userJid);
    return this.time('roster.removeForUser', async () => {
      const { affected } = await sql(
        this.dataSource,
        `DELETE FROM roster_items r USING users u WHERE u.id = r.user_id AND u.jid = $1 AND r.network = $2`,
        [jid, network],
      );
      return affected;
    });
  }
}
