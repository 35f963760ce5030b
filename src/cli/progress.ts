// A one-line progress display on a terminal: files and bytes done, rate, ETA. Nothing when the
// stream is not a terminal.
import type { Progress } from '../build/options.js';

export interface ProgressLine {
  update: (p: Progress) => void;
  done: () => void;
}

function mb(n: number): string {
  return (n / 1e6).toFixed(1);
}

export function progressLine(stream: NodeJS.WriteStream): ProgressLine | undefined {
  if (!stream.isTTY) return undefined;
  const t0 = Date.now();
  let writeStart = 0;
  let shown = false;
  return {
    update(p) {
      let line: string;
      if (p.phase === 'scan') {
        line = `scanning: ${p.files} entries`;
      } else {
        writeStart ||= Date.now();
        const secs = Math.max(0.001, (Date.now() - writeStart) / 1000);
        const rate = p.bytes / secs;
        const eta = rate > 0 && p.totalBytes > p.bytes ? Math.ceil((p.totalBytes - p.bytes) / rate) : 0;
        line = `writing: ${p.files}/${p.totalFiles} files, ${mb(p.bytes)}/${mb(p.totalBytes)} MB, ${mb(rate)} MB/s, ETA ${eta}s`;
      }
      stream.write(`\r\x1b[K${line}`);
      shown = true;
    },
    done() {
      if (shown) stream.write(`\r\x1b[K`);
      void t0;
    },
  };
}
