// Handles: JID-safe stand-ins for network ids that a JID localpart cannot carry
// faithfully, above all Matrix room ids, which are case-sensitive
// (`!AbC:matrix.org` and `!abc:matrix.org` are different rooms) while JID
// localparts are not.
//
// Choice: the handle is the lowercase RFC 4648 base32 encoding of
// SHA-256(network id), cut to HANDLE_LENGTHS[0] = 10 characters (50 bits),
// e.g. `!AbC:x` -> `2aciivugdx`, `!abc:x` -> `pwr775addk`.
// - Deterministic: the same network id gets the same handle on every
//   install and after a lost database, so bookmarks keep working in practice;
//   but the store, not the function, is the authority once a handle exists.
// - Collision-free: the store keeps (network, handle) unique. When a candidate
//   is taken by another id, the next, longer prefix of the same hash is tried
//   (16, 26, then all 52 characters), still deterministic. With 50 bits, the
//   first collision is expected after ~3*10^7 ids in one network.
// - Readable enough: 10 characters from [a-z2-7], no 0/1/8/9 so nothing reads
//   as o/l/b/g, never needs XEP-0106 escaping, never contains `%` or `@`, and
//   is already lowercase so it survives JID case folding. The opaque ids
//   handled here carry no meaning a slug of them could show; the readable
//   part is the mapping's display `name` (room name, contact name).
import { createHash } from 'node:crypto';

export const HANDLE_LENGTHS = [10, 16, 26, 52] as const;
/** What the store accepts as a handle (also a CHECK constraint in the migration). */
export const HANDLE_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The candidate handles for a network id, shortest first. */
export function handleCandidates(networkId: string): string[] {
  const full = base32(createHash('sha256').update(networkId, 'utf8').digest());
  return HANDLE_LENGTHS.map((length) => full.slice(0, length));
}

/** Lowercases a handle typed by a user (JID localparts are case-insensitive); null if it cannot be one. */
export function normalizeHandle(handle: string): string | null {
  const lower = handle.toLowerCase();
  return HANDLE_PATTERN.test(lower) ? lower : null;
}
