// The entities, as TypeORM EntitySchemas (no decorators: tests run through
// tsx/esbuild, which emits no decorator metadata). The schema itself is owned
// by the migrations; these describe it for queries, and the e2e suite checks
// that the two agree.
import { UserEntity } from './user.js';
import { NetworkAccountEntity } from './network-account.js';
import { ContactMappingEntity, RoomMappingEntity } from './mapping.js';
import { MessageIdEntity } from './message-id.js';

export { UserEntity, type UserRow } from './user.js';
export { NetworkAccountEntity, type NetworkAccountRow } from './network-account.js';
export { RoomMappingEntity, ContactMappingEntity, type MappingRow } from './mapping.js';
export { MessageIdEntity, type MessageIdRow } from './message-id.js';

export const entities = [UserEntity, NetworkAccountEntity, RoomMappingEntity, ContactMappingEntity, MessageIdEntity];
