// Descriptors of cache entries whose pclusters are copied into the image unread (ZResult.stored):
// opened by a worker, handed to the main thread with the result, closed by the writer once copied.
// Those of results the writer never took (a failed build) are closed when the build ends.
import { close } from '../../sys/libc.js';

const open = new Set<number>();

/** A result carrying this descriptor arrived on this thread. */
export function adoptEntryFd(fd: number): void {
  open.add(fd);
  adopted++;
}

/** Done with it (copied, or not needed). close(2) through libc: Node's closeSync warns about descriptors another thread opened. */
export function closeEntryFd(fd: number): void {
  if (!open.delete(fd)) return;
  try {
    close(fd);
  } catch { /* nothing to do about it */ }
}

/** The descriptor is handed to a job that closes it (see the 'kcopy' job). */
export function releaseEntryFd(fd: number): void {
  open.delete(fd);
}

/** At the end of a build: whatever is still open. */
export function closeAllEntryFds(): void {
  for (const fd of [...open]) closeEntryFd(fd);
}

let adopted = 0;
/** How many results with pclusters left in entry files this thread has taken (tests). */
export function entryFdsAdopted(): number {
  return adopted;
}
