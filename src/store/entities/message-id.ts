// message_ids: one XMPP message id <-> one or more network message ids (an
// IRC line split into several, ordered by `part`), per account and
// conversation, so corrections, replies and reactions find their target.
import { EntitySchema } from 'typeorm';

export interface MessageIdRow {
  accountId: string;
  /** The conversation as the network adapter names it (channel, room id, nick); compared exactly. */
  conversation: string;
  xmppId: string;
  /** 0-based position of networkId among the network messages the XMPP message became. */
  part: number;
  networkId: string;
  createdAt: Date;
}

export const MessageIdEntity = new EntitySchema<MessageIdRow>({
  name: 'MessageId',
  tableName: 'message_ids',
  columns: {
    accountId: {
      name: 'account_id',
      type: 'uuid',
      primary: true,
      primaryKeyConstraintName: 'message_ids_pkey',
      foreignKey: { target: 'NetworkAccount', name: 'message_ids_account_id_fkey', onDelete: 'CASCADE' },
    },
    conversation: { type: 'text', primary: true, primaryKeyConstraintName: 'message_ids_pkey' },
    xmppId: { name: 'xmpp_id', type: 'text', primary: true, primaryKeyConstraintName: 'message_ids_pkey' },
    part: { type: 'integer', primary: true, primaryKeyConstraintName: 'message_ids_pkey' },
    networkId: { name: 'network_id', type: 'text' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true, default: () => 'now()' },
  },
  uniques: [{ name: 'message_ids_network_id_key', columns: ['accountId', 'conversation', 'networkId'] }],
  indices: [{ name: 'message_ids_created_at_idx', columns: ['createdAt'] }],
  checks: [{ name: 'message_ids_part_check', expression: 'part >= 0' }],
});
