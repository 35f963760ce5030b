// The packed inode's data (-E fragments): file tails and whole files stored uncompressed one after
// another, each file pointing at its bytes by offset (h_fragmentoff, or the 63-bit offset of a
// whole-file fragment). Fragments are appended in writer order, so offsets never depend on workers.
//
// Dedupe (mkfs.erofs lib/fragments.c, "fragdedupe"): a fragment whose bytes already end some stretch
// of the packed data points there instead of being appended again. mkfs.erofs keys fragments longer
// than 64 bytes by a hash of their last 64 bytes (EROFS_TOF_HASHLEN) and looks for the longest
// common suffix; we keep the same key and reuse a stretch only when it holds the whole fragment.
import { createHash } from 'node:crypto';
import type { FragmentOptions } from '../options.js';

/** Bytes hashed at the end of a fragment (mkfs.erofs EROFS_TOF_HASHLEN). */
const TOF_HASHLEN = 64;

export class FragmentStore {
  private readonly parts: Uint8Array[] = [];
  /** Offset of each part (binary-searched by read). */
  private readonly starts: number[] = [];
  private readonly size0 = { bytes: 0 };
  /** Last 64 bytes -> end offsets of earlier fragments longer than that. */
  private readonly byTail = new Map<string, number[]>();
  /** Short fragments (at most 64 bytes) by their exact bytes. */
  private readonly short = new Map<string, number>();
  /** Bytes not appended thanks to dedupe. */
  saved = 0;

  constructor(private readonly mode: FragmentOptions['dedupe']) {}

  get length(): number {
    return this.size0.bytes;
  }

  /** Store one fragment; `wholeFile`: it is all of its file. Returns its offset in the packed data. */
  add(bytes: Uint8Array, wholeFile: boolean): number {
    const dedupe = this.mode === 'full' || (this.mode === 'inode' && wholeFile);
    if (dedupe) {
      const found = this.find(bytes);
      if (found !== undefined) {
        this.saved += bytes.length;
        return found;
      }
    }
    const at = this.append(bytes);
    if (this.mode !== 'off') this.record(bytes, at);
    return at;
  }

  /** Append without looking for a copy (the segments of a large whole-file fragment). */
  append(bytes: Uint8Array): number {
    const at = this.size0.bytes;
    if (!bytes.length) return at;
    this.parts.push(bytes);
    this.starts.push(at);
    this.size0.bytes += bytes.length;
    return at;
  }

  private key(bytes: Uint8Array): string {
    return createHash('sha1').update(bytes.subarray(bytes.length - Math.min(TOF_HASHLEN, bytes.length))).digest('base64');
  }

  private record(bytes: Uint8Array, at: number): void {
    if (bytes.length <= TOF_HASHLEN) {
      const k = Buffer.from(bytes).toString('latin1');
      if (!this.short.has(k)) this.short.set(k, at);
      return;
    }
    const k = this.key(bytes);
    const list = this.byTail.get(k);
    if (list) list.push(at + bytes.length);
    else this.byTail.set(k, [at + bytes.length]);
  }

  private find(bytes: Uint8Array): number | undefined {
    if (bytes.length <= TOF_HASHLEN) {
      const exact = this.short.get(Buffer.from(bytes).toString('latin1'));
      if (exact !== undefined) return exact;
    }
    // A short fragment may also end a longer one; only the longer ones' last 64 bytes are keyed, so
    // a short one is looked up by exact bytes only.
    if (bytes.length <= TOF_HASHLEN) return undefined;
    const ends = this.byTail.get(this.key(bytes));
    if (!ends) return undefined;
    for (const end of ends) {
      if (end >= bytes.length && this.equalAt(end - bytes.length, bytes)) return end - bytes.length;
    }
    return undefined;
  }

  /** Whether the packed data holds `bytes` at `at`. */
  private equalAt(at: number, bytes: Uint8Array): boolean {
    const got = this.read(at, bytes.length);
    return Buffer.from(got.buffer, got.byteOffset, got.length).equals(bytes);
  }

  /** Bytes [at, at + len) of the packed data (a copy when they span parts). */
  read(at: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    // The last part starting at or before `at`.
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    for (let i = lo; i < this.parts.length; i++) {
      const pos = this.starts[i];
      if (pos >= at + len) break;
      const p = this.parts[i];
      const from = Math.max(at, pos) - pos;
      const to = Math.min(at + len, pos + p.length) - pos;
      if (to > from) out.set(p.subarray(from, to), pos + from - at);
    }
    return out;
  }

  /** All the packed data, one buffer. */
  data(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}
