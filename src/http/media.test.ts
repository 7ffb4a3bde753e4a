import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../core/errors.js';
import { MEDIA_LINK_PURPOSE, MediaLinks, type MediaReference } from '../core/media-links.js';
import { Metrics } from '../metrics.js';
import type { MediaFile } from '../networks/types.js';
import { SecretBox } from '../store/crypto.js';
import { MEDIA_MAX_BYTES } from './media.js';
import { buildHttp } from './server.js';

const links = new MediaLinks(SecretBox.fromDerivedKey(Buffer.alloc(32, 1)).derive(MEDIA_LINK_PURPOSE), () => 'http://ponte.test');
const pathOf = (reference: string, name = 'f.bin') => new URL(links.url({ network: 'matrix', userJid: 'a@b', reference }, name)).pathname;

function file(chunks: Buffer[], type = 'application/octet-stream', length?: number): MediaFile {
  return {
    type,
    ...(length !== undefined ? { length } : {}),
    body: (async function* () {
      for (const chunk of chunks) yield chunk;
    })(),
    cancel: () => undefined,
  };
}

function app(open: (target: MediaReference) => Promise<MediaFile>) {
  return buildHttp({
    metrics: new Metrics({ processMetrics: false }),
    health: async () => ({ status: 'ready', components: {}, store: { engine: 'pglite', ok: true }, networks: {} }),
    media: { links, open },
  });
}

test('the file of a genuine link, with its type and length; images inline, other files as downloads', async () => {
  const seen: MediaReference[] = [];
  const http = app(async (target) => {
    seen.push(target);
    return target.reference.endsWith('png') ? file([Buffer.from('png!')], 'image/png', 4) : file([Buffer.from('a'), Buffer.from('b')], 'text/html');
  });
  const image = await http.inject({ method: 'GET', url: pathOf('mxc://hs/png', 'cat.png') });
  assert.equal(image.statusCode, 200);
  assert.equal(image.body, 'png!');
  assert.equal(image.headers['content-type'], 'image/png');
  assert.equal(image.headers['content-length'], '4');
  assert.match(String(image.headers['content-disposition']), /^inline; filename\*=utf-8''cat\.png$/);
  const page = await http.inject({ method: 'GET', url: pathOf('mxc://hs/html', 'x.html') });
  assert.equal(page.body, 'ab');
  assert.match(String(page.headers['content-disposition']), /^attachment;/);
  assert.match(String(page.headers['content-security-policy']), /sandbox/);
  assert.deepEqual(seen.map((t) => t.reference), ['mxc://hs/png', 'mxc://hs/html']);
});

test('refusals: 403 for links ponte did not make, 404 and 502 from what the network said, 502 past the size cap', async () => {
  const http = app(async (target) => {
    if (target.reference === 'mxc://hs/missing') throw new GatewayError('item-not-found', 'The homeserver has no such file.');
    if (target.reference === 'mxc://hs/down') throw new GatewayError('remote-server-not-found', 'The homeserver cannot be reached.');
    if (target.reference === 'mxc://hs/denied') throw new GatewayError('forbidden', 'refused.');
    return file([Buffer.alloc(1)], 'application/octet-stream', MEDIA_MAX_BYTES + 1);
  });
  const forged = await http.inject({ method: 'GET', url: '/media/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/x' });
  assert.equal(forged.statusCode, 403);
  assert.match(forged.body, /not made by this gateway/);
  const missing = await http.inject({ method: 'GET', url: pathOf('mxc://hs/missing') });
  assert.deepEqual([missing.statusCode, missing.body], [404, 'Not found: The homeserver has no such file.']);
  const down = await http.inject({ method: 'GET', url: pathOf('mxc://hs/down') });
  assert.equal(down.statusCode, 502);
  assert.match(down.body, /cannot be reached/);
  assert.equal((await http.inject({ method: 'GET', url: pathOf('mxc://hs/denied') })).statusCode, 403);
  const huge = await http.inject({ method: 'GET', url: pathOf('mxc://hs/huge') });
  assert.equal(huge.statusCode, 502);
  assert.match(huge.body, /larger than this gateway serves/);
});
