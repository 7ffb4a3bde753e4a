import type { DataSource } from 'typeorm';
import type { SecretBox } from '../crypto.js';
import { FOREIGN_KEY_VIOLATION, sql, sqlState, type Timed } from './support.js';

export interface Account {
  id: string;
  userId: string;
  /** The owner's bare JID (joined from users), so a caller listing a network's accounts knows whose they are. */
  userJid: string;
  network: string;
  accountKey: string;
  /** Decrypted. */
  credentials: Record<string, unknown>;
  settings: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

interface AccountRecord extends Omit<Account, 'credentials'> {
  credentials: Buffer;
}

const SELECT = `
  SELECT a.id, a.user_id AS "userId", u.jid AS "userJid", a.network, a.account_key AS "accountKey",
         a.credentials, a.settings, a.created_at AS "createdAt", a.updated_at AS "updatedAt"
  FROM network_accounts a JOIN users u ON u.id = a.user_id`;

/**
 * What the credentials of one account are bound to (GCM additional data): a
 * sealed value copied into another account's row does not open there.
 */
export function credentialsContext(userId: string, network: string, accountKey: string): string {
  return JSON.stringify(['network_accounts.credentials', userId, network, accountKey]);
}

export class AccountsRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly time: Timed,
    private readonly box: SecretBox,
  ) {}

  /**
   * Creates or replaces the account (user, network, accountKey). Credentials
   * are always replaced (sealed); settings are replaced when given and kept
   * (or {} for a new account) when not.
   */
  async upsert(
    userId: string,
    network: string,
    accountKey: string,
    credentials: Record<string, unknown>,
    settings?: Record<string, unknown>,
  ): Promise<Account> {
    checkNetwork(network);
    if (credentials === null || typeof credentials !== 'object' || Array.isArray(credentials)) {
      throw new TypeError('credentials must be a plain object');
    }
    const sealed = this.box.sealJson(credentials, credentialsContext(userId, network, accountKey));
    const settingsJson = settings === undefined ? null : JSON.stringify(settings);
    return this.time('accounts.upsert', async () => {
      try {
        const { rows } = await sql<AccountRecord>(
          this.dataSource,
          `WITH a AS (
             INSERT INTO network_accounts (user_id, network, account_key, credentials, settings)
             VALUES ($1, $2, $3, $4, COALESCE($5::jsonb, '{}'::jsonb))
             ON CONFLICT (user_id, network, account_key) DO UPDATE
               SET credentials = EXCLUDED.credentials,
                   settings = COALESCE($5::jsonb, network_accounts.settings),
                   updated_at = now()
             RETURNING *)
           SELECT a.id, a.user_id AS "userId", u.jid AS "userJid", a.network, a.account_key AS "accountKey",
                  a.credentials, a.settings, a.created_at AS "createdAt", a.updated_at AS "updatedAt"
           FROM a JOIN users u ON u.id = a.user_id`,
          [userId, network, accountKey, sealed, settingsJson],
        );
        return this.open(rows[0]!);
      } catch (err) {
        if (sqlState(err) === FOREIGN_KEY_VIOLATION) throw new Error(`no user with id ${userId}`, { cause: err });
        throw err;
      }
    });
  }

  /** Replaces the settings of an existing account; null if there is no such account. */
  async updateSettings(
    userId: string,
    network: string,
    accountKey: string,
    settings: Record<string, unknown>,
  ): Promise<Account | null> {
    return this.time('accounts.updateSettings', async () => {
      const { rows } = await sql<{ id: string }>(
        this.dataSource,
        `UPDATE network_accounts SET settings = $4::jsonb, updated_at = now()
         WHERE user_id = $1 AND network = $2 AND account_key = $3 RETURNING id`,
        [userId, network, accountKey, JSON.stringify(settings)],
      );
      if (!rows[0]) return null;
      return this.one(`${SELECT} WHERE a.id = $1`, [rows[0].id]);
    });
  }

  /** The account with decrypted credentials, or null. Throws DecryptionError if the key is wrong. */
  async get(userId: string, network: string, accountKey: string): Promise<Account | null> {
    return this.time('accounts.get', () =>
      this.one(`${SELECT} WHERE a.user_id = $1 AND a.network = $2 AND a.account_key = $3`, [
        userId,
        network,
        accountKey,
      ]),
    );
  }

  async listForUser(userId: string): Promise<Account[]> {
    return this.time('accounts.listForUser', () =>
      this.many(`${SELECT} WHERE a.user_id = $1 ORDER BY a.network, a.account_key`, [userId]),
    );
  }

  /** Every account on a network, all users (e.g. to reconnect them at start). */
  async listForNetwork(network: string): Promise<Account[]> {
    return this.time('accounts.listForNetwork', () =>
      this.many(`${SELECT} WHERE a.network = $1 ORDER BY u.jid, a.account_key`, [network]),
    );
  }

  /** Removes the account and, by cascade, its message ids. True if there was one. */
  async remove(userId: string, network: string, accountKey: string): Promise<boolean> {
    return this.time('accounts.remove', async () => {
      const { affected } = await sql(
        this.dataSource,
        `DELETE FROM network_accounts WHERE user_id = $1 AND network = $2 AND account_key = $3`,
        [userId, network, accountKey],
      );
      return affected > 0;
    });
  }

  private async one(text: string, params: unknown[]): Promise<Account | null> {
    const { rows } = await sql<AccountRecord>(this.dataSource, text, params);
    return rows[0] ? this.open(rows[0]) : null;
  }

  private async many(text: string, params: unknown[]): Promise<Account[]> {
    const { rows } = await sql<AccountRecord>(this.dataSource, text, params);
    return rows.map((row) => this.open(row));
  }

  private open(row: AccountRecord): Account {
    const credentials = this.box.openJson<Record<string, unknown>>(
      row.credentials,
      credentialsContext(row.userId, row.network, row.accountKey),
    );
    return { ...row, credentials };
  }
}

function checkNetwork(network: string): void {
  if (typeof network !== 'string' || network === '') throw new TypeError('network must be a non-empty string');
}
