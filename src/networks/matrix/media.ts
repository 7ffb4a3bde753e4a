// Files from XMPP to Matrix: an attachment URL (XEP-0363 upload, XEP-0066
// link) on one of the hosts the admin listed (networks.matrix.mediaHosts) is
// fetched and uploaded to the Matrix media repository, then sent as
// m.image / m.video / m.audio / m.file with its mimetype and size. Any other
// URL stays a link in the text: ponte never fetches arbitrary URLs for a user,
// so nobody can make it read from its own network and post the result.
//
// Limits: http(s) only, no redirects (a redirect could leave the listed
// hosts), at most MAX_FILE_BYTES, FETCH_TIMEOUT_MS for the whole download.
import type { Attachment } from '../../core/message.js';
import { GatewayError } from '../../core/errors.js';

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
