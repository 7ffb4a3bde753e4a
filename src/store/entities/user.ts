// users: one row per XMPP user of the gateway, by bare JID (lowercased).
import { EntitySchema } from 'typeorm';

export interface UserRow {
  id: string;
  /** Bare JID, lowercased (see UsersRepository.normalizeJid). */
  jid: string;
  createdAt: Date;
}

export const UserEntity = new EntitySchema<UserRow>({
  name: 'User',
  tableName: 'users',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid', primaryKeyConstraintName: 'users_pkey' },
    jid: { type: 'text' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true, default: () => 'now()' },
  },
  uniques: [{ name: 'users_jid_key', columns: ['jid'] }],
  checks: [{ name: 'users_jid_check', expression: `jid = lower(jid) AND jid <> ''` }],
});
