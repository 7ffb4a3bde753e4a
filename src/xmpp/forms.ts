// XEP-0004 data forms: built from the network contract's FormField[] (and the
// few extra field types the XMPP side needs for results), and submitted forms
// parsed back into plain values checked against the same field list.
//
// Decisions:
// - Parsed values are strings, one per field var; multi-valued fields
//   (text-multi, jid-multi, list-multi) are joined with "\n"; booleans are
//   normalised to "true" / "false" (XEP-0004 allows 1/0/true/false).
// - A field the form did not ask for is ignored; a field not submitted is
//   absent from the result (unless required: then bad-request names it).
// - Single-line fields refuse control characters (CR, LF, NUL...): their
//   values often end up in a network protocol line (IRC) where those break
//   or inject commands.
import { GatewayError } from '../core/errors.js';
import type { FormFieldType } from '../networks/types.js';
import { NS } from './namespaces.js';
import { xml, type Element } from './stanza.js';

export type DataFormFieldType = FormFieldType | 'hidden' | 'text-multi' | 'jid-single' | 'jid-multi' | 'list-multi';

/** A field of a form to show or of a result; the contract's FormField is one of these. */
export interface DataFormField {
  var?: string;
  label?: string;
  type: DataFormFieldType;
  required?: boolean;
  desc?: string;
  options?: ReadonlyArray<{ label: string; value: string }>;
  /** One value (for multi fields: lines separated by "\n"). */
  value?: string;
  /** Several values (multi fields); takes precedence over `value`. */
  values?: readonly string[];
}

export interface DataForm {
  type: 'form' | 'result';
  title?: string;
  instructions?: string;
  /** Written as the hidden FORM_TYPE field (XEP-0068). */
  formType?: string;
  fields: readonly DataFormField[];
}

const MULTI: ReadonlySet<DataFormFieldType> = new Set(['text-multi', 'jid-multi', 'list-multi']);
/** A submitted value larger than this is refused (nothing a form here asks for is that long). */
const MAX_VALUE_LENGTH = 16 * 1024;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function valuesOf(field: DataFormField): string[] {
  if (field.values) return [...field.values];
  if (field.value === undefined) return [];
  return MULTI.has(field.type) ? field.value.split('\n') : [field.value];
}

/** The `<x xmlns='jabber:x:data'/>` element of a form or a result. */
export function buildForm(form: DataForm): Element {
  const x = xml('x', { xmlns: NS.dataForms, type: form.type });
  if (form.title) x.append(xml('title', {}, form.title));
  // One <instructions/> per line, as XEP-0004 §3.1 asks for multi-line text.
  for (const line of (form.instructions ?? '').split('\n')) if (line.trim()) x.append(xml('instructions', {}, line));
  if (form.formType) x.append(xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, form.formType)));
  for (const field of form.fields) x.append(buildField(field));
  return x;
}

function buildField(field: DataFormField): Element {
  const element = xml('field', { type: field.type, var: field.var, label: field.label });
  if (field.desc) element.append(xml('desc', {}, field.desc));
  if (field.required) element.append(xml('required'));
  for (const value of valuesOf(field)) element.append(xml('value', {}, value));
  for (const option of field.options ?? []) {
    element.append(xml('option', { label: option.label }, xml('value', {}, option.value)));
  }
  return element;
}

/** The data form child of `parent` (a query, a command...), if any. */
export function findForm(parent: Element): Element | undefined {
  return parent.getChild('x', NS.dataForms);
}

/** The FORM_TYPE value of a form, if it has one. */
export function formTypeOf(x: Element): string | undefined {
  const field = x.getChildren('field').find((f) => f.attrs.var === 'FORM_TYPE');
  return field?.getChildText('value') ?? undefined;
}

/**
 * Reads a submitted form against the fields that were asked for. Throws
 * bad-request (with a text naming the field) when `x` is not a submitted
 * form, a required field is missing, or a value does not fit its field.
 */
