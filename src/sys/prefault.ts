// Mapping a fresh buffer's pages in one system call before it is written, instead of one page fault
// per page as the writes reach them. On a virtual machine a fault is dear: 4 KiB pages of fresh 1 MiB
// buffers cost ~17 us each touched one by one, ~9 us each through madvise(MADV_POPULATE_WRITE)
// (Linux >= 5.14; 400 buffers, 2-vCPU VM of issue 21). The pages are the ones the caller is about to
// write anyway: the memory used is the same. A -zlz4 build of the bench corpus faulted ~9,300 pages of
// held chunks and ~6,000 of compression windows in its workers (of ~50,000, perf page-faults);
// populated instead, its CPU went down by 0.055 s at 1 worker (median of 20 paired rounds, lower in
// 16/20) and 0.09-0.12 s at 2 (lower in 14/20), load 9-12, peak RSS the same.
import { addressOf, programFunction } from './libc.js';

/** madvise advice: fault the range in, writable (include/uapi/asm-generic/mman-common.h). */
const MADV_POPULATE_WRITE = 23;
/** The smallest page size of the platforms we run on: a range rounded inward to it. */
const PAGE = 4096;

type Madvise = (addr: number, len: number, advice: number) => unknown;
let madvise: Madvise | null | undefined;

/** Pages populated by this thread (tests). */
let pages = 0;
export function prefaultedPages(): number {
  return pages;
}

/**
 * Fault in the whole pages of b[from, to) (the partial pages at either end are left to the writes).
 * Does nothing where it cannot: no FFI, another OS, or a kernel without MADV_POPULATE_WRITE (EINVAL:
 * the first refusal turns it off for the thread). Only for buffers of more than 64 bytes, which do
 * not move (see addressOf), and not shared with another thread while this runs.
 */
export function prefault(b: Uint8Array, from = 0, to = b.length): void {
  if (madvise === undefined) {
    madvise = process.platform === 'linux' ? programFunction('int madvise(uintptr_t addr, size_t len, int advice)') as Madvise | undefined ?? null : null;
  }
  if (!madvise || to - from < 2 * PAGE) return;
  const at = addressOf(b);
  const start = Math.ceil((at + from) / PAGE) * PAGE;
  const end = Math.floor((at + to) / PAGE) * PAGE;
  if (end <= start) return;
  if (madvise(start, end - start, MADV_POPULATE_WRITE) !== 0) {
    madvise = null;
    return;
  }
  pages += (end - start) / PAGE;
}
