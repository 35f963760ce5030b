// `erofs-forge extract IMAGE DIR`: the command's work, and the plain command lines that main() runs
// without commander (start-up: see parseExtractArgs).
import { ErofsImage } from '../read/image.js';
import { extract } from '../read/extract.js';
import { progressLine } from './progress.js';
import { isatty } from '../sys/libc.js';

const fs = process.getBuiltinModule('node:fs');

export interface ExtractCliOptions {
  /** false: --no-owners (commander's value for a `--no-` flag: true unless given). */
  owners?: boolean;
  /** false: --no-xattrs. */
  xattrs?: boolean;
  quiet?: boolean;
}

/**
 * A small image (fewer bytes and inodes than these) is extracted without V8's Maglev tier: its
 * compiling the hot functions (in the background, CPU all the same) costs more than it saves over
 * a few thousand entries. The tricky tree (3.5 MB, 3,234 entries): CPU 94 -> 84 ms (median of 15,
 * alternated, load 18); the corpus (18,741 entries) needs it: 495 -> 547 ms without (LZ4: 746 ->
 * 936 ms), so the bound sits at 4,096 inodes, below the ~5,700 where the two would meet by those
 * figures. TurboFan is off for every extract already (bin/erofs-forge.js).
 */
const SMALL_IMAGE_BYTES = 16 << 20;
const SMALL_IMAGE_INODES = 4096;

/** The extract command's action (commander's and the plain path's alike). */
export function runExtract(file: string, dir: string, o: ExtractCliOptions): void {
  const img = ErofsImage.open(file);
  try {
    // Process-wide: set here, for the command, not by the library's extract(). bin/erofs-forge.js
    // starts an extract without Maglev (its start-up is short too); a larger image turns it on.
    if (!process.execArgv.some((a) => /^--(no-)?maglev$/.test(a))) {
      process.getBuiltinModule('node:v8').setFlagsFromString(img.length < SMALL_IMAGE_BYTES && Number(img.sb.inos) < SMALL_IMAGE_INODES ? '--no-maglev' : '--maglev');
    }
    // process.stderr only for a terminal (the progress line): a stream for a pipe loads net (~4 ms).
    const bar = o.quiet || !isatty(2) ? undefined : progressLine(process.stderr);
    let s;
    try {
      s = extract(img, dir, { owners: o.owners === false ? false : undefined, xattrs: o.xattrs !== false, progress: bar?.update });
    } finally {
      bar?.done();
    }
    if (!o.quiet) writeLine(1, `${dir}: ${s.files} files, ${s.dirs} directories, ${s.bytes} bytes\n`);
  } finally {
    img.close();
  }
}

/**
 * A line to a descriptor by write(2), not through process.stdout (a stream for a pipe loads net and
 * its modules: ~4 ms of CPU). A closed pipe ends the output quietly, as main.ts's stream handler
 * does; a descriptor left non-blocking by another program (EAGAIN) gets the rest through the stream.
 */
export function writeLine(fd: 1 | 2, line: string): void {
  const b = Buffer.from(line);
  let off = 0;
  try {
    while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') return;
    if (code !== 'EAGAIN') throw e;
    (fd === 1 ? process.stdout : process.stderr).write(b.subarray(off));
  }
}

const FLAGS: Record<string, (o: ExtractCliOptions) => void> = {
  '--no-owners': (o) => { o.owners = false; },
  '--no-xattrs': (o) => { o.xattrs = false; },
  '--quiet': (o) => { o.quiet = true; },
};

/**
 * The arguments after `extract` when they are the plain form, the command's three flags (each any
 * number of times, anywhere) and two operands that do not start with '-'; anything else (help, an
 * unknown or misspelt option, `--`, a wrong count) is left to commander, for its messages.
 * Commander and its modules were ~7 ms of an extract's start-up (the tricky tree: 0.08 s in all).
 */
export function parseExtractArgs(args: readonly string[]): [string, string, ExtractCliOptions] | undefined {
  const o: ExtractCliOptions = {};
  const operands: string[] = [];
  for (const a of args) {
    if (a.startsWith('-')) {
      const set = Object.hasOwn(FLAGS, a) ? FLAGS[a] : undefined;
      if (!set) return undefined;
      set(o);
    } else {
      operands.push(a);
    }
  }
  return operands.length === 2 ? [operands[0], operands[1], o] : undefined;
}
