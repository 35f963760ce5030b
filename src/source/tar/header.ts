// The tar header codec, apart from the stream: 512-byte blocks and PAX record bodies in, plain
// objects out. Pure functions on bytes; nothing here reads files or knows about the tree.
//
// Formats understood: v7, POSIX ustar (prefix field), GNU (long names 'L'/'K', old sparse 'S',
// base-256 numbers), PAX ('x' per entry, 'g' global). Names stay bytes throughout: archives carry
// whatever bytes the file system had, and PAX "UTF-8" values are not always UTF-8 in practice.

export const BLOCK = 512;

export interface RawHeader {
  /** name, or prefix + '/' + name for POSIX ustar. Bytes up to the first NUL. */
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeSec: bigint;
  /** The type flag character ('\0' for v7 regular files). */
  type: string;
  linkname: Buffer;
  devmajor: number;
  devminor: number;
  /** 'ustar' (POSIX), 'gnu' ("ustar  \0") or 'v7'. */
  format: 'ustar' | 'gnu' | 'v7';
}

export type HeaderResult =
  | { kind: 'zero' }
  | { kind: 'header'; header: RawHeader }
  | { kind: 'bad'; reason: string };

function cstr(b: Buffer, start: number, len: number): Buffer {
  const f = b.subarray(start, start + len);
  const nul = f.indexOf(0);
  return Buffer.from(nul < 0 ? f : f.subarray(0, nul));
}

/**
 * A numeric field: octal ASCII (leading spaces or NULs allowed, ended by space or NUL), or GNU base-256
 * (first byte 0x80 positive, 0xff negative, big-endian two's complement). Null when malformed.
 */
export function parseNumeric(f: Buffer): bigint | null {
  if (f.length === 0) return 0n;
  if (f[0] & 0x80) {
    // 0x80: the other bits are the value; 0xff: the whole field is a negative two's complement number.
    const negative = f[0] === 0xff;
    let v = BigInt(negative ? f[0] : f[0] & 0x7f);
    for (let i = 1; i < f.length; i++) v = (v << 8n) | BigInt(f[i]);
    return negative ? v - (1n << BigInt(8 * f.length)) : v;
  }
  let i = 0;
  while (i < f.length && (f[i] === 0x20 || f[i] === 0)) i++;
  if (i === f.length) return 0n;
  let v = 0n;
  let digits = 0;
  for (; i < f.length; i++) {
    const c = f[i];
    if (c >= 0x30 && c <= 0x37) {
      v = v * 8n + BigInt(c - 0x30);
      digits++;
    } else if (c === 0x20 || c === 0) {
      break;
    } else {
      return null;
    }
  }
  // Anything after the terminator must be terminators too.
  for (; i < f.length; i++) if (f[i] !== 0x20 && f[i] !== 0) return null;
  return digits ? v : 0n;
}

function num(b: Buffer, start: number, len: number, what: string): number {
  const v = parseNumeric(b.subarray(start, start + len));
  if (v === null || v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new HeaderFieldError(what);
  return Number(v);
}

class HeaderFieldError extends Error {}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** Decode one 512-byte header block. */
export function decodeHeader(b: Buffer): HeaderResult {
  if (isZeroBlock(b)) return { kind: 'zero' };
  const stored = parseNumeric(b.subarray(148, 156));
  // The checksum is the sum of all bytes with the checksum field read as spaces. Some old writers
  // summed signed chars; accept either (as GNU tar does).
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    unsigned += b[i];
    signed += b[i] > 127 ? b[i] - 256 : b[i];
  }
  if (stored === null || (stored !== BigInt(unsigned) && stored !== BigInt(signed))) {
    return { kind: 'bad', reason: 'bad header checksum' };
  }
  const magic = b.subarray(257, 263).toString('latin1');
  const version = b.subarray(263, 265).toString('latin1');
  const format = magic === 'ustar\0' ? 'ustar' : magic === 'ustar ' && version === ' \0' ? 'gnu' : 'v7';
  try {
    let name = cstr(b, 0, 100);
    // Only POSIX ustar has a prefix field; in GNU headers those bytes hold atime/ctime/sparse data.
    if (format === 'ustar' && b[345] !== 0) name = Buffer.concat([cstr(b, 345, 155), Buffer.from('/'), name]);
    const type = String.fromCharCode(b[156]);
    const mtime = parseNumeric(b.subarray(136, 148));
    if (mtime === null) throw new HeaderFieldError('mtime');
    const dev = type === '3' || type === '4';
    return {
      kind: 'header',
      header: {
        name,
        mode: num(b, 100, 8, 'mode') & 0o7777,
        uid: num(b, 108, 8, 'uid'),
        gid: num(b, 116, 8, 'gid'),
        size: num(b, 124, 12, 'size'),
        mtimeSec: mtime,
        type: type === '\0' ? '\0' : type,
        linkname: cstr(b, 157, 100),
        devmajor: dev ? num(b, 329, 8, 'devmajor') : 0,
        devminor: dev ? num(b, 337, 8, 'devminor') : 0,
        format,
      },
    };
  } catch (e) {
    if (e instanceof HeaderFieldError) return { kind: 'bad', reason: `invalid ${e.message} field` };
    throw e;
  }
}

