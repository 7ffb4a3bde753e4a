// In-band registration (XEP-0077) with the gateway, as XEP-0100 describes it
// for gateways, with a data form (XEP-0004) built from the network's fields.
// The ad-hoc "register", "unregister" and "configure" commands (adhoc.ts)
// share the functions exported here.
//
// Decisions:
// - A network with no fields (IRC) still accepts a registration, so clients'
//   "register" flows work: the form is empty apart from the instructions.
// - Already registered: the form carries the current values, except secrets
//   (text-private fields are never sent back); those become optional, and an
//   empty one keeps the stored value (XEP-0077 §3.3 says an empty password
//   must not clear it).
// - Legacy clients: the standard iq:register fields (username, password,
//   nick, email...) that the network's form uses are also offered as plain
//   elements, and a set without a data form is read from them.
// - On a network server's JID (irc.libera.chat@irc.example.org) the form shows
//   that server's account and <remove/> removes only that account; on the
//   gateway domain, <remove/> removes every account of the user on the network.
// - Registering for the first time: once answered, the gateway offers itself
//   to the user's roster (XEP-0100 §4.1, presence.ts addGatewayToRoster).
// - Unregistering (XEP-0100 §4.3): the session is closed, the accounts are
//   deleted (their message id mappings go with them by cascade) and, when no
//   account is left on the network, the user's archive there; the IQ is
//   answered; then every JID of the gateway in the user's roster sends
//   unavailable, unsubscribe and unsubscribed, and the subscription state of
//   the user on this network is deleted (presence.ts cancelSubscriptions).
//   That is everything the store keys by user and network. The user row
//   stays: it is shared with the other networks and holds only the JID.
// - A new or changed registration does not restart an open session; the
//   new credentials apply at the next login (the "reconnect" command).
import type { GatewayDomain } from '../core/core.js';
import { bareJid } from '../core/access.js';
import { GatewayError } from '../core/errors.js';
import type { FormField } from '../networks/types.js';
import type { Account } from '../store/index.js';
import type { XmppContext, XmppModule } from './context.js';
import { buildForm, findForm, parseSubmittedForm, type DataForm, type DataFormField } from './forms.js';
import { NS } from './namespaces.js';
import { addGatewayToRoster, cancelSubscriptions } from './presence.js';
import { xml, type Element } from './stanza.js';

/** The fields XEP-0077 §14.2 defines as plain elements of jabber:iq:register. */
const LEGACY_FIELDS = new Set([
  'username', 'nick', 'password', 'name', 'first', 'last', 'email', 'address',
  'city', 'state', 'zip', 'phone', 'url', 'date', 'misc', 'text', 'key',
]);

/** The user's accounts on this network (all, or the one with this key). */
export async function accountsOf(context: XmppContext, gateway: GatewayDomain, user: string, accountKey?: string): Promise<Account[]> {
  const row = await context.store.users.find(bareJid(user));
  if (!row) return [];
  const accounts = await context.store.accounts.listForUser(row.id);
  return accounts.filter((a) => a.network === gateway.name && (accountKey === undefined || a.accountKey === accountKey));
}

export interface RegistrationForm {
  instructions: string;
  /** The fields as they must be submitted (secrets optional when registered). */
  fields: DataFormField[];
  registered: boolean;
  form: DataForm;
}

function currentValue(field: FormField, account: Account | undefined): string | undefined {
  if (!account || field.type === 'text-private' || field.type === 'fixed') return undefined;
  const value = account.settings[field.var] ?? account.credentials[field.var];
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return undefined;
}

/** The network's registration form for this user, with the current values when registered. */
export async function registrationForm(context: XmppContext, gateway: GatewayDomain, user: string, accountKey?: string): Promise<RegistrationForm> {
  const { instructions, fields } = gateway.network.registrationForm();
  const accounts = await accountsOf(context, gateway, user, accountKey);
  const current = accounts[0];
  const registered = current !== undefined;
  const shown: DataFormField[] = fields.map((field) => {
    const value = currentValue(field, current) ?? field.value;
    if (registered && field.type === 'text-private') {
      return { ...field, required: false, value: undefined, desc: [field.desc, 'Leave empty to keep the current one.'].filter(Boolean).join(' ') };
    }
    return { ...field, value };
  });
  const text = instructions || `Nothing to fill in: submit to register with ${gateway.network.displayName}.`;
  return {
    instructions: text,
    fields: shown,
    registered,
    form: {
      type: 'form',
      title: `Registration with ${gateway.network.displayName}`,
      instructions: registered ? `You are registered. ${text}` : text,
      formType: NS.register,
      fields: shown,
    },
  };
}

/**
 * Checks the values with the network and stores the account. Empty secrets
 * keep the stored ones. Errors of the network (not-authorized, ...) are
 * thrown as they are, with their text. A first registration then puts the
 * gateway into the user's roster (XEP-0100 §4.1), after the caller's answer.
 */
