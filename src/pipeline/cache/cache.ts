// --cache DIR: compressed segments kept by content and options, so a rebuild redoes only what
// changed. An entry is keyed by SHA-256 over (format version, codec and layout options, segment
// bytes) and carries its own SHA-256; a damaged, truncated or foreign entry is ignored and rebuilt,
// never trusted. Entries are written to a temp file and renamed, so builds may share a cache.
// Which entries a source file's segments have is remembered by its stat (cache-index.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import type { ZResult, Extent } from '../files/zfile.js';
import { takeSlab } from '../files/slab-pool.js';
import * as sys from '../../sys/libc.js';

/** Bump when the encoders or the entry format change: older entries then simply miss. */
export const CACHE_FORMAT = 'erofs-forge-cache/1 lz4/1 deflate/1';
const MAGIC = Buffer.from('EFCACHE1');
/** magic, key, header length, payload length; then the header, the payloads and a SHA-256 of all before it. */
const HEAD = 48;
const SUM = 32;

export function cacheKey(params: unknown, segment: Uint8Array): Buffer {
  return cacheKeyHash(params).update(segment).digest();
}

/** cacheKey's hash before the segment's bytes: they are then given piece by piece (update), the key is its digest. */
export function cacheKeyHash(params: unknown): Hash {
  return createHash('sha256').update(CACHE_FORMAT).update('\0').update(JSON.stringify(params)).update('\0');
}

export function entryPath(dir: string, hex: string): string {
  // Joined, not path.join: normalizing costs more than the lookup itself (one per cached segment).
  return `${dir}/${hex.slice(0, 2)}/${hex}`;
}

interface Header {
  extents: Extent[];
  totalBlocks: number;
  payloads: number[];
  inline: number;
  inlineRaw: number;
  /** Bytes of the fragment (absent in entries of builds without -E fragments). */
  fragment?: number;
}

/**
 * A hit carries the entry's length, which the stat index keeps to read it next time without an
 * fstat, and its identity (entryIdentity), which lets a later build copy its pclusters unread.
 */
export type CacheLookup = { z: ZResult; bytes: number; id: string; head?: string } | { miss: 'absent' | 'damaged' };

