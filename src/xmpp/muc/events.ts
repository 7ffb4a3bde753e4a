// What happens in rooms on the network, shown to every resource of the user
// that is in the room: occupants joining, leaving, renamed, kicked, banned,
// role and affiliation changes, subject changes, the user being put out,
// invitations. Events for a room still being joined wait for the join.
//
// Decisions:
// - A netsplit (participantsLeft) is one unavailable presence per nick with
//   the split as status text, all in one go. The one-line summary users
//   read is the network's to give (IRC sends it as a room notice), as only
//   the network knows what happened.
// - The user put out by the network (roomLeft, or their own nick parting)
//   gets their unavailable with 110 + 333; a session closed by the gateway
//   (shutdown, unregistration, admin) 110 + 332, which clients take as "rejoin
//   later". The reason is the status text.
// - A new room name or avatar is a configuration change (status 104,
//   XEP-0045 §10.2.1): clients read disco#info again, where the name and the
//   XEP-0486 avatar hash are. A new avatar is also a presence from the room's
//   bare JID with its XEP-0153 hash (as Prosody's mod_vcard_muc sends), which
//   clients take as "fetch the room's vCard again".
// - Network invitations become mediated invitations (XEP-0045 §7.8.2) from
//   the room JID to the user's bare JID, with the password if any. Not also a
//   XEP-0249 one: clients would show the same invitation twice, and a
//   mediated one needs no inviter (a server may invite) and carries the
//   password in the MUC namespace.
import type { GatewayDomain } from '../../core/core.js';
import type { RoomState } from '../../core/rooms.js';
import type { Session } from '../../core/sessions.js';
import type { NetworkAddress, Participant, Subject } from '../../networks/types.js';
import type { XmppContext } from '../context.js';
import { newId, occupantCaps, ownItem, sendInOrder } from './common.js';
import { applyOwnNickChange, subjectAuthor } from './occupancy.js';
import { configChangeMessage, mediatedInvite, occupantPresence, STATUS, subjectMessage, unavailablePresence } from './stanzas.js';
import { xml, type Element } from '../stanza.js';
import { vcardUpdateElement } from '../vcard.js';

type Handler = (room: RoomState, gateway: GatewayDomain) => Promise<void> | void;

