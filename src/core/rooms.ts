// A room as one user sees it through the gateway: the user's nick, the other
// participants, the subject, and which of the user's XMPP resources are in it.
// Several resources share one network presence: the room is joined on the
// network once, and left when the last resource leaves.
import type { IncomingMessage } from './message.js';
import type { NetworkAddress, Participant, Role, Affiliation, Subject } from '../networks/types.js';

/** A message kept for resources that join later (the join's discussion history). */
export interface RoomHistoryEntry {
  nick: string;
  message: IncomingMessage;
}

export class RoomState {
  /** How many recent messages are kept for later joins (MAM is the place for more). */
  static readonly HISTORY_LIMIT = 100;

  /** The user's nick in the room. */
  nick: string;
  role: Role = 'participant';
  affiliation: Affiliation = 'none';
  subject: Subject | undefined;
  name: string | undefined;
  /** The network created the room on this join (status 201 for the resource that joined). */
  created = false;
  /** The password the room was joined with, passed on in invitations (kept in memory only). */
  password: string | undefined;
  /** Other participants by nick. */
  readonly participants = new Map<string, Participant>();
  /** Full JIDs of the user's resources in the room. */
  readonly resources = new Set<string>();
  /** Set while the network join is in progress; other resources wait for it. */
  joining: Promise<void> | null = null;
  /** Nicks banned while the user was there (the outcast list the gateway can tell). */
  readonly banned = new Set<string>();
  /** Recent messages, oldest first: the join history, then what was said since. */
  history: RoomHistoryEntry[] = [];
  /** Network events that came while the join was in progress, applied once it is done. */
  readonly deferred: Array<() => void> = [];

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

  removeParticipant(nick: string): Participant | undefined {
    const participant = this.participants.get(nick);
    this.participants.delete(nick);
    return participant;
  }

  renameParticipant(oldNick: string, newNick: string): Participant | undefined {
    const participant = this.participants.get(oldNick);
    if (!participant) return undefined;
    this.participants.delete(oldNick);
    const renamed = { ...participant, nick: newNick };
    this.participants.set(newNick, renamed);
    return renamed;
  }

  /** Keeps a message for the history of later joins (bounded; duplicates by network id are skipped). */
  remember(nick: string, message: IncomingMessage): void {
    if (this.history.some((entry) => entry.message.id === message.id)) return;
    this.history.push({ nick, message });
    if (this.history.length > RoomState.HISTORY_LIMIT) this.history.splice(0, this.history.length - RoomState.HISTORY_LIMIT);
  }

  /** The user's own occupant JID. */
  get occupantJid(): string {
    return `${this.jid}/${this.nick}`;
  }
}