/** An entry file's identity as fstat gives it: "dev:ino:size:mtimeNs:ctimeNs". */
function entryIdentity(st: fs.BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** Per thread: the head of entries whose pclusters are left in the file (see cacheGet's `trusted`). */
let headBuf = Buffer.allocUnsafe(16 << 10);
/**
 * Bytes of an entry read first for its head: the header of a one-segment file's entry (most of them)
 * fits; a longer one takes a second read. All of headBuf (16 KiB) read the pclusters that follow
 * the header too, for nothing (bench corpus: 6,530 entries, 143.5 MB of pclusters).
 */
const HEAD_FIRST_READ = 2048;

/**
 * Read and check one entry (hex key). With `bytes` known, one open, one read and one close; the
 * checksum is verified whatever the caller knows. Payloads are views into the entry's own buffer,
 * so a result crosses threads as one transfer and its pclusters go out in one write.
 *
 * `trusted`: the identity the entry had when a build last verified its checksum (kept by the stat
 * index; given only when the caller can write pclusters from a file). When the entry still has it
 * (an entry is never written in place: a new one is renamed over it, a new inode), only its head is
 * read and checked (magic, key, lengths against its size, header) and its pclusters are left in the
 * file: the result's `stored` holds the open descriptor (the caller closes it) and where each
 * pcluster lies, for a copy in the kernel. The trust model of the stat index's source files (see
 * cache-index.ts), applied to the entry: no byte of the pclusters enters JavaScript.
 */
export function cacheGet(dir: string, hex: string, bytes?: number, trusted?: string): CacheLookup {
  let b: Buffer;
  let id: string;
  let fd: number;
  // Through libc: a descriptor handed to another thread must not be one Node's fs tracks (it warns
  // when a number it never saw closed comes back from a later open). Without libc (koffi not
  // loadable here), fs, and every entry is read whole.
  const viaLibc = sys.libcAvailable();
  if (!viaLibc) trusted = undefined;
  try {
    fd = viaLibc ? sys.openat(sys.AT_FDCWD, Buffer.from(entryPath(dir, hex)), sys.O_RDONLY) : fs.openSync(entryPath(dir, hex), 'r');
  } catch {
    return { miss: 'absent' };
  }
  let keepFd = false;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    id = entryIdentity(st);
    if (trusted !== undefined && trusted === id) {
      const r = storedEntry(fd, hex, Number(st.size));
      if (r) {
        keepFd = true;
        const layout = headString(r.z, r.start);
        return layout ? { z: r.z, bytes: r.bytes, id, head: layout } : { z: r.z, bytes: r.bytes, id };
      }
      // Not as it was verified after all: read and checked in full below.
    }
    const size = bytes ?? Number(st.size);
    // One byte more than expected: an entry longer than the index says is read as such, and fails.
    // The buffer is recycled (slab-pool.ts) once the writer has written the entry's pclusters.
    const slab = takeSlab(size + 1);
    b = Buffer.from(slab.buffer, 0, size + 1);
    let got = 0;
    for (let n; got < b.length && (n = fs.readSync(fd, b, got, b.length - got, got)) > 0;) got += n;
    b = b.subarray(0, got);
  } catch {
    return { miss: 'absent' };
  } finally {
    if (!keepFd) {
      if (viaLibc) sys.close(fd);
      else fs.closeSync(fd);
    }
  }
  try {
    const head = headOf(b, hex, b.length);
    if (!head) return { miss: 'damaged' };
    const { hlen, plen } = head;
    const sum = b.subarray(b.length - SUM);
    if (!createHash('sha256').update(b.subarray(0, b.length - SUM)).digest().equals(sum)) return { miss: 'damaged' };
    const h = JSON.parse(b.toString('utf8', HEAD, HEAD + hlen)) as Header;
    let off = HEAD + hlen;
    const take = (n: number) => { const s = new Uint8Array(b.buffer, b.byteOffset + off, n); off += n; return s; };
    const payloads = h.payloads.map((n) => (n ? take(n) : undefined));
    const inline = h.inline ? take(h.inline) : undefined;
    const inlineRaw = h.inlineRaw ? take(h.inlineRaw) : undefined;
    // A copy: the fragment stays in the packed inode's store until the end of the build, while the
    // entry's buffer goes back to the workers (slabs) once the segment is written, detached here.
    const fragment = h.fragment ? take(h.fragment).slice() : undefined;
    if (off !== HEAD + hlen + plen || payloads.length !== h.extents.length) return { miss: 'damaged' };
    const z: ZResult = { extents: h.extents, totalBlocks: h.totalBlocks, payloads, inline, inlineRaw, ...(fragment ? { fragment } : {}), slabs: [b.buffer as ArrayBuffer] };
    const layout = headString(z, HEAD + hlen);
    return layout ? { z, bytes: b.length, id, head: layout } : { z, bytes: b.length, id };
  } catch {
    return { miss: 'damaged' };
  }
}

/**
 * An entry's head (its first bytes, `b`) checked against the entry's key and length `size`: magic, key,
 * and header + payload lengths that add up to the size. Their lengths, or undefined.
 */
function headOf(b: Buffer, hex: string, size: number): { hlen: number; plen: number } | undefined {
  if (size < HEAD + 2 + SUM || b.length < HEAD || !b.subarray(0, 8).equals(MAGIC) || b.toString('hex', 8, 40) !== hex) return undefined;
  const hlen = b.readUInt32LE(40);
  const plen = b.readUInt32LE(44);
  return HEAD + hlen + plen + SUM === size ? { hlen, plen } : undefined;
}

/** An entry's head read and checked, its pclusters left in the file (see cacheGet); undefined if it does not hold. */
function storedEntry(fd: number, hex: string, size: number): { z: ZResult; bytes: number; start: number } | undefined {
  const readAt = (n: number, pos: number): Buffer => {
    if (headBuf.length < n) headBuf = Buffer.allocUnsafe(n);
    let got = 0;
    for (let k; got < n && (k = fs.readSync(fd, headBuf, got, n - got, pos + got)) > 0;) got += k;
    if (got !== n) throw new Error('short read');
    // Only the bytes read: headBuf past them holds an earlier entry's.
    return headBuf.subarray(0, n);
  };
  let b = readAt(Math.min(size, HEAD_FIRST_READ), 0);
  const head = headOf(b, hex, size);
  if (!head) return undefined;
  const { hlen, plen } = head;
  if (HEAD + hlen > b.length) b = readAt(HEAD + hlen, 0);
  let h: Header;
  try {
    h = JSON.parse(b.toString('utf8', HEAD, HEAD + hlen)) as Header;
  } catch {
    return undefined;
  }
  if (!Array.isArray(h.extents) || !Array.isArray(h.payloads) || h.payloads.length !== h.extents.length) return undefined;
  const at = new Float64Array(h.payloads.length);
  let off = HEAD + hlen;
  for (let k = 0; k < h.payloads.length; k++) {
    const n = h.payloads[k];
    at[k] = n ? off : -1;
    off += n;
  }
  // The inline, raw-inline and fragment bytes come after the pclusters: read (copies, small).
  const restLen = (h.inline ?? 0) + (h.inlineRaw ?? 0) + (h.fragment ?? 0);
  if (off + restLen !== HEAD + hlen + plen) return undefined;
  const rest = restLen ? Uint8Array.prototype.slice.call(readAt(restLen, off), 0, restLen) as Uint8Array : new Uint8Array(0);
  let r = 0;
  const part = (n: number | undefined) => { if (!n) return undefined; const v = rest.subarray(r, r + n); r += n; return v; };
  const inline = part(h.inline);
  const inlineRaw = part(h.inlineRaw);
  const fragment = part(h.fragment);
  const z: ZResult = {
    extents: h.extents, totalBlocks: h.totalBlocks, payloads: new Array<undefined>(h.extents.length).fill(undefined),
    inline, inlineRaw, ...(fragment ? { fragment } : {}), stored: { fd, at, lens: Float64Array.from(h.payloads) },
  };
  return { z, bytes: size, start: HEAD + hlen };
}

/**
 * An entry's layout as the stat index keeps it (cache-index.ts `heads`), so that a later build can
 * lay out an unchanged file and copy its pclusters without reading the entry's head:
 * "h1:TOTALBLOCKS:START:UNIT:" then per extent LLEN, a letter (a stored, b compressed, c stored
 * partial, d compressed partial) and BLOCKS, joined by ",". START: where the pclusters begin in the
 * entry; UNIT: bytes per block (every pcluster fills its blocks). Extents follow each other from 0
 * with blkaddr 0, as a segment's result has them. Only for entries of pclusters alone (no inline
 * tail, raw inline bytes or fragment, which would have to be read); undefined for the others.
 */
export function headString(z: ZResult, start: number): string | undefined {
  const n = z.extents.length;
  if (z.inline || z.inlineRaw || z.fragment || n === 0 || n !== z.payloads.length) return undefined;
  const st = z.stored;
  const lenOf = (k: number) => (st ? (st.at[k] >= 0 ? st.lens[k] : 0) : z.payloads[k]?.length ?? 0);
  const unit = z.extents[0].blocks ? lenOf(0) / z.extents[0].blocks : 0;
  if (!Number.isSafeInteger(unit) || unit <= 0) return undefined;
  let s = `h1:${z.totalBlocks}:${start}:${unit}:`;
  let la = 0;
  for (let k = 0; k < n; k++) {
    const e = z.extents[k];
    if (e.fragment || e.ref || e.la !== la || e.blkaddr !== 0 || e.blocks <= 0 || lenOf(k) !== e.blocks * unit) return undefined;
    s += `${k ? ',' : ''}${e.llen}${'abcd'[(e.compressed ? 1 : 0) | (e.partial ? 2 : 0)]}${e.blocks}`;
    la += e.llen;
  }
  return s;
}

/**
 * Where a one-segment file's pclusters were placed in the image (blkaddr set by the writer), in
 * headString's form with START the byte address of the first pcluster in the image and UNIT the
 * block size: a later build copies them from this image (old-image.ts). Only for pclusters alone,
 * side by side (a file with an inline tail, a fragment or an extent placed elsewhere has none).
 */
export function imageHead(z: ZResult, blockSize: number): string | undefined {
  const n = z.extents.length;
  if (z.inline || z.inlineRaw || z.fragment || n === 0) return undefined;
  const first = z.extents[0].blkaddr;
  let s = `h1:${z.totalBlocks}:${first * blockSize}:${blockSize}:`;
  let la = 0;
  let blk = first;
  for (let k = 0; k < n; k++) {
    const e = z.extents[k];
    if (e.fragment || e.ref || e.la !== la || e.blkaddr !== blk || e.blocks <= 0) return undefined;
    s += `${k ? ',' : ''}${e.llen}${'abcd'[(e.compressed ? 1 : 0) | (e.partial ? 2 : 0)]}${e.blocks}`;
    la += e.llen;
    blk += e.blocks;
  }
  return blk - first === z.totalBlocks ? s : undefined;
}

/**
 * A result from an index head (headString) for the entry `key` with identity `id`: its pclusters
 * are left in the entry (ZResult.stored, by key and identity: the job that copies them opens the
 * entry and checks the identity, see openTrustedEntry). With `key` an old image (an imageHead),
 * they are left in that image. Undefined if the head does not parse.
 */
export function resultOfHead(head: string, key: string | { path: string; id: string }, id = ''): ZResult | undefined {
  // Parsed by hand: a split and a regular expression per extent were most of this per file.
  if (!head.startsWith('h1:')) return undefined;
  let i = 3;
  /** The decimal number at i, up to the next non-digit; -1 if none. */
  const num = (): number => {
    let v = 0;
    const from = i;
    for (let c; i < head.length && (c = head.charCodeAt(i) - 48) >= 0 && c <= 9; i++) v = v * 10 + c;
    return i > from ? v : -1;
  };
  const sep = (ch: number): boolean => head.charCodeAt(i++) === ch;
  const totalBlocks = num();
  if (!sep(58)) return undefined;
  let off = num();
  if (!sep(58)) return undefined;
  const unit = num();
  if (!sep(58) || totalBlocks < 0 || off < 0 || unit <= 0) return undefined;
  const extents: Extent[] = [];
  const at: number[] = [];
  const lens: number[] = [];
  let la = 0;
  for (;;) {
    const llen = num();
    const kind = head.charCodeAt(i++) - 97;
    const blocks = num();
    if (llen < 0 || blocks < 0 || !(kind >= 0 && kind <= 3)) return undefined;
    const e: Extent = { la, llen, compressed: (kind & 1) !== 0, blocks, blkaddr: 0 };
    if (kind & 2) e.partial = true;
    extents.push(e);
    at.push(off);
    lens.push(blocks * unit);
    off += blocks * unit;
    la += llen;
    if (i === head.length) break;
    if (!sep(44)) return undefined;
  }
  if (!Number.isSafeInteger(off) || !Number.isSafeInteger(la)) return undefined;
  const stored = typeof key === 'string' ? { fd: -1, at, lens, entry: { key, id } } : { fd: -1, at, lens, image: key };
  return { extents, payloads: new Array<undefined>(extents.length).fill(undefined), totalBlocks, stored };
}

/**
 * Whether entry `key` has the identity `id` now (by lstat, no descriptor): the writer's probe of the
 * entries it lays out from index heads (FileJobQueue), so that a cache copied or restored as a whole
 * (every entry a new inode) is noticed before any layout depends on it.
 */
export function entryHasIdentity(dir: string, key: string, id: string): boolean {
  try {
    return entryIdentity(fs.lstatSync(entryPath(dir, key), { bigint: true })) === id;
  } catch {
    return false;
  }
}

/** The message of a copy that found a named entry changed (build.ts starts the build over on it). */
export const ENTRY_CHANGED = 'cache entry changed since the index recorded its layout';

/**
 * Open entry `key` for its pclusters to be copied, if it still has the identity `id` a build gave
 * it when it verified the entry (the trust rule of cacheGet's `trusted`); undefined otherwise. The
 * caller closes the descriptor.
 */
export function openTrustedEntry(dir: string, key: string, id: string): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(entryPath(dir, key), 'r');
  } catch {
    return undefined;
  }
  try {
    if (entryIdentity(fs.fstatSync(fd, { bigint: true })) === id) return fd;
  } catch { /* as changed */ }
  fs.closeSync(fd);
  return undefined;
}

