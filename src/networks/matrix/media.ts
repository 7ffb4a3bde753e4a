// Files both ways between XMPP and Matrix.
//
// From XMPP to Matrix: an attachment URL (XEP-0363 upload, XEP-0066
// link) on one of the hosts the admin listed (networks.matrix.mediaHosts) is
// fetched and uploaded to the Matrix media repository, then sent as
// m.image / m.video / m.audio / m.file with its mimetype and size. Any other
// URL stays a link in the text: ponte never fetches arbitrary URLs for a user,
// so nobody can make it read from its own network and post the result.
//
// Limits: http(s) only, no redirects (a redirect could leave the listed
// hosts), at most MAX_FILE_BYTES, FETCH_TIMEOUT_MS for the whole download.
//
// From Matrix to XMPP: the XMPP user gets ponte's own link (NetworkContext
// mediaUrl), and ponte downloads the file with the user's access token when
// the link is opened (MatrixMedia.open):
// - on /_matrix/client/v1/media/download (authenticated media, spec v1.11)
//   when the homeserver's /versions lists v1.11 or later, else on
//   /_matrix/media/v3/download (with the token too: servers that want none
//   ignore it); a v1 path the server does not know (M_UNRECOGNIZED) falls
//   back to v3. The versions are asked once per homeserver and kept
//   VERSIONS_TTL_MS.
// - No redirects: without allow_redirect the spec has the server answer
//   with the file itself, and a redirect followed with the user's token
//   could lead anywhere.
import type { Attachment } from '../../core/message.js';
import { GatewayError } from '../../core/errors.js';
import type { MediaFile } from '../types.js';
import type { MatrixCredentials } from './client.js';

/** How long a homeserver's /versions answer is trusted. */
export const VERSIONS_TTL_MS = 10 * 60_000;
/** The time to get the answer's headers (the body streams as long as it takes). */
export const MEDIA_HEADERS_TIMEOUT_MS = 30_000;

export const MAX_FILE_BYTES = 50 * 1024 * 1024;
export const FETCH_TIMEOUT_MS = 60_000;

export function mayFetch(url: string, hosts: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
  const host = parsed.host.toLowerCase();
  const hostname = parsed.hostname.toLowerCase();
  return hosts.some((allowed) => {
    const entry = allowed.toLowerCase();
    return entry === host || (!entry.includes(':') && entry === hostname);
  });
}

export interface FetchedFile {
  data: Buffer;
  name: string;
  mediaType: string;
}

