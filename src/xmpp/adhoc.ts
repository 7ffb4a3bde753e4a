// Ad-hoc commands (XEP-0050) on the gateway domain, with data forms
// (XEP-0004): the user's commands, the administrators' commands, and every
// command the network adds (Network.commands).
//
// Decisions:
// - Commands are listed to those who may run them: admin commands only to
//   the JIDs of config.admins (others get forbidden with a text when they run
//   one anyway); "unregister" only to registered users; "list-rooms" and
//   "list-contacts" only where the network has rooms / contacts.
// - A multi-stage command keeps its state under a sessionid bound to the
//   requesting full JID, in a bounded map (1000 sessions, 10 minutes idle);
//   it is per process and disposable (an expired session is simply started
//   again). An error while handling a stage (e.g. a wrong password) is
//   answered as a stanza error and the session stays, so the form can be
//   submitted again. There is no "prev": no command here has two forms.
// - list-contacts shows the contacts seen in the user's current session
//   (those who wrote to the user or whose presence the network reported):
//   the store's contact mappings are per network, not per user, so they
//   cannot tell whose contacts they are.
// - configure is the network's registration form with the current values
//   (the contract has no separate settings form); saving re-checks them
//   with the network, like registering again. A network with `settings`
//   (NetworkSettings) shows its gateway-scope form instead, and also gets
//   "configure" on its server and room JIDs: stored in the user's account
//   row the network names (secrets in the sealed credentials), then handed
//   to an open session (accountsChanged). A command session only continues
//   on the JID it started on.
// - announce sends a message of type normal from the gateway domain to each
//   user's bare JID: the users with a session on this network, or every
//   user registered on it.
// - XEP-0050's application-specific error conditions (<bad-sessionid/>...)
//   are not sent; the stanza error's text says what is wrong.
import { randomUUID } from 'node:crypto';
import { bareJid } from '../core/access.js';
import type { GatewayDomain } from '../core/core.js';
import { GatewayError } from '../core/errors.js';
import type { Session } from '../core/sessions.js';
import type { NetworkAddress, NetworkCommand, SettingsScope, StoredAccount } from '../networks/types.js';
import type { Account } from '../store/index.js';
import type { Target } from './addressing.js';
import type { XmppContext, XmppModule } from './context.js';
import { buildForm, findForm, parseSubmittedForm, type DataForm, type DataFormField } from './forms.js';
import { NS } from './namespaces.js';
import { accountsOf, endRegistration, registerUser, registrationForm, unregisterUser } from './registration.js';
import { xml, type Element } from './stanza.js';

export const COMMANDS_NODE_NAME = 'Commands';

const SESSION_TTL_MS = 10 * 60_000;
const MAX_SESSIONS = 1000;
const MAX_KNOWN_CONTACTS = 1000;

type Action = 'next' | 'complete';
type NoteType = 'info' | 'warn' | 'error';

interface Completion {
  done: true;
  notes: Array<{ type: NoteType; text: string }>;
  form?: DataForm;
}

interface Stage {
  done: false;
  form: DataForm;
  /** What the client may do with this form; the first is the default ("execute"). */
  actions: Action[];
  submit(values: Record<string, string>): Promise<Completion | Stage>;
}

type Step = Completion | Stage;

/** Who runs a command, where. */
interface Invocation {
  context: XmppContext;
  gateway: GatewayDomain;
  /** The requester's full JID. */
  from: string;
  /** The requester's bare JID. */
  user: string;
  /** Contacts seen in a session (list-contacts). */
  knownContacts(session: Session): NetworkAddress[];
}

interface Command {
  node: string;
  name: string;
  admin?: boolean;
  /** Whether the command is offered to this user (admin commands: to admins only, checked apart). */
  visible?(invocation: Omit<Invocation, 'knownContacts' | 'from'>): Promise<boolean> | boolean;
  start(invocation: Invocation): Promise<Step>;
}

const done = (text: string, type: NoteType = 'info', form?: DataForm): Completion => ({ done: true, notes: [{ type, text }], form });

function stage(form: DataForm, submit: Stage['submit'], actions: Action[] = ['complete']): Stage {
  return { done: false, form, actions, submit };
}