/** Store an entry; returns its length in bytes, or undefined when it could not be written. */
export function cachePut(dir: string, hex: string, z: ZResult): number | undefined {
  const header: Header = {
    extents: z.extents, totalBlocks: z.totalBlocks, payloads: z.payloads.map((p) => p?.length ?? 0),
    inline: z.inline?.length ?? 0, inlineRaw: z.inlineRaw?.length ?? 0, ...(z.fragment ? { fragment: z.fragment.length } : {}),
  };
  const hbuf = Buffer.from(JSON.stringify(header));
  const parts: Uint8Array[] = [...z.payloads.filter((p): p is Uint8Array => !!p), ...(z.inline ? [z.inline] : []), ...(z.inlineRaw ? [z.inlineRaw] : []), ...(z.fragment ? [z.fragment] : [])];
  const plen = parts.reduce((a, p) => a + p.length, 0);
  const head = Buffer.alloc(HEAD);
  MAGIC.copy(head, 0);
  head.write(hex, 8, 'hex');
  head.writeUInt32LE(hbuf.length, 40);
  head.writeUInt32LE(plen, 44);
  const h = createHash('sha256').update(head).update(hbuf);
  for (const p of parts) h.update(p);
  const file = entryPath(dir, hex);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      const all = [head, hbuf, ...parts, h.digest()];
      const want = all.reduce((a, x) => a + x.length, 0);
      if (fs.writevSync(fd, all) !== want) throw new Error('short write');
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    return HEAD + hbuf.length + plen + SUM;
  } catch {
    // A cache that cannot be written only costs speed.
    try { fs.unlinkSync(tmp); } catch { /* not created */ }
    return undefined;
  }
}
