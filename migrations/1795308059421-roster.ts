// Presence subscriptions between each user and the gateway's JIDs (RFC 6121),
// kept so that they survive restarts: whom the gateway may send presence to,
// and which contacts were already offered to the user's roster.
//
// One row per (user, network, entity); the entity is the gateway itself
// (kind 'gateway', address_id ''), a contact or a network server, named by
// its network address (not its JID, so a renamed gateway domain keeps them).
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Roster1795308059421 implements MigrationInterface {
  readonly name = 'Roster1795308059421';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE roster_items (
        user_id uuid NOT NULL,
        network text NOT NULL,
        kind text NOT NULL,
        address_id text NOT NULL,
        -- The user is subscribed to the entity's presence (the user's roster item has 'to' or 'both').
        user_sees boolean NOT NULL DEFAULT false,
        -- The entity is subscribed to the user's presence ('from' or 'both').
        entity_sees boolean NOT NULL DEFAULT false,
        -- The entity asked for the user's presence and has no answer yet.
        entity_asked boolean NOT NULL DEFAULT false,
        name text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT roster_items_pkey PRIMARY KEY (user_id, network, kind, address_id),
        CONSTRAINT roster_items_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
        CONSTRAINT roster_items_kind_check CHECK (kind IN ('gateway', 'contact', 'server')),
        CONSTRAINT roster_items_network_check CHECK (network <> '')
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE roster_items`);
  }
}
