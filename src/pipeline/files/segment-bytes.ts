// -E dedupe: the writer matches each segment's bytes against the pclusters written before
// (emit/extent-dedupe.ts). It reads them itself, when it reaches the segment: a worker sending them
// along with its extents held a copy of every segment in flight (up to 48 MiB of them while the scan
// runs, besides their compressed bytes).
//
// Where the writer's encoder reads its input in place (Codec.window: LZ4, LZ4HC, LZMA, DEFLATE), the
// segment is read into that window: the steps the writer compresses again (extent-dedupe.ts) are
// then encoded without a copy, and the writer keeps one buffer of a segment's size, not two (a buffer
// of its own, 16 MiB, and the encoder's window, 8000 KiB of it copied in: -Ededupe -zlz4hc on the
// bench corpus held both at its peak).
import { dataOf, pathOf, type Inode } from '../../source/tree.js';
import type { Codec } from '../../compress/codec.js';
import { SourceReader } from './source-reader.js';
import { ShortReadError } from './zfile.js';

/** The encoder a segment may be read into, and the largest output it will be asked for. */
export interface SegmentWindow {
  codec: Codec;
  outCap: number;
}

export class SegmentBytes {
  private buf = new Uint8Array(0);

  /**
   * Bytes [start, start + length) of regular file `p`, as a view valid until the next call, or (with
   * `into`, an encoder with a window) until the next use of that encoder with an input not in the
   * window or a larger output than `into.outCap`. The reader refuses a file changed since the scan
   * (as the worker's read of the same bytes does).
   */
  read(p: Inode, start: number, length: number, into?: SegmentWindow): Uint8Array {
    let seg: Uint8Array;
    if (into?.codec.window) {
      seg = into.codec.window(length, into.outCap).subarray(0, length);
      // A buffer of its own from an earlier segment of a codec without a window goes.
      this.buf = new Uint8Array(0);
    } else {
      if (this.buf.length < length) this.buf = new Uint8Array(length);
      seg = this.buf.subarray(0, length);
    }
    const r = new SourceReader({ data: dataOf(p), path: pathOf(p) }, length, start, p.size);
    try {
      for (let got = 0; got < length;) {
        const n = r.read(seg, got, length - got);
        if (n === 0) throw new ShortReadError(got);
        got += n;
      }
      r.finish();
    } finally {
      r.close();
    }
    return seg;
  }
}
