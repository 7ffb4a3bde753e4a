// A room as one user sees it through the gateway: the user's nick, the other
// participants, the subject, and which of the user's XMPP resources are in it.
// Several resources share one network presence: the room is joined on the
// network once, and left when the last resource leaves.
import type { NetworkAddress, Participant, Role, Affiliation, Subject } from '../networks/types.js';

export class RoomState {
  /** The user's nick in the room. */
  nick: string;
  role: Role = 'participant';
  affiliation: Affiliation = 'none';
  subject: Subject | undefined;
  name: string | undefined;
  /** Other participants by nick. */
  readonly participants = new Map<string, Participant>();
  /** Full JIDs of the user's resources in the room. */
  readonly resources = new Set<string>();
  /** Set while the network join is in progress; other resources wait for it. */
  joining: Promise<void> | null = null;

  constructor(
    readonly address: NetworkAddress,
    /** The room's bare JID. */
    readonly jid: string,
    nick: string,
  ) {
    this.nick = nick;
  }

  setParticipant(participant: Participant): void {
    this.participants.set(participant.nick, participant);
  }

  renameParticipant(oldNick: string, newNick: string): Participant | undefined {
    const participant = this.participants.get(oldNick);
    if (!participant) return undefined;
    this.participants.delete(oldNick);
    const renamed = { ...participant, nick: newNick };
    this.participants.set(newNick, renamed);
    return renamed;
  }
}
