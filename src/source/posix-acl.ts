// POSIX ACL text (as tar archives carry it in SCHILY.acl.access / SCHILY.acl.default) to the binary
// value the kernel keeps in system.posix_acl_access / system.posix_acl_default:
//   u32 version = 2, then entries { u16 tag, u16 perm, u32 id } (little-endian), sorted by tag then id;
//   id is 0xffffffff (ACL_UNDEFINED_ID) for USER_OBJ, GROUP_OBJ, MASK and OTHER.
// Checked against `getfattr -e hex -n system.posix_acl_access` after `setfacl -m u:1234:rwx,g:5678:r-x`:
//   0x02000000 01000600ffffffff 02000700d2040000 04000400ffffffff 080005002e160000 10000700ffffffff 20000000ffffffff
import { lookupGroup, lookupUser } from '../sys/libc.js';

const TAG = { USER_OBJ: 0x01, USER: 0x02, GROUP_OBJ: 0x04, GROUP: 0x08, MASK: 0x10, OTHER: 0x20 } as const;
const UNDEFINED_ID = 0xffffffff;

export interface AclEntry {
  tag: number;
  perm: number;
  id: number;
}

/** Looks a user or group name up (getpwnam/getgrnam, so NSS applies as it would for tar); null when unknown. */
export type NameResolver = (kind: 'user' | 'group', name: string) => number | null;

const cache = new Map<string, number | null>();
export const nssResolver: NameResolver = (kind, name) => {
  const key = `${kind}:${name}`;
  if (cache.has(key)) return cache.get(key)!;
  const id = kind === 'user' ? lookupUser(name) : lookupGroup(name);
  cache.set(key, id);
  return id;
};

function parsePerm(s: string): number | null {
  let p = 0;
  for (const c of s) {
    if (c === 'r') p |= 4;
    else if (c === 'w') p |= 2;
    else if (c === 'x') p |= 1;
    else if (c !== '-') return null;
  }
  return p;
}

/**
 * Parse ACL text: entries separated by newlines or commas, "#" comments, tags spelled out or
 * abbreviated (u, g, m, o), an optional 4th field with the numeric id (star and bsdtar write
 * "user:lisa:rwx:1001"). A name is resolved first (as libacl would on extraction), else the
 * numeric field. Returns the entries, or a reason string when the text cannot be used.
 */
export function parseAclText(text: string, resolve: NameResolver): AclEntry[] | string {
  const entries: AclEntry[] = [];
  for (let raw of text.split(/[\n,]/)) {
    const hash = raw.indexOf('#');
    if (hash >= 0) raw = raw.slice(0, hash);
    raw = raw.trim();
    if (!raw) continue;
    const f = raw.split(':');
    if (f.length < 3 || f.length > 4) return `malformed ACL entry "${raw}"`;
    const [tagWord, qual, permText, idText] = f;
    const perm = parsePerm(permText);
    if (perm === null) return `bad permissions in ACL entry "${raw}"`;
    let kind: 'user' | 'group' | 'mask' | 'other';
    switch (tagWord) {
      case 'user': case 'u': kind = 'user'; break;
      case 'group': case 'g': kind = 'group'; break;
      case 'mask': case 'm': kind = 'mask'; break;
      case 'other': case 'o': kind = 'other'; break;
      default: return `unknown tag in ACL entry "${raw}"`;
    }
    if (kind === 'mask' || kind === 'other') {
      if (qual) return `unexpected qualifier in ACL entry "${raw}"`;
      entries.push({ tag: kind === 'mask' ? TAG.MASK : TAG.OTHER, perm, id: UNDEFINED_ID });
      continue;
    }
    if (!qual) {
      entries.push({ tag: kind === 'user' ? TAG.USER_OBJ : TAG.GROUP_OBJ, perm, id: UNDEFINED_ID });
      continue;
    }
    let id: number | null = /^\d+$/.test(qual) ? Number(qual) : resolve(kind, qual);
    if (id === null && idText !== undefined && /^\d+$/.test(idText)) id = Number(idText);
    if (id === null || id > 0xfffffffe) return `unknown ${kind} "${qual}" in ACL`;
    entries.push({ tag: kind === 'user' ? TAG.USER : TAG.GROUP, perm, id });
  }
  return entries;
}

/**
 * Check an ACL the way the kernel does (posix_acl_valid): exactly one USER_OBJ, GROUP_OBJ and OTHER,
 * no duplicate named entries, and a MASK whenever there are named entries. Returns a reason or null.
 */
function invalid(entries: AclEntry[]): string | null {
  const count = (t: number) => entries.filter((e) => e.tag === t).length;
  if (count(TAG.USER_OBJ) !== 1 || count(TAG.GROUP_OBJ) !== 1 || count(TAG.OTHER) !== 1) return 'ACL needs one user::, group:: and other:: entry';
  if (count(TAG.MASK) > 1) return 'ACL has more than one mask';
  const named = entries.filter((e) => e.tag === TAG.USER || e.tag === TAG.GROUP);
  if (named.length && !count(TAG.MASK)) return 'ACL with named entries has no mask';
  const keys = new Set(named.map((e) => `${e.tag}:${e.id}`));
  if (keys.size !== named.length) return 'ACL has duplicate entries';
  return null;
}

/** Binary xattr value of a list of entries (sorted here). */
export function encodeAcl(entries: AclEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag || a.id - b.id);
  const out = Buffer.alloc(4 + 8 * sorted.length);
  out.writeUInt32LE(2, 0);
  sorted.forEach((e, i) => {
    out.writeUInt16LE(e.tag, 4 + 8 * i);
    out.writeUInt16LE(e.perm, 6 + 8 * i);
    out.writeUInt32LE(e.id, 8 + 8 * i);
  });
  return out;
}

/**
 * The xattr value for an ACL text, or null when the ACL stores nothing: an access ACL with only the
 * three base entries is just the mode bits (the kernel drops such an xattr), and an empty default ACL
 * means none. An access ACL also gives `perms`, the permission bits the kernel sets in i_mode when it
 * is applied (posix_acl_update_mode): owner from user::, other from other::, group from mask:: when
 * there is one, else group::. GNU tar -x --acls sets the ACL after the mode, so these bits win over the
 * archive's mode (bsdtar archives can disagree). Returns { error } when the text is unusable (GNU tar
 * then warns and skips the ACL).
 */
export function aclTextToXattr(text: string, which: 'access' | 'default', resolve: NameResolver = nssResolver):
  { value: Buffer | null; perms?: number } | { error: string } {
  const parsed = parseAclText(text, resolve);
  if (typeof parsed === 'string') return { error: parsed };
  if (parsed.length === 0) return { value: null };
  const bad = invalid(parsed);
  if (bad) return { error: bad };
  if (which === 'default') return { value: encodeAcl(parsed) };
  const perm = (tag: number) => parsed.find((e) => e.tag === tag)?.perm;
  const perms = (perm(TAG.USER_OBJ)! << 6) | ((perm(TAG.MASK) ?? perm(TAG.GROUP_OBJ)!) << 3) | perm(TAG.OTHER)!;
  return { value: parsed.length === 3 ? null : encodeAcl(parsed), perms };
}
