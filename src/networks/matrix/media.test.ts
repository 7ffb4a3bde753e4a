import { test } from 'node:test';
import assert from 'node:assert/strict';
import { msgtypeFor, offersAuthenticatedMedia } from './media.js';

test('authenticated media from spec v1.11 on', () => {
  assert.equal(offersAuthenticatedMedia(['r0.6.1', 'v1.1', 'v1.10']), false);
  assert.equal(offersAuthenticatedMedia(['v1.10', 'v1.11']), true);
  assert.equal(offersAuthenticatedMedia(['v1.13']), true);
  assert.equal(offersAuthenticatedMedia(['v2.0']), true);
  assert.equal(offersAuthenticatedMedia([]), false);
});

test('msgtypes by media type', () => {
  assert.equal(msgtypeFor('image/webp'), 'm.image');
  assert.equal(msgtypeFor('video/mp4'), 'm.video');
  assert.equal(msgtypeFor('audio/ogg'), 'm.audio');
  assert.equal(msgtypeFor('application/pdf'), 'm.file');
});
