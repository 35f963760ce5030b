// The packed inode's data (-E fragments): file tails and whole files stored uncompressed one after
// another, each file pointing at its bytes by offset (h_fragmentoff, or the 63-bit offset of a
// whole-file fragment). Fragments are appended in writer order, so offsets never depend on workers.
//
// Dedupe (mkfs.erofs lib/fragments.c, "fragdedupe"): a fragment whose bytes already end some stretch
// of the packed data points there instead of being appended again. mkfs.erofs keys fragments longer
// than 64 bytes by a hash of their last 64 bytes (EROFS_TOF_HASHLEN) and looks for the longest
// common suffix; we keep the same key and reuse a stretch only when it holds the whole fragment.
//
// The bytes are not kept: past KEEP_BYTES they go to a spool file, in order (as mkfs.erofs keeps them
// in a tmpfile), and the packed inode is compressed from there by the workers (emit/packed.ts). Held
// in memory, the corpus's 71 MB of fragments, as 17,000 buffers and then concatenated, took peak RSS
// of a -zlz4 -Efragments build to 393 MiB.
import * as os from 'node:os';
import { createHash } from 'node:crypto';
import type { FragmentOptions } from '../options.js';
import type { DataSource } from '../../source/tree.js';
import { Spool } from '../../source/tar/spool.js';

/** Bytes hashed at the end of a fragment (mkfs.erofs EROFS_TOF_HASHLEN). */
const TOF_HASHLEN = 64;
/** Packed bytes kept in memory before they go to the spool file. */
const KEEP_BYTES = 1 << 20;

export class FragmentStore {
  /** The last bytes, not yet in the spool: buf[0, pending). */
  private readonly buf: Uint8Array;
  private pending = 0;
  /** Bytes in the spool file (made at the first spill). */
  private spilled = 0;
  private spool: Spool | undefined;
  /** Last 64 bytes -> end offsets of earlier fragments longer than that. */
  private readonly byTail = new Map<string, number[]>();
  /** Short fragments (at most 64 bytes) by their exact bytes. */
  private readonly short = new Map<string, number>();
  /** Bytes not appended thanks to dedupe. */
  saved = 0;

  /** `keep`: packed bytes held in memory at most (the rest spilled to a file in `dir`). */
  constructor(private readonly mode: FragmentOptions['dedupe'], private readonly dir = os.tmpdir(), keep = KEEP_BYTES) {
    this.buf = new Uint8Array(keep);
  }

  get length(): number {
    return this.spilled + this.pending;
  }

  /** Packed bytes held in memory (never more than `keep`). */
  get heldBytes(): number {
    return this.buf.length;
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
    const at = this.length;
    for (let off = 0; off < bytes.length;) {
      if (this.pending === this.buf.length) this.spill();
      const n = Math.min(bytes.length - off, this.buf.length - this.pending);
      this.buf.set(bytes.subarray(off, off + n), this.pending);
      this.pending += n;
      off += n;
    }
    return at;
  }

  private spill(): void {
    if (!this.pending) return;
    this.spool ??= new Spool(this.dir, 'frag');
    this.spool.append(Buffer.from(this.buf.buffer, this.buf.byteOffset, this.pending));
    this.spilled += this.pending;
    this.pending = 0;
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

  /** Bytes [at, at + len) of the packed data (a copy). */
  read(at: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    const fromFile = Math.max(0, Math.min(at + len, this.spilled) - at);
    if (fromFile) this.spool!.readAt(out, 0, fromFile, at);
    if (fromFile < len) {
      const from = at + fromFile - this.spilled;
      out.set(this.buf.subarray(from, from + len - fromFile), fromFile);
    }
    return out;
  }

  /**
   * Where the packed data can be read once every fragment is in: the spool file, or the bytes when
   * they never left memory. Nothing may be added after.
   */
  source(): DataSource {
    if (!this.spool) return { type: 'buffer', bytes: this.buf.slice(0, this.pending) };
    this.spill();
    return { type: 'range', path: this.spool.path, offset: 0 };
  }

  /** The spool file removed (safe to call twice). */
  remove(): void {
    this.spool?.remove();
  }
}
