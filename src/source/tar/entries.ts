// The entry stream: tar headers in, entries out. Folds PAX ('x', 'g') and GNU long-name ('L', 'K')
// headers into the entry they announce, reads old-GNU sparse maps ('S') with their extension blocks,
// skips volume labels and unsupported entry types, and stops at the end-of-archive marker. The
// consumer reads or skips each entry's data (MemberData) before asking for the next one.
import { UserError } from '../../errors.js';
import type { FileKind } from '../../format/file-kind.js';
import { showPath } from '../../show-path.js';
import {
  BLOCK, decodeHeader, decodeGnuSparseHeader, decodeGnuSparseExtension, parsePaxRecords,
  type RawHeader, type SparseSegment,
} from './header.js';
import type { ByteSource } from './input.js';
import { applyPax, newOverrides, pick, type Overrides } from './pax.js';

const MAX_META = 64 << 20;
const MAX_LONGNAME = 1 << 20;
const SLASH = 0x2f;

/** One member of the archive, its header fields not yet merged with its overrides (see TarTree). */
export interface TarEntry {
  header: RawHeader;
  /** Overrides of this entry ('x', 'L', 'K'). */
  own: Overrides;
  /** Global overrides ('g') in force at this entry. */
  global: Overrides;
  /** Byte offset of the entry's header in the archive. */
  offset: number;
  /** The member's path as stored (after the PAX path, GNU long name or sparse name). */
  rawPath: Buffer;
  /** The path for messages, and the member with its offset. */
  member: string;
  where: string;
  /** Bytes of data stored after the header(s), before padding. */
  size: number;
  /** 'link': a hard link to an earlier member. */
  kind: FileKind | 'link';
  /** Old-GNU sparse member: its map and real size. */
  gnuSparse?: { map: SparseSegment[]; realSize: number };
}

/** Reads headers from `src`; also the block-level helpers (padding, truncation errors) its consumers share. */
export class TarEntryStream {
  constructor(readonly src: ByteSource, readonly inputName: string, private readonly warn: (msg: string) => void) {}

  truncated(what: string): UserError {
    return new UserError(`${this.inputName}: unexpected end of data in ${what}`);
  }

