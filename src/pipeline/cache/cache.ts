// --cache DIR: compressed segments kept by content and options, so a rebuild redoes only what
// changed. An entry is keyed by SHA-256 over (format version, codec and layout options, segment
// bytes) and carries its own SHA-256; a damaged, truncated or foreign entry is ignored and rebuilt,
// never trusted. Entries are written to a temp file and renamed, so builds may share a cache.
// Which entries a source file's segments have is remembered by its stat (cache-index.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { ZResult, Extent } from '../files/zfile.js';
import { takeSlab } from '../files/slab-pool.js';

/** Bump when the encoders or the entry format change: older entries then simply miss. */
export const CACHE_FORMAT = 'erofs-forge-cache/1 lz4/1 deflate/1';
const MAGIC = Buffer.from('EFCACHE1');
/** magic, key, header length, payload length; then the header, the payloads and a SHA-256 of all before it. */
const HEAD = 48;
const SUM = 32;

export function cacheKey(params: unknown, segment: Uint8Array): Buffer {
  return createHash('sha256').update(CACHE_FORMAT).update('\0').update(JSON.stringify(params)).update('\0').update(segment).digest();
}

function entryPath(dir: string, hex: string): string {
  return path.join(dir, hex.slice(0, 2), hex);
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

/** A hit carries the entry's length, which the stat index keeps to read it next time without an fstat. */
export type CacheLookup = { z: ZResult; bytes: number } | { miss: 'absent' | 'damaged' };

/**
 * Read and check one entry (hex key). With `bytes` known, one open, one read and one close; the
 * checksum is verified whatever the caller knows. Payloads are views into the entry's own buffer,
 * so a result crosses threads as one transfer and its pclusters go out in one write.
 */
export function cacheGet(dir: string, hex: string, bytes?: number): CacheLookup {
  let b: Buffer;
  try {
    const fd = fs.openSync(entryPath(dir, hex), 'r');
    try {
      const size = bytes ?? fs.fstatSync(fd).size;
      // One byte more than expected: an entry longer than the index says is read as such, and fails.
      // The buffer is recycled (slab-pool.ts) once the writer has written the entry's pclusters.
      const slab = takeSlab(size + 1);
      b = Buffer.from(slab.buffer, 0, size + 1);
      let got = 0;
      for (let n; got < b.length && (n = fs.readSync(fd, b, got, b.length - got, got)) > 0;) got += n;
      b = b.subarray(0, got);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return { miss: 'absent' };
  }
  try {
    if (b.length < HEAD + 2 + SUM || !b.subarray(0, 8).equals(MAGIC) || b.toString('hex', 8, 40) !== hex) return { miss: 'damaged' };
    const sum = b.subarray(b.length - SUM);
    if (!createHash('sha256').update(b.subarray(0, b.length - SUM)).digest().equals(sum)) return { miss: 'damaged' };
    const hlen = b.readUInt32LE(40);
    const plen = b.readUInt32LE(44);
    if (HEAD + hlen + plen + SUM !== b.length) return { miss: 'damaged' };
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
    return { z: { extents: h.extents, totalBlocks: h.totalBlocks, payloads, inline, inlineRaw, ...(fragment ? { fragment } : {}), slabs: [b.buffer as ArrayBuffer] }, bytes: b.length };
  } catch {
    return { miss: 'damaged' };
  }
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
