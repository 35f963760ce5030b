// -E dedupe: the writer matches each segment's bytes against the pclusters written before
// (emit/extent-dedupe.ts). It reads them itself, into one buffer it keeps, when it reaches the
// segment: a worker sending them along with its extents held a copy of every segment in flight (up
// to 48 MiB of them while the scan runs, besides their compressed bytes).
import { dataOf, pathOf, type Inode } from '../../source/tree.js';
import { SourceReader } from './source-reader.js';
import { ShortReadError } from './zfile.js';

export class SegmentBytes {
  private buf = new Uint8Array(0);

  /**
   * Bytes [start, start + length) of regular file `p`, as a view valid until the next call. The
   * reader refuses a file changed since the scan (as the worker's read of the same bytes does).
   */
  read(p: Inode, start: number, length: number): Uint8Array {
    if (this.buf.length < length) this.buf = new Uint8Array(length);
    const seg = this.buf.subarray(0, length);
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
