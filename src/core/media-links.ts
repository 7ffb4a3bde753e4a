// Links to files a network holds behind the user's own login (Matrix media
// since the spec's authenticated media, v1.11): ponte hands the XMPP user
// its own URL, <publicUrl>/media/<token>/<file name>, and serves the file
// from there with the user's credentials (src/http/media.ts).
//
// Decisions:
// - The token is the reference (network, user, the network's file id)
//   sealed with AES-256-GCM under a key of its own derived from
//   store.encryptionKey (SecretBox.derive): the GCM tag authenticates it,
//   so only links ponte made open (ponte is no open proxy, and nobody can
//   make a link to a file with someone else's login), and the user's JID
//   does not show in a URL they may pass on.
// - Links do not expire: they stand in archived messages (MAM). They stop
//   working when the user's login is gone or the network no longer has the
//   file. Whoever has a link can fetch that one file, as with the XMPP
//   server's own upload links (XEP-0363).
// - The file name at the end is only for clients that name the download
//   after the URL; it is not part of what is checked.
import type { SecretBox } from '../store/crypto.js';

/** What a media link points at. */
export interface MediaReference {
  /** The network (its config and registry key). */
  network: string;
  /** Bare JID of the user whose login fetches it. */
  userJid: string;
  /** The network's own id of the file (a Matrix mxc:// URI). */
  reference: string;
}

/** The purpose of the key media links are sealed with. */
export const MEDIA_LINK_PURPOSE = 'media-links/v1';
const CONTEXT = 'media-link';

export class MediaLinks {
  constructor(
    private readonly box: SecretBox,
    /** The public base URL of ponte's HTTP server (http.publicUrl), read at each link. */
    private readonly baseUrl: () => string,
  ) {}

  url(target: MediaReference, fileName?: string): string {
    const token = this.box.sealJson([target.network, target.userJid, target.reference], CONTEXT).toString('base64url');
    const name = safeFileName(fileName);
    return `${this.baseUrl().replace(/\/+$/, '')}/media/${token}/${encodeURIComponent(name)}`;
  }

  /** The reference of a token, or null when ponte did not make it (forged, altered, another key). */
  open(token: string): MediaReference | null {
    if (!/^[A-Za-z0-9_-]{1,4096}$/.test(token)) return null;
    try {
      const value = this.box.openJson<unknown>(Buffer.from(token, 'base64url'), CONTEXT);
      if (!Array.isArray(value) || value.length !== 3 || !value.every((part) => typeof part === 'string')) return null;
      const [network, userJid, reference] = value as [string, string, string];
      return { network, userJid, reference };
    } catch {
      return null;
    }
  }
}

/** The last path segment: the file's name without path separators or control characters, "file" when there is none. */
export function safeFileName(name: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = (name ?? '').replace(/[\u0000-\u001f\u007f/\\]/g, '').trim().slice(0, 120);
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? 'file' : cleaned;
}
