// Giving an ArrayBuffer's memory back at once, not at a later GC. V8 starts a GC for memory it did
// not allocate itself (ArrayBuffer backing stores) only after ~64 MiB of it has been allocated since
// the last one, so each thread of a build carried up to that much of dead buffers (the worker threads
// of a -zzstd -C65536 build of the bench corpus: 68-74 MiB each at the peak).

type Transferable = ArrayBuffer & { transfer?(n: number): ArrayBuffer };

/**
 * Free the memory of `b`, a buffer nothing uses any more: it is detached (any view left of it reads
 * as empty). Node < 21 has no ArrayBuffer.prototype.transfer: the GC frees it there, as before.
 */
export function releaseBuffer(b: ArrayBufferLike | undefined): void {
  if (!(b instanceof ArrayBuffer) || b.byteLength === 0) return;
  const t = (b as Transferable).transfer;
  if (typeof t === 'function') t.call(b, 0);
}

/**
 * releaseBuffer for the buffer under a view nothing uses any more, when the view covers all of it:
 * a Buffer cut from Node's shared small-Buffer pool (or any part of a larger buffer) is left alone.
 */
export function releaseView(v: Uint8Array | undefined): void {
  if (v && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) releaseBuffer(v.buffer);
}