export async function registerUser(
  context: XmppContext,
  gateway: GatewayDomain,
  user: string,
  values: Record<string, string>,
  accountKey?: string,
): Promise<Account> {
  const jid = bareJid(user);
  const wasRegistered = (await accountsOf(context, gateway, jid)).length > 0;
  const [current] = await accountsOf(context, gateway, jid, accountKey);
  const merged = { ...values };
  for (const field of gateway.network.registrationForm().fields) {
    const stored = current?.credentials[field.var];
    if (field.type === 'text-private' && !merged[field.var] && typeof stored === 'string') merged[field.var] = stored;
  }
  const result = await gateway.network.register(jid, merged, context.core.context(gateway));
  const row = await context.store.users.getOrCreate(jid);
  const account = await context.store.accounts.upsert(row.id, gateway.name, result.accountKey, result.credentials, result.settings);
  if (!wasRegistered) {
    afterAnswer(context, 'could not offer the gateway to the roster', () => addGatewayToRoster(context, gateway, jid));
  }
  return account;
}

/**
 * Closes the user's session and deletes their accounts on this network (all,
 * or the one with this key); when none is left, also their archive there.
 * Throws registration-required when there is nothing to delete. Returns
 * whether the user has no account left on the network (then call
 * endRegistration once the request is answered).
 */
export async function unregisterUser(context: XmppContext, gateway: GatewayDomain, user: string, accountKey?: string): Promise<boolean> {
  const jid = bareJid(user);
  const accounts = await accountsOf(context, gateway, jid, accountKey);
  if (accounts.length === 0) {
    throw new GatewayError('registration-required', `You are not registered with ${gateway.network.displayName}${accountKey ? ` for ${accountKey}` : ''}.`);
  }
  await context.core.closeSession(gateway, jid, 'Unregistered from the gateway');
  for (const account of accounts) await context.store.accounts.remove(account.userId, gateway.name, account.accountKey);
  const gone = (await accountsOf(context, gateway, jid)).length === 0;
  if (gone) await context.store.archive.removeForUser(jid, gateway.name);
  return gone;
}

/**
 * XEP-0100 §4.3, after the answer: every JID of the gateway in the user's
 * roster goes unavailable and cancels its subscriptions both ways, and the
 * subscription state kept for the user on this network is forgotten
 * (presence.ts).
 */
export function endRegistration(context: XmppContext, gateway: GatewayDomain, user: string): void {
  const status = `You are no longer registered with ${gateway.network.displayName}.`;
  afterAnswer(context, 'could not cancel the subscriptions of an unregistered user', () =>
    cancelSubscriptions(context, gateway, bareJid(user), status),
  );
}

/** Runs `work` once the current IQ has been answered (the answer is sent when the handler returns). */
function afterAnswer(context: XmppContext, failure: string, work: () => Promise<unknown>): void {
  setTimeout(() => {
    work().catch((err: Error) => context.log.warn({ err: err.message }, failure));
  }, 0);
}

/** The values of a set: the data form if there is one, else the legacy elements (XEP-0077 §6: never both). */
function submittedValues(query: Element, fields: readonly DataFormField[]): Record<string, string> {
  const form = findForm(query);
  if (form) return parseSubmittedForm(form, fields);
  const legacy = xml('x', { xmlns: NS.dataForms, type: 'submit' });
  for (const child of query.getChildElements()) {
    if (LEGACY_FIELDS.has(child.name)) legacy.append(xml('field', { var: child.name }, xml('value', {}, child.text())));
  }
  return parseSubmittedForm(legacy, fields);
}

export const registerRegistration: XmppModule = (context) => {
  const { router, core, addressing } = context;

  /** The account key a JID of the gateway stands for: undefined for the gateway itself, the server for a server JID. */
  async function accountKeyOf(to: string): Promise<{ gateway: GatewayDomain; accountKey: string | undefined }> {
    const target = await addressing.resolve(to);
    if (target.kind === 'gateway') return { gateway: target.gateway, accountKey: undefined };
    if (target.kind === 'server') return { gateway: target.gateway, accountKey: target.address.id };
    throw new GatewayError('service-unavailable', `Registration is done with ${target.gateway.domain}, not with ${to}.`);
  }

  for (const gateway of core.domains) {
    router.onIq(gateway.domain, 'get', NS.register, 'query', async (iq) => {
      const { accountKey } = await accountKeyOf(iq.to);
      const registration = await registrationForm(context, gateway, iq.from, accountKey);
      const query = xml('query', { xmlns: NS.register }, xml('instructions', {}, registration.instructions));
      if (registration.registered) query.append(xml('registered'));
      for (const field of registration.fields) {
        if (LEGACY_FIELDS.has(field.var ?? '')) query.append(xml(field.var!, {}, field.value ?? ''));
      }
      query.append(buildForm(registration.form));
      return query;
    });

    router.onIq(gateway.domain, 'set', NS.register, 'query', async (iq) => {
      const { accountKey } = await accountKeyOf(iq.to);
      const children = iq.payload.getChildElements();
      if (children.some((child) => child.name === 'remove')) {
        if (children.length !== 1) throw new GatewayError('bad-request', '<remove/> must be the only child of the query.');
        const gone = await unregisterUser(context, gateway, iq.from, accountKey);
        if (gone) endRegistration(context, gateway, iq.from);
        return undefined;
      }
      const registration = await registrationForm(context, gateway, iq.from, accountKey);
      const values = submittedValues(iq.payload, registration.fields);
      await registerUser(context, gateway, iq.from, values, accountKey);
      return undefined;
    });
  }
};
