// --cache DIR: compressed segments kept by content and options, so a rebuild redoes only what
// changed. An entry is keyed by SHA-256 over (format version, codec and layout options, segment
// bytes) and carries its own SHA-256; a damaged, truncated or foreign entry is ignored and rebuilt,
// never trusted. Entries are written to a temp file and renamed, so builds may share a cache.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { ZResult, Extent } from './zfile.js';

/** Bump when the encoders or the entry format change: older entries then simply miss. */
export const CACHE_FORMAT = 'erofs-forge-cache/1 lz4/1 deflate/1';
const MAGIC = Buffer.from('EFCACHE1');

export function cacheKey(params: unknown, segment: Uint8Array): Buffer {
  return createHash('sha256').update(CACHE_FORMAT).update('\0').update(JSON.stringify(params)).update('\0').update(segment).digest();
}

function entryPath(dir: string, key: Buffer): string {
  const hex = key.toString('hex');
  return path.join(dir, hex.slice(0, 2), hex);
}

interface Header {
  extents: Extent[];
  totalBlocks: number;
  payloads: number[];
  inline: number;
  inlineRaw: number;
}

export type CacheLookup = { z: ZResult } | { miss: 'absent' | 'damaged' };

export function cacheGet(dir: string, key: Buffer): CacheLookup {
  let b: Buffer;
  try {
    b = fs.readFileSync(entryPath(dir, key));
  } catch {
    return { miss: 'absent' };
  }
  try {
    if (b.length < 8 + 32 + 8 + 32 || !b.subarray(0, 8).equals(MAGIC) || !b.subarray(8, 40).equals(key)) return { miss: 'damaged' };
    const sum = b.subarray(b.length - 32);
    if (!createHash('sha256').update(b.subarray(0, b.length - 32)).digest().equals(sum)) return { miss: 'damaged' };
    const hlen = b.readUInt32LE(40);
    const plen = b.readUInt32LE(44);
    if (48 + hlen + plen + 32 !== b.length) return { miss: 'damaged' };
    const h = JSON.parse(b.subarray(48, 48 + hlen).toString()) as Header;
    let off = 48 + hlen;
    const take = (n: number) => { const s = new Uint8Array(n); s.set(b.subarray(off, off + n)); off += n; return s; };
    // All payloads in one buffer (views), as compressExtents returns them.
    const all = take(h.payloads.reduce((a, n) => a + n, 0));
    let at = 0;
    const payloads = h.payloads.map((n) => { if (!n) return undefined; const v = all.subarray(at, at + n); at += n; return v; });
    const inline = h.inline ? take(h.inline) : undefined;
    const inlineRaw = h.inlineRaw ? take(h.inlineRaw) : undefined;
    if (off !== 48 + hlen + plen || payloads.length !== h.extents.length) return { miss: 'damaged' };
    return { z: { extents: h.extents, totalBlocks: h.totalBlocks, payloads, inline, inlineRaw } };
  } catch {
    return { miss: 'damaged' };
  }
}

export function cachePut(dir: string, key: Buffer, z: ZResult): void {
  const header: Header = {
    extents: z.extents, totalBlocks: z.totalBlocks, payloads: z.payloads.map((p) => p?.length ?? 0),
    inline: z.inline?.length ?? 0, inlineRaw: z.inlineRaw?.length ?? 0,
  };
  const hbuf = Buffer.from(JSON.stringify(header));
  const parts: Uint8Array[] = [...z.payloads.filter((p): p is Uint8Array => !!p), ...(z.inline ? [z.inline] : []), ...(z.inlineRaw ? [z.inlineRaw] : [])];
  const plen = parts.reduce((a, p) => a + p.length, 0);
  const head = Buffer.alloc(48);
  MAGIC.copy(head, 0);
  key.copy(head, 8);
  head.writeUInt32LE(hbuf.length, 40);
  head.writeUInt32LE(plen, 44);
  const h = createHash('sha256').update(head).update(hbuf);
  for (const p of parts) h.update(p);
  const file = entryPath(dir, key);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      for (const p of [head, hbuf, ...parts, h.digest()]) fs.writeSync(fd, p);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch {
    // A cache that cannot be written only costs speed.
    try { fs.unlinkSync(tmp); } catch { /* not created */ }
  }
}
