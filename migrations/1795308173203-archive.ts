// The message archive: every message that went through the gateway, per user,
// as that user saw it (a room's messages once per user, not per resource).
// It serves MAM (XEP-0313) and is also where message ids meet: the row's id
// is the XEP-0359 stanza-id ponte stamps on the message (stable across
// restarts because the row is written before the stanza is sent), xmpp_id is
// the id attribute the message carried (the client's own id for what the
// user sent), origin_id the client's origin-id, network_ids what the network
// calls it (several when it split one message). Corrections, retractions,
// reactions, replies and markers from either side find their target here.
//
// Why not message_ids: it is keyed by a network account, which networks
// without registration do not have, and it lets a network id belong to one
// XMPP id only, where a message the user sent has two (their id and the
// stanza-id).
//
// - seq: the archive order (XEP-0313 "the order the client received them"),
//   from one sequence, so unique across processes; `id` is what clients see.
// - kind 'groupchat': a room's messages, conversation = the room's bare JID.
//   kind 'chat': one-to-one, conversation = the peer's bare JID (a contact,
//   a network server, the gateway), `resource` = the occupant nick for a
//   private message through a room.
// - content: the message as JSON (src/xmpp/message-codec.ts MessageContent),
//   NULL when the admin turned the archive off (ids only, no text).
// - at: when the gateway archived it (start/end filters, retention);
//   sent_at: when the network says it was sent, if it says.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Archive1795308173203 implements MigrationInterface {
  readonly name = 'Archive1795308173203';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE archive (
        seq bigint GENERATED ALWAYS AS IDENTITY,
        id uuid NOT NULL,
        user_id uuid NOT NULL,
        network text NOT NULL,
        kind text NOT NULL,
        conversation text NOT NULL,
        resource text NOT NULL DEFAULT '',
        outgoing boolean NOT NULL,
        nick text NOT NULL DEFAULT '',
        xmpp_id text NOT NULL,
        origin_id text,
        network_ids text[] NOT NULL DEFAULT '{}',
        content jsonb,
        at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        CONSTRAINT archive_pkey PRIMARY KEY (seq),
        CONSTRAINT archive_id_key UNIQUE (id),
        CONSTRAINT archive_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
        CONSTRAINT archive_kind_check CHECK (kind IN ('groupchat', 'chat')),
        CONSTRAINT archive_conversation_check CHECK (conversation = lower(conversation) AND conversation <> ''),
        CONSTRAINT archive_network_check CHECK (network <> '')
      )`);
    // MAM on one conversation (a room, or 'with' a contact), in archive order.
    await queryRunner.query(`CREATE INDEX archive_conversation_idx ON archive (user_id, conversation, seq)`);
    // MAM on the gateway without 'with': all of a user's one-to-one chats on a network.
    await queryRunner.query(`CREATE INDEX archive_user_kind_idx ON archive (user_id, network, kind, seq)`);
    // References from XMPP: the id attribute or origin-id of a message.
    await queryRunner.query(`CREATE INDEX archive_xmpp_id_idx ON archive (user_id, conversation, xmpp_id)`);
    await queryRunner.query(
      `CREATE INDEX archive_origin_id_idx ON archive (user_id, conversation, origin_id) WHERE origin_id IS NOT NULL`,
    );
    // References from the network (a Matrix event id, an IRC msgid): few rows share one.
    await queryRunner.query(`CREATE INDEX archive_network_ids_idx ON archive USING gin (network_ids)`);
    // Retention.
    await queryRunner.query(`CREATE INDEX archive_at_idx ON archive (at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE archive`);
  }
}
