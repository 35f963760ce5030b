// Buffers a worker thread keeps for its life and reuses from job to job.

let readBuf: Buffer | undefined;

/** The 1 MiB buffer the copy and hash jobs read the source into. */
export function readBuffer(): Buffer {
  return (readBuf ??= Buffer.allocUnsafe(1 << 20));
}

/**
 * The whole segment a cached compression job keys and compresses, at least `length` bytes. One
 * buffer per thread, reused: nothing keeps a view of it past the job (payloads are copies), and a
 * fresh 16 MiB per segment stayed resident as garbage (cached rebuild on the content-keyed path:
 * 334 MiB peak). Segments longer than job-compress.ts's WHOLE_SEGMENT_MAX are read twice instead,
 * unless their file changed within a second (then read whole here).
 */
let segBuf = new Uint8Array(0);
export function segmentBuffer(length: number): Uint8Array {
  if (segBuf.length < length) segBuf = new Uint8Array(length);
  return segBuf;
}

/** Bytes of this thread's segment buffer (tests). */
export function segmentBufferBytes(): number {
  return segBuf.length;
}
