// Member data: where the writer finds each regular file's bytes. Never held in memory: an
// uncompressed archive on disk is referenced in place (the writer reads file data in its own order,
// so it needs random access); a stream is copied into the spool; a sparse member is expanded into
// the spool with its holes left as holes; an index image (--tar=i) only records the data's offset.
import * as os from 'node:os';
import { UserError } from '../../errors.js';
import type { DataSource } from '../tree.js';
import { BLOCK, type SparseSegment } from './header.js';
import type { TarEntry, TarEntryStream } from './entries.js';
import { Spool } from './spool.js';

const EMPTY: DataSource = { type: 'buffer', bytes: new Uint8Array(0) };

export interface MemberDataOptions {
  /** See TarScanOptions.index. */
  index?: 'tar' | 'headerball';
  /** Directory of the spool file (default os.tmpdir()). */
  spoolDir?: string;
}

/** A regular member's data: its size, where it is read, and for an index its offset in the archive. */
export interface RegularData {
  size: number;
  data: DataSource;
  /** With an index: the data's byte offset in the archive (-1 in a headerball). */
  indexOffset?: number;
}

export class MemberData {
  private spool: Spool | undefined;

  constructor(private readonly stream: TarEntryStream, private readonly opts: MemberDataOptions) {}

  /** Bytes written to the spool file (0 when the archive is read in place). */
  get spooledBytes(): number {
    return this.spool?.size ?? 0;
  }

  /** Remove the spool file (safe to call twice). */
  cleanup(): void {
    this.spool?.remove();
  }

  /** Pass over the data of an entry that keeps none. */
  async skip(e: TarEntry): Promise<void> {
    const t = e.header.type;
    // A headerball carries no data for files and hard links (mkfs.erofs keeps its offset for '0', '1', '7').
    if (this.opts.index === 'headerball' && (t === '0' || t === '1' || t === '7' || t === '\0')) return;
    await this.stream.skipData(e.size, e.where);
  }

  /** Read (or reference) a regular member's data. */
  async regular(e: TarEntry): Promise<RegularData> {
    const { stream, opts } = this;
    const { src } = stream;
    const { own: p, size, gnuSparse, where } = e;
    const inputName = stream.inputName;
    let map: SparseSegment[] | undefined;
    let realSize = size;
    const stored = size; // bytes of data following the header(s), before padding
    let consumed = 0; // of `stored`, already read (the PAX 1.0 map)
    if (gnuSparse) {
      ({ map, realSize } = gnuSparse);
    } else if (p.sparse.major === 1) {
      // PAX sparse 1.0: the map is decimal lines at the start of the data, padded to a block.
      const r = await this.readSparseMap10(stored, where);
      map = r.map;
      consumed = r.bytes;
      realSize = p.sparse.realSize ?? size;
    } else if (p.sparse.map) {
      map = p.sparse.map; // PAX sparse 0.0 / 0.1
      realSize = p.sparse.realSize ?? size;
    }

    if (opts.index) {
      // An index can only point at bytes stored as they read: a sparse member's are not.
      if (map || gnuSparse || p.sparse.major !== undefined) throw new UserError(`${inputName}: ${where}: sparse members cannot be indexed (--tar=i); use a full image (--tar=f)`);
      if (size === 0) return { size: 0, data: EMPTY };
      const offset = src.offset;
      // The data stays in the archive; a headerball has none after the header (mkfs.erofs headeronly mode).
      if (opts.index === 'tar') await stream.skipData(size, where);
      return { size, data: EMPTY, indexOffset: opts.index === 'tar' ? offset : -1 };
    }
    if (!map) {
      if (size === 0) return { size: 0, data: EMPTY };
      if (src.filePath) {
        const offset = src.offset;
        await stream.skipData(size, where);
        return { size, data: { type: 'range', path: src.filePath, offset } };
      }
      const sp = this.getSpool();
      const offset = sp.size;
      if ((await src.forEach(size, (c) => sp.append(c))) < size) throw stream.truncated(where);
      await stream.skipPadding(size, where);
      return { size, data: { type: 'range', path: sp.path, offset } };
    }

    // Sparse: check the map, then write each data segment at its place; holes stay holes.
    let total = 0;
    let prevEnd = 0;
    for (const s of map) {
      if (s.offset < prevEnd || s.offset + s.numbytes > realSize) throw new UserError(`${inputName}: ${where}: invalid sparse map`);
      prevEnd = s.offset + s.numbytes;
      total += s.numbytes;
    }
    if (total !== stored - consumed) throw new UserError(`${inputName}: ${where}: sparse map covers ${total} bytes but the member stores ${stored - consumed}`);
    const sp = this.getSpool();
    const base = sp.size;
    for (const s of map) {
      let pos = base + s.offset;
      const n = await src.forEach(s.numbytes, (c) => { sp.writeAt(c, pos); pos += c.length; });
      if (n < s.numbytes) throw stream.truncated(where);
    }
    sp.extendTo(base + realSize);
    sp.size = base + realSize;
    await stream.skipPadding(stored, where);
    return realSize ? { size: realSize, data: { type: 'range', path: sp.path, offset: base } } : { size: 0, data: EMPTY };
  }

  private getSpool(): Spool {
    return (this.spool ??= new Spool(this.opts.spoolDir ?? os.tmpdir()));
  }

  /** PAX sparse 1.0: the count, then offset/size pairs, one decimal number a line, padded to a block. */
  private async readSparseMap10(stored: number, where: string): Promise<{ map: SparseSegment[]; bytes: number }> {
    const { src, inputName } = this.stream;
    let buf = Buffer.alloc(0);
    let pos = 0;
    const nextNumber = async (): Promise<number> => {
      for (;;) {
        const nl = buf.indexOf(0x0a, pos);
        if (nl >= 0) {
          const s = buf.subarray(pos, nl).toString('latin1');
          pos = nl + 1;
          if (!/^\d+$/.test(s)) throw new UserError(`${inputName}: ${where}: invalid sparse map`);
          return Number(s);
        }
        if (buf.length + BLOCK > stored) throw new UserError(`${inputName}: ${where}: invalid sparse map`);
        const b = await src.read(BLOCK);
        if (b.length < BLOCK) throw this.stream.truncated(where);
        buf = Buffer.concat([buf, b]);
      }
    };
    const count = await nextNumber();
    const map: SparseSegment[] = [];
    for (let i = 0; i < count; i++) map.push({ offset: await nextNumber(), numbytes: await nextNumber() });
    return { map, bytes: buf.length };
  }
}