function resultForm(title: string, fields: DataFormField[]): DataForm {
  return { type: 'result', title, fields };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// --- the user's commands -------------------------------------------------------

const registerCommand: Command = {
  node: 'register',
  name: 'Register',
  async start({ context, gateway, user }) {
    const registration = await registrationForm(context, gateway, user);
    return stage({ ...registration.form, title: `Register with ${gateway.network.displayName}`, fields: registration.fields }, async (values) => {
      await registerUser(context, gateway, user, values);
      return done(`You are registered with ${gateway.network.displayName}.`);
    });
  },
};

const unregisterCommand: Command = {
  node: 'unregister',
  name: 'Unregister',
  visible: async ({ context, gateway, user }) => (await accountsOf(context, gateway, user)).length > 0,
  async start({ context, gateway, user }) {
    if ((await accountsOf(context, gateway, user)).length === 0) {
      throw new GatewayError('registration-required', `You are not registered with ${gateway.network.displayName}.`);
    }
    const form: DataForm = {
      type: 'form',
      title: `Unregister from ${gateway.network.displayName}`,
      instructions: `This disconnects you and deletes everything the gateway keeps for you on ${gateway.network.displayName}.`,
      fields: [{ var: 'confirm', type: 'boolean', label: 'Yes, delete my registration', required: true, value: 'false' }],
    };
    return stage(form, async (values) => {
      if (values.confirm !== 'true') return done('Nothing was deleted.');
      if (await unregisterUser(context, gateway, user)) endRegistration(context, gateway, user);
      return done(`Your registration with ${gateway.network.displayName} and its data were deleted.`);
    });
  },
};

const statusCommand: Command = {
  node: 'status',
  name: 'Connection status',
  async start({ context, gateway, user }) {
    const session = context.core.session(gateway, user);
    const accounts = await accountsOf(context, gateway, user);
    const rooms = session ? [...session.rooms.values()] : [];
    const state = session ? session.state : 'offline';
    const detail = session?.detail ?? '';
    const connections = session?.connectionCount() ?? 0;
    const summary =
      `${gateway.network.displayName}: ${state}${detail ? ` (${detail})` : ''}; ` +
      `${plural(connections, 'connection')}, ${plural(rooms.length, 'room')} joined; ` +
      (accounts.length > 0 ? 'registered.' : 'not registered.');
    return done(
      summary,
      'info',
      resultForm('Connection status', [
        { var: 'state', label: 'State', type: 'text-single', value: state },
        { var: 'detail', label: 'Detail', type: 'text-single', value: detail },
        { var: 'connections', label: 'Connections', type: 'text-single', value: String(connections) },
        { var: 'registered', label: 'Registered', type: 'boolean', value: accounts.length > 0 ? 'true' : 'false' },
        { var: 'accounts', label: 'Accounts', type: 'text-multi', values: accounts.map((a) => a.accountKey || '(default)') },
        { var: 'rooms', label: 'Rooms joined', type: 'jid-multi', values: rooms.map((room) => room.jid) },
      ]),
    );
  },
};

const reconnectCommand: Command = {
  node: 'reconnect',
  name: 'Reconnect',
  async start({ context, gateway, user }) {
    const { core } = context;
    const session = core.session(gateway, user);
    if (session?.loggedIn && session.remote.reconnect) {
      await session.remote.reconnect();
      return done(`Reconnecting to ${gateway.network.displayName}.`);
    }
    // No way to reconnect in place: a new session (the rooms must be joined again).
    if (session) await core.closeSession(gateway, user, 'Reconnecting');
    const opened = await core.openSession(gateway, user);
    return done(`Connected to ${gateway.network.displayName} (${opened.state}).`);
  },
};

const disconnectCommand: Command = {
  node: 'disconnect',
  name: 'Disconnect',
  async start({ context, gateway, user }) {
    const closed = await context.core.closeSession(gateway, user, 'Disconnected by the user', { ended: true });
    return done(closed ? `Disconnected from ${gateway.network.displayName}.` : `You were not connected to ${gateway.network.displayName}.`);
  },
};

const listRoomsCommand: Command = {
  node: 'list-rooms',
  name: 'List my rooms',
  visible: ({ gateway }) => gateway.network.capabilities.has('rooms'),
  async start({ context, gateway, user }) {
    const rooms = [...(context.core.session(gateway, user)?.rooms.values() ?? [])].sort((a, b) => a.jid.localeCompare(b.jid));
    return done(
      rooms.length === 0 ? 'You are in no room.' : `You are in ${plural(rooms.length, 'room')}.`,
      'info',
      resultForm('My rooms', [
        { var: 'rooms', label: 'Rooms', type: 'jid-multi', values: rooms.map((room) => room.jid) },
        { var: 'nicks', label: 'Room and nick', type: 'text-multi', values: rooms.map((room) => `${room.jid} as ${room.nick}`) },
      ]),
    );
  },
};

const listContactsCommand: Command = {
  node: 'list-contacts',
  name: 'List my contacts',
  visible: ({ gateway }) => gateway.network.capabilities.has('contacts'),
  async start({ context, gateway, user, knownContacts }) {
    const session = context.core.session(gateway, user);
    const contacts = session ? knownContacts(session) : [];
    const jids = (await Promise.all(contacts.map((address) => context.addressing.jid(gateway, address)))).sort();
    return done(
      jids.length === 0 ? 'No contact has written to you or shown presence in this session yet.' : `${plural(jids.length, 'contact')} in this session.`,
      'info',
      resultForm('My contacts', [{ var: 'contacts', label: 'Contacts seen in this session', type: 'jid-multi', values: jids }]),
    );
  },
};

const configureCommand: Command = {
  node: 'configure',
  name: 'Account settings',
  async start({ context, gateway, user }) {
    if (gateway.network.settings?.offers({ kind: 'gateway' })) return settingsStage(context, gateway, user, { kind: 'gateway' });
    const registration = await registrationForm(context, gateway, user);
    if (registration.fields.length === 0) return done(`${gateway.network.displayName} has no settings.`);
    const form = { ...registration.form, title: `Settings for ${gateway.network.displayName}`, fields: registration.fields };
    return stage(form, async (values) => {
      await registerUser(context, gateway, user, values);
      return done('Saved. The new settings apply the next time you connect (see the Reconnect command).');
    });
  },
};

// --- settings on the gateway, server and room JIDs (Network.settings) ---------------------

const storedOf = (account: Account): StoredAccount => ({ accountKey: account.accountKey, credentials: account.credentials, settings: account.settings });

/** The network's settings form of a scope; submitting stores it and tells an open session. */
async function settingsStage(context: XmppContext, gateway: GatewayDomain, user: string, scope: SettingsScope): Promise<Stage> {
  const settings = gateway.network.settings!;
  const key = settings.accountKey(scope);
  const accounts = await accountsOf(context, gateway, user);
  const current = accounts.find((account) => account.accountKey === key);
  const defaults = accounts.find((account) => account.accountKey === '');
  const shown = settings.form(scope, current && storedOf(current), defaults && storedOf(defaults));
  const form: DataForm = { type: 'form', title: shown.title, instructions: shown.instructions, fields: shown.fields };
  return stage(form, async (values) => {
    // Read again: the row may have changed since the form was shown.
    const [fresh] = await accountsOf(context, gateway, user, key);
    const next = settings.apply(scope, values, fresh && storedOf(fresh));
    const row = await context.store.users.getOrCreate(bareJid(user));
    await context.store.accounts.upsert(row.id, gateway.name, key, next.credentials, next.settings);
    const session = context.core.session(gateway, user);
    if (session?.loggedIn && session.remote.accountsChanged) {
      session.remote.accountsChanged((await accountsOf(context, gateway, user)).map(storedOf));
    }
    return done('Saved. The settings apply from the next connection (or join) on.');
  });
}

/** The commands of a server or room JID (null: that JID has none). */
function scopedCommands(target: Target): Command[] | null {
  if (target.kind !== 'server' && target.kind !== 'room') return null;
  if (target.kind === 'server' && target.resource) return null;
  const settings = target.gateway.network.settings;
  const scope: SettingsScope = { kind: target.kind, address: target.address };
  if (!settings?.offers(scope)) return null;
  return [
    {
      node: 'configure',
      name: target.kind === 'server' ? 'Server settings' : 'Room settings',
      start: ({ context, gateway, user }) => settingsStage(context, gateway, user, scope),
    },
  ];
}

/** The disco#items of the commands node of a server or room JID; null when it has no commands. */
export function scopedCommandItems(context: XmppContext, target: Target, from: string): Element[] | null {
  const commands = scopedCommands(target);
  if (!commands) return null;
  if (!context.core.access.mayUse(target.gateway.name, from)) return [];
  return commands.map((command) => xml('item', { jid: target.bare, node: command.node, name: command.name }));
}

/** The disco#info of a command node of a server or room JID; undefined when the node is no command there. */
export function scopedCommandInfo(target: Target, node: string): Element | undefined {
  const command = scopedCommands(target)?.find((c) => c.node === node);
  if (!command) return undefined;
  return xml(
    'query',
    { xmlns: NS.discoInfo, node },
    xml('identity', { category: 'automation', type: 'command-node', name: command.name }),
    xml('feature', { var: NS.commands }),
    xml('feature', { var: NS.dataForms }),
  );
}

// --- the administrators' commands -------------------------------------------------

const listUsersCommand: Command = {
  node: 'list-users',
  name: 'List users',
  admin: true,
  async start({ context, gateway }) {
    const registered = new Map<string, string[]>();
    for (const account of await context.store.accounts.listForNetwork(gateway.name)) {
      registered.set(account.userJid, [...(registered.get(account.userJid) ?? []), account.accountKey || '(default)']);
    }
    const sessions = new Map(context.core.list({ network: gateway.name }).map((session) => [session.userJid, session]));
    const users = [...new Set([...registered.keys(), ...sessions.keys()])].sort();
    const lines = users.map((jid) => {
      const keys = registered.get(jid);
      const session = sessions.get(jid);
      return (
        `${jid}: ${keys ? `registered (${keys.join(', ')})` : 'not registered'}, ` +
        (session ? `${session.state}, ${plural(session.connectionCount(), 'connection')}` : 'no session')
      );
    });
    return done(
      `${plural(users.length, 'user')} on ${gateway.network.displayName}.`,
      'info',
      resultForm('Users', [
        { var: 'count', label: 'Users', type: 'text-single', value: String(users.length) },
        { var: 'users', label: 'Users', type: 'jid-multi', values: users },
        { var: 'details', label: 'Details', type: 'text-multi', values: lines },
      ]),
    );
  },
};

const statisticsCommand: Command = {
  node: 'statistics',
  name: 'Statistics',
  admin: true,
  async start({ context, gateway }) {
    const { core, store } = context;
    const registered = new Set((await store.accounts.listForNetwork(gateway.name)).map((account) => account.userJid));
    const fields: DataFormField[] = [
      { var: 'users', label: 'Users known to the gateway', type: 'text-single', value: String((await store.users.list()).length) },
      { var: 'registered', label: `Users registered on ${gateway.name}`, type: 'text-single', value: String(registered.size) },
    ];
    for (const { name } of core.domains) {
      fields.push(
        { var: `sessions-${name}`, label: `Sessions on ${name}`, type: 'text-single', value: String(core.count(name)) },
        { var: `connections-${name}`, label: `Connections on ${name}`, type: 'text-single', value: String(core.connections(name)) },
      );
    }
    const summary = core.domains.map(({ name }) => `${name}: ${plural(core.count(name), 'session')}, ${plural(core.connections(name), 'connection')}`);
    return done(summary.join('; '), 'info', resultForm('Statistics', fields));
  },
};

const disconnectUserCommand: Command = {
  node: 'disconnect-user',
  name: 'Disconnect a user',
  admin: true,
  async start({ context, gateway }) {
    const form: DataForm = {
      type: 'form',
      title: 'Disconnect a user',
      instructions: `Ends the user's session on ${gateway.network.displayName}.`,
      fields: [
        { var: 'jid', label: 'User (bare JID)', type: 'jid-single', required: true },
        { var: 'reason', label: 'Reason (sent to the network)', type: 'text-single' },
      ],
    };
    return stage(form, async (values) => {
      const jid = bareJid(values.jid!);
      const closed = await context.core.closeSession(gateway, jid, values.reason || 'Disconnected by an administrator', { ended: true });
      return done(closed ? `${jid} was disconnected.` : `${jid} had no session on ${gateway.network.displayName}.`, closed ? 'info' : 'warn');
    });
  },
};

const announceCommand: Command = {
  node: 'announce',
  name: 'Send a notice to all users',
  admin: true,
  async start({ context, gateway }) {
    const form: DataForm = {
      type: 'form',
      title: 'Send a notice to all users',
      fields: [
        { var: 'body', label: 'Message', type: 'text-multi', required: true },
        {
          var: 'audience',
          label: 'Send to',
          type: 'list-single',
          required: true,
          value: 'sessions',
          options: [
            { label: 'Users connected to this network', value: 'sessions' },
            { label: 'Every user registered on this network', value: 'registered' },
          ],
        },
      ],
    };
    return stage(form, async (values) => {
      const recipients =
        values.audience === 'registered'
          ? new Set((await context.store.accounts.listForNetwork(gateway.name)).map((account) => account.userJid))
          : new Set(context.core.list({ network: gateway.name }).map((session) => session.userJid));
      for (const to of recipients) {
        await context.send(xml('message', { from: gateway.domain, to, type: 'normal', id: randomUUID() }, xml('body', {}, values.body!)));
      }
      return done(`Sent to ${plural(recipients.size, 'user')}.`);
    });
  },
};

const BUILT_IN: readonly Command[] = [
  registerCommand,
  unregisterCommand,
  configureCommand,
  statusCommand,
  reconnectCommand,
  disconnectCommand,
  listRoomsCommand,
  listContactsCommand,
  listUsersCommand,
  statisticsCommand,
  disconnectUserCommand,
  announceCommand,
];

/** A network's own command as a Command. */
function networkCommand(gateway: GatewayDomain, command: NetworkCommand): Command {
  const run = async (context: XmppContext, user: string, values: Record<string, string>) => {
    const session = context.core.session(gateway, user);
    return done(await command.run(user, values, session?.loggedIn ? session.remote : null));
  };
  return {
    node: command.node,
    name: command.name,
    async start({ context, user }) {
      if (!command.form) return run(context, user, {});
      const form = await command.form(user);
      return stage({ type: 'form', title: form.title, instructions: form.instructions, fields: form.fields }, (values) => run(context, user, values));
    },
  };
}

/** Every command of this gateway (built-in ones win a node clash). */
function commandsOf(gateway: GatewayDomain): Command[] {
  const nodes = new Set(BUILT_IN.map((c) => c.node));
  const own = (gateway.network.commands ?? []).filter((c) => !nodes.has(c.node)).map((c) => networkCommand(gateway, c));
  return [...BUILT_IN, ...own];
}

/** The commands this requester may run here. */
async function availableCommands(context: XmppContext, gateway: GatewayDomain, from: string): Promise<Command[]> {
  const user = bareJid(from);
  const admin = context.core.access.isAdmin(from);
  const mayUse = context.core.access.mayUse(gateway.name, from);
  const out: Command[] = [];
  for (const command of commandsOf(gateway)) {
    if (command.admin ? !admin : !mayUse) continue;
    if (command.visible && !(await command.visible({ context, gateway, user }))) continue;
    out.push(command);
  }
  return out;
}

/** The disco#items of the commands node. */
export async function commandItems(context: XmppContext, gateway: GatewayDomain, from: string): Promise<Element[]> {
  return (await availableCommands(context, gateway, from)).map((command) => xml('item', { jid: gateway.domain, node: command.node, name: command.name }));
}

/** The disco#info of a command node; undefined when the node is no command. */
export async function commandInfo(context: XmppContext, gateway: GatewayDomain, from: string, node: string): Promise<Element | undefined> {
  const command = commandsOf(gateway).find((c) => c.node === node);
  if (!command) return undefined;
  if (command.admin && !context.core.access.isAdmin(from)) throw new GatewayError('forbidden', `"${command.name}" is for the gateway's administrators.`);
  return xml(
    'query',
    { xmlns: NS.discoInfo, node },
    xml('identity', { category: 'automation', type: 'command-node', name: command.name }),
    xml('feature', { var: NS.commands }),
    xml('feature', { var: NS.dataForms }),
  );
}

interface CommandSession {
  node: string;
  from: string;
  /** The bare JID the command runs on (the gateway, a server or a room). */
  to: string;
  stage: Stage;
  expires: number;
}

/** A bounded map of command sessions: oldest dropped first, idle ones expire. */
class CommandSessions {
  private readonly sessions = new Map<string, CommandSession>();

  get(id: string): CommandSession | undefined {
    this.prune();
    return this.sessions.get(id);
  }

  set(id: string, session: CommandSession): void {
    this.sessions.delete(id);
    session.expires = Date.now() + SESSION_TTL_MS;
    this.sessions.set(id, session);
    this.prune();
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, session] of this.sessions) if (session.expires < now) this.sessions.delete(id);
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
  }
}

