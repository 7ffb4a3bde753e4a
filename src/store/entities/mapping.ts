// room_mappings and contact_mappings: per network, a JID-safe handle (see
// ../handles.ts) for a network id that a JID cannot carry as is. Both tables
// have the same shape; network_id is stored case-preserving and compared
// case-sensitively, handle is lowercase.
import { EntitySchema } from 'typeorm';

export interface MappingRow {
  id: string;
  network: string;
  /** The network's own id, exactly as the network spells it. */
  networkId: string;
  handle: string;
  /** Display name, when known (room name, contact display name). */
  name: string | null;
  createdAt: Date;
}

function mappingEntity(entityName: string, table: string): EntitySchema<MappingRow> {
  return new EntitySchema<MappingRow>({
    name: entityName,
    tableName: table,
    columns: {
      id: { type: 'uuid', primary: true, generated: 'uuid', primaryKeyConstraintName: `${table}_pkey` },
      network: { type: 'text' },
      networkId: { name: 'network_id', type: 'text' },
      handle: { type: 'text' },
      name: { type: 'text', nullable: true },
      createdAt: { name: 'created_at', type: 'timestamptz', createDate: true, default: () => 'now()' },
    },
    uniques: [
      { name: `${table}_network_id_key`, columns: ['network', 'networkId'] },
      { name: `${table}_handle_key`, columns: ['network', 'handle'] },
    ],
    checks: [{ name: `${table}_handle_check`, expression: `handle ~ '^[a-z0-9][a-z0-9._-]{0,63}$'` }],
  });
}

export const RoomMappingEntity = mappingEntity('RoomMapping', 'room_mappings');
export const ContactMappingEntity = mappingEntity('ContactMapping', 'contact_mappings');
