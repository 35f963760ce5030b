// --compress-hints FILE (mkfs.erofs lib/compress_hints.c, docs/compress-hints.example): per-path
// pcluster size and algorithm. Each line is `PCLUSTER_BYTES [ALG_INDEX] REGEX`: the regex (POSIX
// extended, unanchored) is matched against the path relative to the source root without a leading
// "/" ("usr/lib/libc.so.6"); the first matching line wins; ALG_INDEX counts the -z list from 0 (its
// first algorithm when absent); a size of 0 stores the file uncompressed. Lines starting with "#" and
// empty lines are skipped; a size that is not a multiple of the block size only warns and the line
// is dropped (as mkfs.erofs does). Files no line matches get -C and the first algorithm.
import { UserError } from '../../errors.js';
import type { BuildOptions, CompressHint } from '../options.js';
import type { Inode } from '../../source/tree.js';
import { relPathOf } from './visit-order.js';


/** POSIX bracket classes as JavaScript ones (the rest of ERE reads the same in a JavaScript RegExp). */
const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t', punct: '!-\\/:-@\\[-`{-~', xdigit: '0-9A-Fa-f', cntrl: '\\x00-\\x1f\\x7f', print: '\\x20-\\x7e', graph: '\\x21-\\x7e',
};

/** A POSIX extended regex as a JavaScript RegExp matching the same paths (byte strings read as latin1). */
export function posixEre(re: string, where: string): RegExp {
  const js = re.replace(/\[:([a-z]+):\]/g, (m, name: string) => {
    const c = CLASSES[name];
    if (!c) throw new UserError(`${where}: invalid regex ${re} (unknown character class [:${name}:])`);
    return c;
  });
  try {
    return new RegExp(js);
  } catch (e) {
    throw new UserError(`${where}: invalid regex ${re} (${(e as Error).message})`);
  }
}

/** C atoi: leading blanks, a sign, decimal digits; anything else ends it. */
function atoi(v: string | undefined): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(v ?? '');
  return m ? Number(m[1]) : 0;
}

/**
 * Parse a hints file. `algorithms`: how many -z algorithms there are. Returns the hints in file order
 * and the largest pcluster they ask for (mkfs.erofs raises the image's maximum to it).
 */
export function parseCompressHints(text: string, file: string, blockSize: number, algorithms: number, warn: (m: string) => void): { hints: CompressHint[]; maxPclusterSize: number } {
  const hints: CompressHint[] = [];
  let maxPclusterSize = 0;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw === '' || raw.startsWith('#')) return;
    // strtok(buf, "\t "), then strtok(NULL, "\n\t ") for the algorithm, then the rest of the line.
    const m = /^[\t ]*([^\t ]*)[\t ]*([^\n\t ]*)[\t ]?(.*)$/.exec(raw)!;
    const size = atoi(m[1]);
    let alg: string | undefined = m[2] || undefined;
    let pattern: string | undefined = m[3] || undefined;
    if (pattern === undefined) {
      pattern = alg;
      alg = undefined;
    }
    if (pattern === undefined || pattern === '') throw new UserError(`${file}: cannot find a match pattern at line ${line}`);
    let algorithm = 0;
    if (alg !== undefined) {
      algorithm = atoi(alg);
      if (algorithm < 0 || algorithm >= algorithms) throw new UserError(`${file}: invalid compressing configuration "${alg}" at line ${line}`);
    }
    if (size < 0 || size % blockSize) {
      warn(`${file}: invalid physical clustersize ${size} at line ${line}, line ignored`);
      return;
    }
    if (size > 1 << 20) throw new UserError(`${file}: physical clustersize ${size} at line ${line} is over 1048576`);
    hints.push({ pclusterSize: size, algorithm, pattern: posixEre(pattern, `${file} line ${line}`), source: pattern });
    maxPclusterSize = Math.max(maxPclusterSize, size);
  });
  return { hints, maxPclusterSize };
}

/** The first hint matching `relPath`, or undefined (the file gets -C and the first algorithm). */
export function hintFor(hints: readonly CompressHint[], relPath: string): CompressHint | undefined {
  for (const h of hints) if (h.pattern.test(relPath)) return h;
  return undefined;
}

/**
 * A regular file's pcluster size and algorithm: the first hint matching its path (relative to the
 * root, by its first name in visit order), else -C and the first algorithm. The path is known as soon
 * as the scan has made the inode, so the compression jobs may start before the plan.
 */
export function compressChoiceOf(n: Inode, o: BuildOptions): { pclusterSize: number; algorithm: number } {
  const h = hintFor(o.compression!.hints!, relPathOf(n).toString('latin1'));
  return h ? { pclusterSize: h.pclusterSize, algorithm: h.algorithm } : { pclusterSize: o.compression!.pclusterSize, algorithm: 0 };
}