// ---- GNU old sparse ('S') -------------------------------------------------------------------

export interface SparseSegment {
  offset: number;
  numbytes: number;
}

/** Entries of an old-GNU sparse table at `start` (`count` slots of 24 bytes); stops at an empty slot. */
function sparseSlots(b: Buffer, start: number, count: number, out: SparseSegment[]): void {
  for (let i = 0; i < count; i++) {
    const o = start + i * 24;
    if (b[o] === 0) return;
    const off = parseNumeric(b.subarray(o, o + 12));
    const n = parseNumeric(b.subarray(o + 12, o + 24));
    if (off === null || n === null || off < 0n || n < 0n) throw new Error('invalid sparse map entry');
    out.push({ offset: Number(off), numbytes: Number(n) });
  }
}

/** The sparse map and real size stored in an old-GNU 'S' header, and whether extension blocks follow. */
export function decodeGnuSparseHeader(b: Buffer): { map: SparseSegment[]; realSize: number; extended: boolean } {
  const map: SparseSegment[] = [];
  sparseSlots(b, 386, 4, map);
  const real = parseNumeric(b.subarray(483, 495));
  if (real === null || real < 0n) throw new Error('invalid sparse real size');
  return { map, realSize: Number(real), extended: b[482] !== 0 };
}

/** One old-GNU sparse extension block: 21 more slots, then its own "more follow" flag. */
export function decodeGnuSparseExtension(b: Buffer, map: SparseSegment[]): boolean {
  sparseSlots(b, 0, 21, map);
  return b[504] !== 0;
}

// ---- PAX records ------------------------------------------------------------------------------

export interface PaxRecord {
  /** Keyword (latin1 of its bytes). */
  key: string;
  /** The keyword's bytes (xattr names need them exact). */
  keyBytes: Buffer;
  /** Value bytes, without the trailing newline. Never decoded here: SCHILY.xattr values are binary. */
  value: Buffer;
}

/**
 * Split a PAX extended header body into records "LEN KEY=VALUE\n". Each record is taken by its
 * length prefix, as bytes, so values may contain newlines, NULs or '=' (binary xattr values do).
 * A NUL-padded tail is tolerated. Throws with a reason on malformed input.
 */
export function parsePaxRecords(body: Buffer): PaxRecord[] {
  const out: PaxRecord[] = [];
  let p = 0;
  while (p < body.length) {
    if (body[p] === 0) {
      // Padding after the last record (some writers include it in the size).
      for (let i = p; i < body.length; i++) if (body[i] !== 0) throw new Error('garbage after PAX records');
      break;
    }
    let q = p;
    let len = 0;
    while (q < body.length && body[q] >= 0x30 && body[q] <= 0x39 && q - p < 12) len = len * 10 + (body[q++] - 0x30);
    if (q === p || body[q] !== 0x20) throw new Error(`malformed PAX record length at byte ${p}`);
    const end = p + len;
    if (len <= q - p + 1 || end > body.length || body[end - 1] !== 0x0a) throw new Error(`malformed PAX record at byte ${p}`);
    const kv = body.subarray(q + 1, end - 1);
    const eq = kv.indexOf(0x3d);
    if (eq <= 0) throw new Error(`PAX record without keyword at byte ${p}`);
    const keyBytes = Buffer.from(kv.subarray(0, eq));
    out.push({ key: keyBytes.toString('latin1'), keyBytes, value: Buffer.from(kv.subarray(eq + 1)) });
    p = end;
  }
  return out;
}

/** A decimal integer value (PAX size, uid, ...). Null when malformed. */
export function paxInteger(v: Buffer): number | null {
  const s = v.toString('latin1');
  if (!/^-?\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * A PAX time "SECONDS[.FRACTION]", possibly negative ("-1.25" is 1.25 s before the epoch, i.e.
 * seconds -2 and 750000000 ns). More than 9 fraction digits are truncated. Null when malformed.
 */
export function paxTime(v: Buffer): { sec: bigint; nsec: number } | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(v.toString('latin1'));
  if (!m) return null;
  const whole = BigInt(m[2]);
  const frac = m[3] ? Number((m[3] + '00000000').slice(0, 9)) : 0;
  if (m[1] !== '-') return { sec: whole, nsec: frac };
  if (frac === 0) return { sec: -whole, nsec: 0 };
  return { sec: -whole - 1n, nsec: 1_000_000_000 - frac };
}