export async function fetchFile(attachment: Attachment): Promise<FetchedFile> {
  const what = `The file ${attachment.url} could not be sent to Matrix`;
  let response: Response;
  try {
    response = await fetch(attachment.url, { redirect: 'manual', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw new GatewayError('remote-server-not-found', `${what}: it could not be fetched (${(err as Error).message}).`);
  }
  if (response.status !== 200 || !response.body) {
    throw new GatewayError('item-not-found', `${what}: fetching it gave HTTP ${response.status}.`);
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_FILE_BYTES) throw new GatewayError('policy-violation', `${what}: it is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB.`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > MAX_FILE_BYTES) throw new GatewayError('policy-violation', `${what}: it is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB.`);
    chunks.push(Buffer.from(chunk));
  }
  const path = new URL(attachment.url).pathname;
  const last = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || 'file';
  const mediaType = attachment.mediaType ?? response.headers.get('content-type')?.split(';')[0]?.trim() ?? 'application/octet-stream';
  return { data: Buffer.concat(chunks), name: attachment.name ?? last, mediaType };
}

/** The msgtype Matrix clients show best for a media type. */
export function msgtypeFor(mediaType: string): string {
  if (mediaType.startsWith('image/')) return 'm.image';
  if (mediaType.startsWith('video/')) return 'm.video';
  if (mediaType.startsWith('audio/')) return 'm.audio';
  return 'm.file';
}

const MXC = /^mxc:\/\/([A-Za-z0-9.:[\]-]+)\/([A-Za-z0-9_-]+)$/;

/** Whether a /versions list has authenticated media (v1.11 or later). */
export function offersAuthenticatedMedia(versions: readonly string[]): boolean {
  return versions.some((version) => {
    const m = /^v(\d+)\.(\d+)$/.exec(version);
    return m !== null && (Number(m[1]) > 1 || (Number(m[1]) === 1 && Number(m[2]) >= 11));
  });
}

/** Downloads Matrix media for ponte's media links, one instance per network (it keeps what each homeserver offers). */
export class MatrixMedia {
  private readonly versions = new Map<string, { authenticated: boolean; until: number }>();

  private async authenticated(baseUrl: string, signal: AbortSignal): Promise<boolean> {
    const known = this.versions.get(baseUrl);
    if (known && known.until > Date.now()) return known.authenticated;
    let authenticated = false;
    try {
      const response = await fetch(`${baseUrl}/_matrix/client/versions`, { redirect: 'manual', signal: AbortSignal.any([signal, AbortSignal.timeout(MEDIA_HEADERS_TIMEOUT_MS)]) });
      const body = (await response.json()) as { versions?: unknown };
      authenticated = Array.isArray(body.versions) && offersAuthenticatedMedia(body.versions.filter((v): v is string => typeof v === 'string'));
    } catch (err) {
      throw new GatewayError('remote-server-not-found', `The homeserver cannot be reached (${(err as Error).message}).`);
    }
    this.versions.set(baseUrl, { authenticated, until: Date.now() + VERSIONS_TTL_MS });
    return authenticated;
  }

  async open(credentials: MatrixCredentials, mxc: string, signal: AbortSignal): Promise<MediaFile> {
    const m = MXC.exec(mxc);
    if (!m) throw new GatewayError('item-not-found', `${mxc.slice(0, 100)} is not a Matrix media URI.`);
    const tail = `download/${encodeURIComponent(m[1]!)}/${m[2]}`;
    const urls = [`${credentials.baseUrl}/_matrix/media/v3/${tail}`];
    if (await this.authenticated(credentials.baseUrl, signal)) urls.unshift(`${credentials.baseUrl}/_matrix/client/v1/media/${tail}`);
    for (const [index, url] of urls.entries()) {
      const download = new AbortController();
      const headersTimeout = setTimeout(() => download.abort(), MEDIA_HEADERS_TIMEOUT_MS);
      const onAbort = () => download.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      let response: Response;
      try {
        response = await fetch(url, { headers: { Authorization: `Bearer ${credentials.accessToken}` }, redirect: 'manual', signal: download.signal });
      } catch (err) {
        signal.removeEventListener('abort', onAbort);
        throw new GatewayError('remote-server-not-found', `The homeserver cannot be reached (${(err as Error).message}).`);
      } finally {
        clearTimeout(headersTimeout);
      }
      const cancel = () => {
        signal.removeEventListener('abort', onAbort);
        download.abort();
      };
      if (response.status === 200 && response.body) {
        const length = Number(response.headers.get('content-length') ?? '');
        const body = response.body;
        return {
          type: response.headers.get('content-type')?.trim() || 'application/octet-stream',
          ...(Number.isSafeInteger(length) && length >= 0 && response.headers.has('content-length') ? { length } : {}),
          body: (async function* () {
            try {
              for await (const chunk of body) yield chunk;
            } finally {
              signal.removeEventListener('abort', onAbort);
            }
          })(),
          cancel,
        };
      }
      const error = (await response.json().catch(() => ({}))) as { errcode?: string; error?: string };
      cancel();
      // A server that lists v1.11 but has no authenticated media: the legacy path.
      if (error.errcode === 'M_UNRECOGNIZED' && index < urls.length - 1) continue;
      const said = `${error.error ?? `HTTP ${response.status}`}${error.errcode ? ` (${error.errcode})` : ''}`;
      if (response.status === 404) throw new GatewayError('item-not-found', `The homeserver has no such file: ${said}.`);
      if (response.status === 401 || response.status === 403) throw new GatewayError('forbidden', `The homeserver refused the file to the login of this link: ${said}.`);
      if (response.status >= 300 && response.status < 400) throw new GatewayError('undefined-condition', `The homeserver redirected the download (HTTP ${response.status}); ponte does not follow media redirects.`);
      throw new GatewayError('undefined-condition', `The homeserver failed to deliver the file: ${said}.`);
    }
    throw new GatewayError('item-not-found', 'The homeserver has no such file.');
  }
}
