// network_accounts: what a user registered on a network (an IRC server, a
// Matrix account). Credentials are sealed with SecretBox (bytea); settings are
// plain jsonb (nothing secret belongs there).
import { EntitySchema } from 'typeorm';

export interface NetworkAccountRow {
  id: string;
  userId: string;
  /** 'irc', 'matrix', or any other adapter's name. */
  network: string;
  /** The account within the network: IRC server hostname, Matrix user id, or ''. Case-preserving. */
  accountKey: string;
  /** SecretBox-sealed JSON. */
  credentials: Buffer;
  settings: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export const NetworkAccountEntity = new EntitySchema<NetworkAccountRow>({
  name: 'NetworkAccount',
  tableName: 'network_accounts',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid', primaryKeyConstraintName: 'network_accounts_pkey' },
    userId: {
      name: 'user_id',
      type: 'uuid',
      foreignKey: { target: 'User', name: 'network_accounts_user_id_fkey', onDelete: 'CASCADE' },
    },
    network: { type: 'text' },
    accountKey: { name: 'account_key', type: 'text', default: '' },
    credentials: { type: 'bytea' },
    settings: { type: 'jsonb', default: {} },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true, default: () => 'now()' },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true, default: () => 'now()' },
  },
  uniques: [{ name: 'network_accounts_user_network_key', columns: ['userId', 'network', 'accountKey'] }],
  indices: [{ name: 'network_accounts_network_idx', columns: ['network'] }],
  checks: [{ name: 'network_accounts_network_check', expression: `network <> ''` }],
});
