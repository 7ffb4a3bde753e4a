// GET /media/<token>/<file name>: the files of ponte's media links
// (src/core/media-links.ts), fetched from the network with the login of the
// user the link was made for and streamed to whoever asks.
//
// Decisions:
// - 403 for a token ponte did not make (forged, altered); 404 when the
//   network has no such file or the login is gone; 502 when the network
//   fails, cannot be reached, or the file is larger than MEDIA_MAX_BYTES.
//   Error bodies are plain text that say which.
// - The file's type and length as the network gives them. Images, audio
//   and video are shown inline, anything else is a download; nosniff and a
//   sandboxing Content-Security-Policy keep a file from running as a page of
//   ponte's origin.
// - A file that grows past the cap while streaming is cut off (the client
//   sees a broken download, never more than the cap).
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../core/errors.js';
import { safeFileName, type MediaLinks, type MediaReference } from '../core/media-links.js';
import type { MediaFile } from '../networks/types.js';

/** The largest file served (as Synapse's default upload limit). */
export const MEDIA_MAX_BYTES = 50 * 1024 * 1024;
const INLINE = /^(image|audio|video)\//;

export interface MediaDeps {
  links: MediaLinks;
  open(target: MediaReference, options: { maxBytes: number; signal: AbortSignal }): Promise<MediaFile>;
}

function statusFor(err: unknown): { status: number; text: string } {
  if (err instanceof GatewayError) {
    switch (err.condition) {
      case 'item-not-found':
      case 'registration-required':
        return { status: 404, text: `Not found: ${err.message}` };
      case 'forbidden':
      case 'not-authorized':
        return { status: 403, text: `Forbidden: ${err.message}` };
      default:
        return { status: 502, text: `The network did not deliver the file: ${err.message}` };
    }
  }
  return { status: 502, text: `The network did not deliver the file: ${(err as Error).message}` };
}

/** The file's bytes, cut off with an error past `maxBytes`. */
function capped(file: MediaFile, maxBytes: number): Readable {
  let seen = 0;
  async function* limited(): AsyncGenerator<Uint8Array> {
    for await (const chunk of file.body) {
      seen += chunk.length;
      if (seen > maxBytes) {
        file.cancel();
        throw new Error(`the file is larger than ${maxBytes} bytes`);
      }
      yield chunk;
    }
  }
  return Readable.from(limited(), { objectMode: false });
}

export function registerMedia(app: FastifyInstance, deps: MediaDeps): void {
  app.get<{ Params: { token: string; name: string } }>('/media/:token/:name', async (request, reply) => {
    const target = deps.links.open(request.params.token);
    if (!target) {
      return reply.code(403).type('text/plain; charset=utf-8').send('Forbidden: this media link was not made by this gateway, or it was altered.');
    }
    // The client went away (or the answer is complete): stop downloading.
    const abort = new AbortController();
    reply.raw.on('close', () => abort.abort());
    let file: MediaFile;
    try {
      file = await deps.open(target, { maxBytes: MEDIA_MAX_BYTES, signal: abort.signal });
    } catch (err) {
      const { status, text } = statusFor(err);
      request.log.info({ status, network: target.network }, 'media link not served');
      return reply.code(status).type('text/plain; charset=utf-8').send(text);
    }
    if (file.length !== undefined && file.length > MEDIA_MAX_BYTES) {
      file.cancel();
      return reply.code(502).type('text/plain; charset=utf-8').send(`The file is larger than this gateway serves (${MEDIA_MAX_BYTES} bytes).`);
    }
    const name = safeFileName(request.params.name);
    reply
      .code(200)
      .type(file.type)
      .header('Cache-Control', 'private, max-age=86400')
      .header('X-Content-Type-Options', 'nosniff')
      .header('Content-Security-Policy', "sandbox; default-src 'none'")
      .header('Content-Disposition', `${INLINE.test(file.type) ? 'inline' : 'attachment'}; filename*=utf-8''${encodeURIComponent(name)}`);
    if (file.length !== undefined) reply.header('Content-Length', String(file.length));
    return reply.send(capped(file, MEDIA_MAX_BYTES));
  });
}