function commandElement(node: string, sessionid: string, status: 'executing' | 'completed' | 'canceled', step?: Step): Element {
  const command = xml('command', { xmlns: NS.commands, node, sessionid, status });
  if (step && !step.done) {
    command.append(xml('actions', { execute: step.actions[0] }, ...step.actions.map((action) => xml(action))));
    command.append(buildForm(step.form));
  }
  if (step?.done) {
    for (const note of step.notes) command.append(xml('note', { type: note.type }, note.text));
    if (step.form) command.append(buildForm(step.form));
  }
  return command;
}

const ACTIONS = new Set(['execute', 'next', 'prev', 'complete', 'cancel']);

export const registerAdhoc: XmppModule = (context) => {
  const { router, core, addressing } = context;
  const sessions = new CommandSessions();

  // Contacts seen per network session, for list-contacts (bounded, dropped with the session).
  const contactsBySession = new WeakMap<Session, Map<string, NetworkAddress>>();
  const seen = (session: Session, address: NetworkAddress) => {
    if (address.kind !== 'contact') return;
    let contacts = contactsBySession.get(session);
    if (!contacts) contactsBySession.set(session, (contacts = new Map()));
    contacts.delete(address.id);
    contacts.set(address.id, address);
    if (contacts.size > MAX_KNOWN_CONTACTS) contacts.delete(contacts.keys().next().value!);
  };
  core.events.on('directMessage', (session, from) => seen(session, from));
  core.events.on('contactPresence', (session, contact) => seen(session, contact));
  core.events.on('chatState', (session, conversation) => seen(session, conversation));
  core.events.on('closed', (session) => contactsBySession.delete(session));
  const knownContacts = (session: Session) => [...(contactsBySession.get(session)?.values() ?? [])];

  for (const gateway of core.domains) {
    router.onIq(gateway.domain, 'set', NS.commands, 'command', async (iq) => {
      const target = await addressing.resolve(iq.to);
      const scoped = scopedCommands(target);
      if (!scoped && (target.kind !== 'gateway' || target.resource)) throw new GatewayError('item-not-found', `${iq.to} has no commands; they are on ${gateway.domain}.`);
      if (scoped && !core.access.mayUse(gateway.name, iq.from)) throw new GatewayError('forbidden', `You may not use ${gateway.domain}.`);
      const here = scoped ?? commandsOf(gateway);
      const { node, sessionid } = iq.payload.attrs;
      const action = iq.payload.attrs.action ?? 'execute';
      if (!node) throw new GatewayError('bad-request', 'Name the command to run in the node attribute.');
      if (!ACTIONS.has(action)) throw new GatewayError('bad-request', `"${action}" is not an action of XEP-0050.`);
      const submitted = findForm(iq.payload);
      const cancel = action === 'cancel' || submitted?.attrs.type === 'cancel';

      if (!sessionid) {
        if (cancel) return commandElement(node, randomUUID(), 'canceled');
        if (action !== 'execute') throw new GatewayError('bad-request', `Start a command with the action "execute", not "${action}".`);
        const command = here.find((c) => c.node === node);
        if (!command) throw new GatewayError('item-not-found', `There is no command "${node.slice(0, 100)}" here.`);
        if (command.admin && !core.access.isAdmin(iq.from)) {
          throw new GatewayError('forbidden', `"${command.name}" is for the gateway's administrators.`);
        }
        const step = await command.start({ context, gateway, from: iq.from, user: bareJid(iq.from), knownContacts });
        const id = randomUUID();
        if (!step.done) sessions.set(id, { node, from: iq.from, to: target.bare, stage: step, expires: 0 });
        return commandElement(node, id, step.done ? 'completed' : 'executing', step);
      }

      const session = sessions.get(sessionid);
      if (!session || session.from !== iq.from || session.node !== node || session.to !== target.bare) {
        throw new GatewayError('bad-request', 'This command session is unknown or has expired; run the command again.');
      }
      if (cancel) {
        sessions.delete(sessionid);
        return commandElement(node, sessionid, 'canceled');
      }
      if (action === 'prev') throw new GatewayError('bad-request', 'This command has no previous stage.');
      const chosen = action === 'execute' ? session.stage.actions[0]! : action;
      if (!session.stage.actions.includes(chosen as Action)) {
        throw new GatewayError('bad-request', `The action "${action}" is not possible at this stage.`);
      }
      const values = parseSubmittedForm(submitted, session.stage.form.fields);
      const step = await session.stage.submit(values);
      if (step.done) sessions.delete(sessionid);
      else sessions.set(sessionid, { ...session, stage: step });
      return commandElement(node, sessionid, step.done ? 'completed' : 'executing', step);
    });
  }
};
