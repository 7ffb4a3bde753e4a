import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PresenceTracker } from './presence-tracker.js';
import { xml } from './stanza.js';

test('withdraws exactly the presences still shown', () => {
  const tracker = new PresenceTracker();
  tracker.observe(xml('presence', { from: 'a@gw/x', to: 'u@srv/1' }));
  tracker.observe(xml('presence', { from: 'b@gw/y', to: 'u@srv/1' }));
  tracker.observe(xml('presence', { from: 'b@gw/y', to: 'u@srv/1', type: 'unavailable' }));
  tracker.observe(xml('presence', { from: 'gw', to: 'u@srv', type: 'subscribe' }));
  tracker.observe(xml('message', { from: 'c@gw', to: 'u@srv' }));
  assert.equal(tracker.size, 1);
  const out = tracker.withdrawAll('ponte is shutting down');
  assert.equal(out.length, 1);
  assert.equal(out[0]!.attrs.from, 'a@gw/x');
  assert.equal(out[0]!.attrs.to, 'u@srv/1');
  assert.equal(out[0]!.attrs.type, 'unavailable');
  assert.equal(out[0]!.getChildText('status'), 'ponte is shutting down');
  assert.equal(tracker.size, 0);
});