  /** Skip the padding that fills `size` bytes of data up to a whole block. */
  async skipPadding(size: number, what: string): Promise<void> {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad && (await this.src.skip(pad)) < pad) throw this.truncated(what);
  }

  /** Skip `size` bytes of data and their padding. */
  async skipData(size: number, what: string): Promise<void> {
    if ((await this.src.skip(size)) < size) throw this.truncated(what);
    await this.skipPadding(size, what);
  }

  /** The entries of the archive, in archive order. */
  async *entries(): AsyncGenerator<TarEntry> {
    const { src, inputName } = this;
    let global = newOverrides();
    let pend = newOverrides();
    let pendingMeta = -1; // offset of an 'x', 'L' or 'K' header still waiting for its entry
    for (;;) {
      const hdrOff = src.offset;
      const block = await src.read(BLOCK);
      if (block.length === 0) {
        if (hdrOff === 0) throw new UserError(`${inputName}: empty input, not a tar archive`);
        if (pendingMeta >= 0) throw this.truncated(`the member announced by the extended header at offset ${pendingMeta}`);
        this.warn(`${inputName}: archive ends without an end-of-archive marker`);
        return;
      }
      if (block.length < BLOCK) {
        if (hdrOff === 0) throw new UserError(`${inputName}: ${notTar(block) ?? `not a tar archive (only ${block.length} bytes)`}`);
        throw this.truncated(`the member header at offset ${hdrOff}`);
      }
      const r = decodeHeader(block);
      if (r.kind === 'zero') {
        const next = await src.read(BLOCK);
        if (next.length === BLOCK && decodeHeader(next).kind !== 'zero') this.warn(`${inputName}: a lone zero block at offset ${hdrOff}; stopping there`);
        return;
      }
      if (r.kind === 'bad') {
        const packed = hdrOff === 0 ? notTar(block) : undefined;
        if (packed) throw new UserError(`${inputName}: ${packed}`);
        throw new UserError(`${inputName}: ${r.reason} at offset ${hdrOff} (corrupt or not a tar archive)`);
      }
      const h = r.header;
      switch (h.type) {
        case 'x':
        case 'g': {
          const body = await this.readBody(h.size, MAX_META, 'PAX header', hdrOff);
          try {
            applyPax(parsePaxRecords(body), h.type === 'x' ? pend : global);
            if (h.type === 'x' && pendingMeta < 0) pendingMeta = hdrOff;
          } catch (e) {
            throw new UserError(`${inputName}: ${(e as Error).message} in the PAX header at offset ${hdrOff}`);
          }
          continue;
        }
        case 'L':
        case 'K': {
          const body = await this.readBody(h.size, MAX_LONGNAME, 'GNU long name', hdrOff);
          const nul = body.indexOf(0);
          const name = nul < 0 ? body : body.subarray(0, nul);
          if (h.type === 'L') pend.path = name;
          else pend.linkpath = name;
          if (pendingMeta < 0) pendingMeta = hdrOff;
          continue;
        }
        case 'V': // GNU volume label: nothing to extract
          await this.skipData(h.size, `member header at offset ${hdrOff}`);
          pend = newOverrides();
          pendingMeta = -1;
          continue;
        case 'M':
          throw new UserError(`${inputName}: multi-volume continuation at offset ${hdrOff} is not supported`);
        default: {
          const e = await this.entry(h, pend, global, hdrOff, block);
          if (e) yield e;
          pend = newOverrides();
          pendingMeta = -1;
        }
      }
    }
  }

  /** The entry of a member header, or undefined (after a warning, its data skipped) for an unsupported type. */
  private async entry(h: RawHeader, own: Overrides, global: Overrides, offset: number, block: Buffer): Promise<TarEntry | undefined> {
    const rawPath = own.sparse.name ?? pick(own.path) ?? h.name;
    const member = showPath(rawPath);
    const where = `${member} (member at offset ${offset})`;
    const size = pick(own.size) ?? h.size;
    // Old GNU sparse: the map may continue in extension blocks between the header and the data.
    const gnuSparse = h.type === 'S' ? await this.readGnuSparse(block, own, where) : undefined;
    let kind: FileKind | 'link';
    switch (h.type) {
      case '0': case '7': case 'S': kind = 'reg'; break;
      case '\0': kind = rawPath[rawPath.length - 1] === SLASH ? 'dir' : 'reg'; break; // v7: a trailing '/' meant a directory
      case '1': kind = 'link'; break;
      case '2': kind = 'lnk'; break;
      case '3': kind = 'chr'; break;
      case '4': kind = 'blk'; break;
      case '5': case 'D': kind = 'dir'; break; // 'D': GNU dumpdir; its data is a listing
      case '6': kind = 'fifo'; break;
      default:
        this.warn(`${this.inputName}: ${member}: unsupported entry type '${h.type}' (offset ${offset}); skipped`);
        await this.skipData(size, where);
        return undefined;
    }
    return { header: h, own, global, offset, rawPath, member, where, size, kind, gnuSparse };
  }

  private async readBody(size: number, limit: number, what: string, hdrOff: number): Promise<Buffer> {
    if (size > limit) throw new UserError(`${this.inputName}: ${what} of ${size} bytes at offset ${hdrOff} is too large`);
    const b = await this.src.read(size);
    if (b.length < size) throw this.truncated(`${what} at offset ${hdrOff}`);
    await this.skipPadding(size, `${what} at offset ${hdrOff}`);
    return b;
  }

  private async readGnuSparse(block: Buffer, p: Overrides, where: string): Promise<{ map: SparseSegment[]; realSize: number }> {
    try {
      const s = decodeGnuSparseHeader(block);
      let more = s.extended;
      while (more) {
        const ext = await this.src.read(BLOCK);
        if (ext.length < BLOCK) throw this.truncated(where);
        more = decodeGnuSparseExtension(ext, s.map);
      }
      return { map: s.map, realSize: p.sparse.realSize ?? s.realSize };
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${this.inputName}: ${where}: ${(e as Error).message}`);
    }
  }
}

/** Other compressors' magic numbers, for a useful message instead of "bad checksum". */
function notTar(b: Buffer): string | undefined {
  const starts = (...m: number[]) => m.every((c, i) => b[i] === c);
  const kind = starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00) ? 'xz' : starts(0x28, 0xb5, 0x2f, 0xfd) ? 'zstd'
    : starts(0x42, 0x5a, 0x68) ? 'bzip2' : starts(0x5d, 0x00, 0x00) ? 'lzma' : undefined;
  return kind && `${kind}-compressed; only plain and gzip archives are read (decompress it first)`;
}
