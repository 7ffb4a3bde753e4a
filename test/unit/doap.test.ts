// doap.xml (XEP-0453) lists what ponte implements; every entry must name the
// tests that prove it, and those files must exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { parse, type Element } from 'ltx';

const DOAP = 'http://usefulinc.com/ns/doap#';
const XMPP = 'https://linkmauve.fr/ns/xmpp-doap#';

test('doap.xml parses and every implemented XEP names existing tests', () => {
  const root = parse(readFileSync('doap.xml', 'utf8'));
  const project = root.getChild('Project', DOAP);
  assert.ok(project, 'no doap Project');
  assert.equal(project.getChildText('name', DOAP), 'ponte');
  const xeps = project
    .getChildren('implements', DOAP)
    .map((implementsEl: Element) => implementsEl.getChild('SupportedXep', XMPP))
    .filter((supported: Element | undefined): supported is Element => supported !== undefined);
  assert.ok(xeps.length >= 30, `only ${xeps.length} XEPs listed`);
  const seen = new Set<string>();
  for (const supported of xeps) {
    const resource = supported.getChild('xep', XMPP)?.attrs['rdf:resource'] as string;
    assert.match(resource, /^https:\/\/xmpp\.org\/extensions\/xep-\d{4}\.html$/);
    assert.ok(!seen.has(resource), `${resource} listed twice`);
    seen.add(resource);
    assert.match(supported.getChildText('version', XMPP) ?? '', /^\d+\.\d+/);
    assert.match(supported.getChildText('status', XMPP) ?? '', /^(complete|partial|planned|deprecated|removed|wontfix)$/);
    const note = supported.getChildText('note', XMPP) ?? '';
    const tests = note.split('Tests:')[1]?.trim().split(/\s+/) ?? [];
    assert.ok(tests.length > 0, `${resource} names no test`);
    for (const file of tests) assert.ok(existsSync(file), `${resource}: ${file} does not exist`);
  }
});
