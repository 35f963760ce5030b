// A one-line progress display on a terminal: files and bytes done, rate, ETA. Nothing when the
// stream is not a terminal. The clock is passed in (default: the system's), so that a test can
// drive it and assert the exact lines.
import type { Progress } from '../progress.js';
import { systemClock, type Clock } from '../sys/clock.js';

export interface ProgressLine {
  update: (p: Progress) => void;
  done: () => void;
}

/** Where the line goes: a terminal (isTTY) or anything a test gives with isTTY set. */
export interface ProgressStream {
  isTTY?: boolean;
  write(s: string): unknown;
}

function mb(n: number): string {
  return (n / 1e6).toFixed(1);
}

export function progressLine(stream: ProgressStream, clock: Clock = systemClock): ProgressLine | undefined {
  if (!stream.isTTY) return undefined;
  let start: number | undefined;
  let shown = false;
  return {
    update(p) {
      let line: string;
      if (p.phase === 'scan') {
        line = `scanning: ${p.files} entries`;
      } else {
        // Rates from the first byte-carrying update: the scan and the plan are not writing.
        start ??= clock.now();
        const secs = Math.max(0.001, (clock.now() - start) / 1000);
        const rate = p.bytes / secs;
        if (p.phase === 'extract') {
          line = `extracting: ${p.files}/${p.totalFiles} entries, ${mb(p.bytes)} MB, ${mb(rate)} MB/s`;
        } else {
          const eta = rate > 0 && p.totalBytes > p.bytes ? Math.ceil((p.totalBytes - p.bytes) / rate) : 0;
          line = `writing: ${p.files}/${p.totalFiles} files, ${mb(p.bytes)}/${mb(p.totalBytes)} MB, ${mb(rate)} MB/s, ETA ${eta}s`;
        }
      }
      stream.write(`\r\x1b[K${line}`);
      shown = true;
    },
    done() {
      if (shown) stream.write(`\r\x1b[K`);
    },
  };
}