export function parseSubmittedForm(x: Element | undefined, fields: readonly DataFormField[]): Record<string, string> {
  if (!x || !x.is('x', NS.dataForms)) throw new GatewayError('bad-request', 'A filled-in data form (jabber:x:data) is expected here.');
  if (x.attrs.type !== 'submit') {
    throw new GatewayError('bad-request', `A submitted data form (type "submit") is expected here, not type "${x.attrs.type ?? ''}".`);
  }
  const submitted = new Map<string, string[]>();
  for (const field of x.getChildren('field')) {
    const name = field.attrs.var;
    if (!name) continue;
    if (submitted.has(name)) throw new GatewayError('bad-request', `The field "${name}" was submitted twice.`);
    submitted.set(
      name,
      field.getChildren('value').map((value) => value.text()),
    );
  }

  const values: Record<string, string> = {};
  for (const field of fields) {
    if (!field.var || field.type === 'fixed' || field.type === 'hidden') continue;
    const label = field.label ?? field.var;
    const raw = (submitted.get(field.var) ?? []).filter((v) => v !== '');
    if (raw.length === 0) {
      if (field.required) throw new GatewayError('bad-request', `The field "${label}" is required.`);
      if (submitted.has(field.var)) values[field.var] = field.type === 'boolean' ? 'false' : '';
      continue;
    }
    for (const value of raw) {
      if (value.length > MAX_VALUE_LENGTH) throw new GatewayError('bad-request', `The value of "${label}" is too long.`);
    }
    values[field.var] = checkValue(field, label, raw);
  }
  return values;
}

function checkValue(field: DataFormField, label: string, raw: string[]): string {
  if (MULTI.has(field.type)) {
    for (const value of raw) {
      if (value.includes('\n') || CONTROL.test(value.replace(/\t/g, ''))) {
        throw new GatewayError('bad-request', `Each value of "${label}" must be a single line.`);
      }
      if (field.type === 'jid-multi') checkJid(value, label);
      if (field.type === 'list-multi') checkOption(field, label, value);
    }
    return raw.join('\n');
  }
  if (raw.length > 1) throw new GatewayError('bad-request', `The field "${label}" takes a single value.`);
  const value = raw[0]!;
  switch (field.type) {
    case 'boolean': {
      const normalized = value.trim().toLowerCase();
      if (normalized === '1' || normalized === 'true') return 'true';
      if (normalized === '0' || normalized === 'false') return 'false';
      throw new GatewayError('bad-request', `The field "${label}" takes true or false, not "${value.slice(0, 50)}".`);
    }
    case 'list-single':
      checkOption(field, label, value);
      return value;
    case 'jid-single':
      checkJid(value, label);
      return value.trim();
    default:
      if (CONTROL.test(value)) throw new GatewayError('bad-request', `The field "${label}" must be a single line of text.`);
      return value;
  }
}

function checkOption(field: DataFormField, label: string, value: string): void {
  if (field.options && field.options.length > 0 && !field.options.some((option) => option.value === value)) {
    throw new GatewayError('bad-request', `"${value.slice(0, 100)}" is not one of the choices of "${label}".`);
  }
}

function checkJid(value: string, label: string): void {
  // RFC 7622 in outline: [local@]domain[/resource], no empty part, the
  // localpart without " & ' / : < > @ or spaces, the domain without spaces.
  const text = value.trim();
  const slash = text.indexOf('/');
  const bare = slash < 0 ? text : text.slice(0, slash);
  const at = bare.indexOf('@');
  const local = at < 0 ? null : bare.slice(0, at);
  const domain = at < 0 ? bare : bare.slice(at + 1);
  const ok =
    (local === null || /^[^\s"&'/:<>@]+$/u.test(local)) &&
    /^[^\s@/]+$/u.test(domain) &&
    (slash < 0 || text.length > slash + 1);
  if (!ok) throw new GatewayError('bad-request', `"${value.slice(0, 100)}" in "${label}" is not a valid XMPP address.`);
}