export function registerRoomEvents(context: XmppContext): void {
  const { core, log } = context;

  /** Runs `handler` for the user's room, now or once its join is done; errors are logged. */
  const inRoom = (session: Session, address: NetworkAddress, event: string, handler: Handler): void => {
    const room = session.room(address);
    if (!room) {
      log.debug({ user: session.userJid, room: address.id, event }, 'event for a room the user is not in');
      return;
    }
    const gateway = core.gateway(session.domain);
    if (!gateway) return;
    const run = () => {
      if (session.room(address) !== room) return;
      Promise.resolve()
        .then(() => handler(room, gateway))
        .catch((err: Error) => log.warn({ err: err.message, room: room.jid, event }, 'room event failed'));
    };
    if (room.joining) room.deferred.push(run);
    else run();
  };

  const toAll = (room: RoomState, build: (to: string) => Element[]): Promise<void> =>
    sendInOrder(context, [...room.resources].flatMap(build));

  const presenceOf = (room: RoomState, gateway: GatewayDomain, participant: Participant, to: string): Element =>
    occupantPresence({
      roomJid: room.jid,
      nick: participant.nick,
      to,
      item: { affiliation: participant.affiliation, role: participant.role },
      show: participant.show,
      status: participant.status,
      caps: occupantCaps(gateway),
    });

  const ownPresence = (room: RoomState, gateway: GatewayDomain, to: string): Element =>
    occupantPresence({ roomJid: room.jid, nick: room.nick, to, item: ownItem(room), codes: [STATUS.self], caps: occupantCaps(gateway) });

  /** The user is out of the room: own unavailable to every resource, and the room is gone from the session. */
  const userOut = (session: Session, room: RoomState, codes: number[], item: { actor?: string; reason?: string; affiliation?: Participant['affiliation'] }, status?: string) => {
    if (session.room(room.address) === room) session.rooms.delete(room.address.id);
    const resources = [...room.resources];
    room.resources.clear();
    return sendInOrder(
      context,
      resources.map((to) =>
        unavailablePresence({
          roomJid: room.jid,
          nick: room.nick,
          to,
          item: ownItem(room, { role: 'none', ...item }),
          codes: [STATUS.self, ...codes],
          status,
        }),
      ),
    );
  };

  const participantGone = (session: Session, room: RoomState, nick: string, reason: string | undefined): Promise<void> => {
    if (nick === room.nick) return userOut(session, room, [STATUS.technical], {}, reason ?? 'You are no longer in the room.');
    const participant = room.removeParticipant(nick);
    if (!participant) return Promise.resolve();
    return toAll(room, (to) => [
      unavailablePresence({ roomJid: room.jid, nick, to, item: { affiliation: participant.affiliation, role: 'none' }, status: reason }),
    ]);
  };

  core.events.on('participantJoined', (session, address, participant) =>
    inRoom(session, address, 'participantJoined', (room, gateway) => {
      if (participant.nick === room.nick) {
        // The network echoing the user's own join: only a change of role or affiliation matters.
        if (participant.role === room.role && participant.affiliation === room.affiliation) return;
        room.role = participant.role;
        room.affiliation = participant.affiliation;
        return toAll(room, (to) => [ownPresence(room, gateway, to)]);
      }
      room.setParticipant(participant);
      return toAll(room, (to) => [presenceOf(room, gateway, participant, to)]);
    }),
  );

  core.events.on('participantLeft', (session, address, nick, reason) =>
    inRoom(session, address, 'participantLeft', (room) => participantGone(session, room, nick, reason)),
  );

  core.events.on('participantsLeft', (session, address, nicks, reason) =>
    inRoom(session, address, 'participantsLeft', async (room) => {
      const own = nicks.includes(room.nick);
      const others = nicks.filter((nick) => nick !== room.nick);
      const gone = others.map((nick) => room.removeParticipant(nick)).filter((p): p is Participant => p !== undefined);
      await toAll(room, (to) =>
        gone.map((participant) =>
          unavailablePresence({ roomJid: room.jid, nick: participant.nick, to, item: { affiliation: participant.affiliation, role: 'none' }, status: reason }),
        ),
      );
      if (own) await participantGone(session, room, room.nick, reason);
    }),
  );

  core.events.on('nickChanged', (session, address, oldNick, newNick) =>
    inRoom(session, address, 'nickChanged', (room, gateway) => {
      if (oldNick === room.nick) return applyOwnNickChange(context, gateway, room, newNick);
      const renamed = room.renameParticipant(oldNick, newNick);
      if (!renamed) {
        // Someone we did not know of: show them under the new nick.
        const participant: Participant = { nick: newNick, role: 'participant', affiliation: 'none' };
        room.setParticipant(participant);
        return toAll(room, (to) => [presenceOf(room, gateway, participant, to)]);
      }
      return toAll(room, (to) => [
        unavailablePresence({
          roomJid: room.jid,
          nick: oldNick,
          to,
          item: { affiliation: renamed.affiliation, role: renamed.role, nick: newNick },
          codes: [STATUS.nickChanged],
        }),
        presenceOf(room, gateway, renamed, to),
      ]);
    }),
  );

  core.events.on('participantChanged', (session, address, participant) =>
    inRoom(session, address, 'participantChanged', (room, gateway) => {
      if (participant.nick === room.nick) {
        room.role = participant.role;
        room.affiliation = participant.affiliation;
        return toAll(room, (to) => [ownPresence(room, gateway, to)]);
      }
      const previous = room.participants.get(participant.nick);
      const merged: Participant = { ...previous, ...participant };
      room.setParticipant(merged);
      return toAll(room, (to) => [presenceOf(room, gateway, merged, to)]);
    }),
  );

  const removed = (kind: 'kicked' | 'banned') => (session: Session, address: NetworkAddress, nick: string, by?: string, reason?: string) =>
    inRoom(session, address, kind, (room) => {
      const code = kind === 'kicked' ? STATUS.kicked : STATUS.banned;
      const actor = by !== undefined ? { actor: by } : {};
      if (nick === room.nick) {
        return userOut(session, room, [code], { ...actor, reason, ...(kind === 'banned' ? { affiliation: 'outcast' as const } : {}) }, reason);
      }
      const participant = room.removeParticipant(nick);
      if (kind === 'banned') room.banned.add(nick);
      const affiliation = kind === 'banned' ? 'outcast' : (participant?.affiliation ?? 'none');
      return toAll(room, (to) => [
        unavailablePresence({ roomJid: room.jid, nick, to, item: { affiliation, role: 'none', ...actor, reason }, codes: [code], status: reason }),
      ]);
    });
  core.events.on('kicked', removed('kicked'));
  core.events.on('banned', removed('banned'));

  core.events.on('subjectChanged', (session, address, subject: Subject) =>
    inRoom(session, address, 'subjectChanged', (room) => {
      room.subject = subject;
      const fromNick = subjectAuthor(room, subject.by);
      return toAll(room, (to) => [subjectMessage({ roomJid: room.jid, to, subject, fromNick, id: newId() })]);
    }),
  );

  core.events.on('roomInfoChanged', (session, address, change) =>
    inRoom(session, address, 'roomInfoChanged', async (room) => {
      if (change.name !== undefined) room.name = change.name || undefined;
      await toAll(room, (to) => [configChangeMessage({ roomJid: room.jid, to, id: newId() })]);
      if (!change.avatar) return;
      const info = session.loggedIn && session.remote.roomInfo ? await session.remote.roomInfo(address) : {};
      const image = info.avatar && info.avatar.data.length > 0 ? info.avatar.data : null;
      await toAll(room, (to) => [xml('presence', { from: room.jid, to }, vcardUpdateElement(image))]);
    }),
  );

  core.events.on('roomLeft', (session, address, reason) =>
    inRoom(session, address, 'roomLeft', (room) => userOut(session, room, [STATUS.technical], {}, reason)),
  );

  // Kept for resources that join later; showing the message is the messages module's.
  core.events.on('roomMessage', (session, address, nick, message) => {
    session.room(address)?.remember(nick, message);
  });

  core.events.on('invited', (session, address, by, reason, password) => {
    const gateway = core.gateway(session.domain);
    if (!gateway) return;
    void (async () => {
      const roomJid = await context.addressing.jid(gateway, address);
      const inviter = by ? await context.addressing.jid(gateway, by) : undefined;
      await sendInOrder(context, [mediatedInvite({ roomJid, to: session.userJid, inviter, reason, password, id: newId() })]);
    })().catch((err: Error) => log.warn({ err: err.message, user: session.userJid }, 'could not pass on an invitation'));
  });

  // The gateway ended the session: every room is gone for every resource.
  core.events.on('closed', (session, reason) => {
    for (const room of [...session.rooms.values()]) {
      void userOut(session, room, [STATUS.shutdown], {}, reason);
    }
    session.rooms.clear();
  });
}
