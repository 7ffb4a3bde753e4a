import type { DataSource } from 'typeorm';
import { GatewayError } from '../../core/errors.js';
import { UserEntity, type UserRow } from '../entities/index.js';
import { sql, type Timed } from './support.js';

export type User = UserRow;

// RFC 7622: a localpart excludes " & ' / : < > @ and spaces; no part may be empty
// or longer than 1023 bytes. Full PRECIS/IDNA mapping is out of scope: we
// lowercase (Unicode default case folding) after NFC normalization.
const LOCALPART = /^[^\s"&'/:<>@]+$/u;
const DOMAIN = /^[^\s/@]+$/u;

/**
 * Normalizes a bare JID for storage and lookup: NFC, lowercased. Throws a
 * jid-malformed GatewayError for something that is not a bare JID (empty
 * part, a resource, characters a JID cannot hold).
 */
export function normalizeBareJid(jid: string): string {
  const normalized = String(jid).normalize('NFC').toLowerCase();
  const at = normalized.lastIndexOf('@');
  const local = at >= 0 ? normalized.slice(0, at) : null;
  const domain = at >= 0 ? normalized.slice(at + 1) : normalized;
  const ok =
    (local === null || (LOCALPART.test(local) && Buffer.byteLength(local) <= 1023)) &&
    DOMAIN.test(domain) &&
    Buffer.byteLength(domain) <= 1023;
  if (!ok) throw new GatewayError('jid-malformed', `not a bare JID: ${JSON.stringify(jid).slice(0, 200)}`);
  return normalized;
}

export class UsersRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly time: Timed,
  ) {}

  /** The user with this bare JID, created if new. Safe against concurrent calls. */
  async getOrCreate(jid: string): Promise<User> {
    const normalized = normalizeBareJid(jid);
    return this.time('users.getOrCreate', async () => {
      const { rows } = await sql<User>(
        this.dataSource,
        `INSERT INTO users (jid) VALUES ($1) ON CONFLICT (jid) DO NOTHING
         RETURNING id, jid, created_at AS "createdAt"`,
        [normalized],
      );
      if (rows[0]) return rows[0];
      const existing = await this.dataSource.getRepository(UserEntity).findOneBy({ jid: normalized });
      if (!existing) throw new Error(`user ${normalized} vanished while being created`);
      return existing;
    });
  }

  async find(jid: string): Promise<User | null> {
    const normalized = normalizeBareJid(jid);
    return this.time('users.find', () => this.dataSource.getRepository(UserEntity).findOneBy({ jid: normalized }));
  }

  findById(id: string): Promise<User | null> {
    return this.time('users.findById', () => this.dataSource.getRepository(UserEntity).findOneBy({ id }));
  }

  /** Removes the user and, by cascade, their accounts and message ids. True if there was one. */
  async remove(jid: string): Promise<boolean> {
    const normalized = normalizeBareJid(jid);
    return this.time('users.remove', async () => {
      const { affected } = await sql(this.dataSource, `DELETE FROM users WHERE jid = $1`, [normalized]);
      return affected > 0;
    });
  }

  list(): Promise<User[]> {
    return this.time('users.list', () => this.dataSource.getRepository(UserEntity).find({ order: { jid: 'ASC' } }));
  }
}
