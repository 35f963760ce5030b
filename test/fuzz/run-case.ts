// One fuzz case: the whole reader pipeline on one (mutated) image, in-process. THE INVARIANT: every step
// ends in success or a typed error (CorruptImageError, UnsupportedFeatureError, UserError; verify's
// report listing problems; CLI exit 1). Anything else is a bug: another exception (RangeError,
// TypeError, stack overflow, an allocation over the guard's limit), a CLI command that throws (the
// "internal error" path, exit 70), a decoder that returns a different number of bytes than i_size
// without an error, lookup() disagreeing with walk(), extract writing outside its directory, or the
// reader taking longer than the time budget.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ErofsImage, type InodeInfo } from '../../src/read/image.js';
import { CorruptImageError, UnsupportedFeatureError, UserError } from '../../src/errors.js';
import { main } from '../../src/cli/main.js';
import { ESCAPE_ABS } from './seeds.js';

export type BugKind = 'exception' | 'lie' | 'slow' | 'escape' | 'exit-code';

export interface Bug {
  phase: string;
  kind: BugKind;
  name: string;
  message: string;
  stack: string;
}

export interface CaseResult {
  bug: Bug | null;
  /** First typed error of each phase (for statistics: which rules fire). */
  typed: string[];
  /** Milliseconds per phase. */
  ms: Record<string, number>;
  /** The library walk reached every inode and decoded every file without an error. */
  clean: boolean;
}

export interface RunOptions {
  /** Reader time budget in ms (default 2000): a slower library pass is a bug. */
  budgetMs?: number;
  /** Run `extract` (spawns setfattr, touch, mknod; the slowest step). Default true. */
  extract?: boolean;
  /** Run the CLI commands (inspect, ls, cat, verify, share-report, extract). Default true. */
  cli?: boolean;
}

export function isTyped(e: unknown): boolean {
  return e instanceof CorruptImageError || e instanceof UnsupportedFeatureError || e instanceof UserError;
}

class BugFound extends Error {
  constructor(readonly bug: Bug) {
    super(bug.message);
  }
}

function bugOf(phase: string, e: unknown, kind: BugKind = 'exception'): Bug {
  const err = e instanceof Error ? e : new Error(String(e));
  return { phase, kind, name: err.name || 'Error', message: err.message, stack: err.stack ?? '' };
}

/** Run `fn`; typed errors are recorded and returned as false, anything else becomes a BugFound. */
function guarded(phase: string, typed: string[], fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof BugFound) throw e;
    if (isTyped(e)) {
      typed.push(`${phase}: ${(e as Error).name}: ${(e as Error).message}`);
      return false;
    }
    throw new BugFound(bugOf(phase, e));
  }
}

function lie(phase: string, message: string): BugFound {
  return new BugFound({ phase, kind: 'lie', name: 'Lie', message, stack: '' });
}

/** Library pass: open, walk, stat, xattrs, readlink, readdir, every file's data, lookup of every path. */
function libraryPass(file: string, typed: string[]): { clean: boolean; regPaths: string[] } {
  let img: ErofsImage | undefined;
  let clean = guarded('open', typed, () => { img = ErofsImage.open(file); });
  const regPaths: string[] = [];
  if (!img) return { clean: false, regPaths };
  const image = img;
  try {
    const nodes: { p: Buffer; ino: InodeInfo }[] = [];
    clean = guarded('walk', typed, () => image.walk((p, ino) => { nodes.push({ p: Buffer.from(p), ino }); })) && clean;
    const done = new Set<number>();
    for (const { p, ino } of nodes) {
      // Another name of an inode already read: only its path is looked up again.
      const again = done.has(ino.nid);
      done.add(ino.nid);
      const ok = guarded('inode', typed, () => {
        // Every field a caller formats must be formattable.
        void `${ino.mode} ${ino.nlink} ${ino.uid} ${ino.gid} ${ino.size} ${ino.mtimeSec} ${ino.mtimeNsec} ${ino.rdev.major}`;
        if (again) {
          if (image.lookup(p).nid !== ino.nid) throw lie('lookup', `lookup(${p.toString('latin1')}) disagrees with walk`);
          return;
        }
        const xs = image.xattrs(ino);
        for (const x of xs) void x.name.length;
        if (ino.kind === 'lnk') {
          const t = image.readlink(ino);
          if (t.length !== ino.size) throw lie('readlink', `nid ${ino.nid}: readlink gave ${t.length} bytes, i_size ${ino.size}`);
        } else if (ino.kind === 'dir') {
          image.readdir(ino);
        } else if (ino.kind === 'reg') {
          let n = 0;
          for (const chunk of image.data(ino)) n += chunk.length;
          if (n !== ino.size) throw lie('data', `nid ${ino.nid}: data() gave ${n} bytes, i_size ${ino.size}`);
        }
        if (p.length) {
          const hit = image.lookup(p);
          if (hit.nid !== ino.nid) throw lie('lookup', `lookup(${p.toString('latin1')}) gave nid ${hit.nid}, walk found nid ${ino.nid}`);
        }
      });
      clean &&= ok;
      if (ok && ino.kind === 'reg' && /^[\x21-\x7e]+$/.test(p.toString('latin1')) && regPaths.length < 3) regPaths.push(p.toString('latin1'));
    }
  } finally {
    image.close();
  }
  return { clean, regPaths };
}

/**
 * Swallow a CLI command's output; restore afterwards. This swaps process.stdout.write, which node:test
 * uses to report results, so runCase belongs in a worker thread (test/fuzz/worker.ts), never in a test file.
 */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const out = process.stdout.write;
  const err = process.stderr.write;
  const sink = ((...args: unknown[]) => {
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = sink;
  process.stderr.write = sink;
  try {
    return await fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
    process.exitCode = undefined;
  }
}

async function cli(args: string[], phase: string, okCodes: number[]): Promise<number> {
  process.exitCode = undefined;
  let code: number;
  try {
    code = await quietly(() => main(args));
  } catch (e) {
    // main() rethrows what it does not recognise: bin/erofs-forge.js prints "internal error" and exits 70.
    throw new BugFound(bugOf(phase, e));
  }
  if (!okCodes.includes(code)) throw new BugFound({ phase, kind: 'exit-code', name: 'ExitCode', message: `exit ${code} from ${args.join(' ')}`, stack: '' });
  return code;
}

/**
 * Run the pipeline on `file`. `workDir` is a scratch directory owned by this case: extract goes to
 * workDir/x; after the case nothing but `file` and workDir/x may exist in it, nor outside it.
 */
export async function runCase(file: string, workDir: string, opts: RunOptions = {}): Promise<CaseResult> {
  const typed: string[] = [];
  const ms: Record<string, number> = {};
  const budget = opts.budgetMs ?? 2000;
  let clean = false;
  const time = async <T>(phase: string, fn: () => T | Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      ms[phase] = (ms[phase] ?? 0) + (performance.now() - t0);
    }
  };
  try {
    const lib = await time('library', () => libraryPass(file, typed));
    clean = lib.clean;
    if (ms.library > budget) {
      throw new BugFound({ phase: 'library', kind: 'slow', name: 'Slow', message: `library pass took ${ms.library.toFixed(0)} ms (budget ${budget})`, stack: '' });
    }
    if (opts.cli !== false) {
      await time('cli-read', async () => {
        await cli(['inspect', file], 'inspect', [0, 1]);
        await cli(['inspect', '--json', file], 'inspect --json', [0, 1]);
        await cli(['ls', '-l', '-R', file], 'ls -l -R', [0, 1]);
        await cli(['ls', '--json', '-R', file], 'ls --json -R', [0, 1]);
        await cli(['ls', '-l', file, '/sub'], 'ls -l /sub', [0, 1]);
        for (const p of lib.regPaths) await cli(['cat', file, p], 'cat', [0, 1]);
      });
      const v = await time('verify', async () => {
        const code = await cli(['verify', '--json', file], 'verify', [0, 1]);
        // Twice in one domain (text output): the cross-image fingerprint registry sees every value twice.
        await cli(['verify', file, file], 'verify x2', [0, 1]);
        return code;
      });
      // verify must not pass an image the reader cannot read through.
      if (v === 0 && typed.length) {
        throw lie('verify', `verify passed an image the reader rejects: ${typed[0]}`);
      }
      await time('share-report', async () => {
        await cli(['share-report', '--json', file], 'share-report --json', [0, 1]);
        await cli(['share-report', '--html', path.join(workDir, 'report.html'), file, file], 'share-report --html', [0, 1]);
      });
      if (opts.extract !== false) {
        const target = path.join(workDir, 'x');
        await time('extract', () => cli(['extract', '--quiet', file, target], 'extract', [0, 1]));
        checkNoEscape(workDir, file);
      }
    }
    return { bug: null, typed, ms, clean };
  } catch (e) {
    if (e instanceof BugFound) return { bug: e.bug, typed, ms, clean };
    return { bug: bugOf('harness', e), typed, ms, clean };
  }
}

/** Extract wrote only under workDir/x: nothing else in workDir, its parent, or the seed tree's escape targets. */
function checkNoEscape(workDir: string, file: string): void {
  const allowed = new Set([path.basename(file), 'x', 'report.html']);
  const extra = fs.readdirSync(workDir).filter((n) => !allowed.has(n));
  const escapes = [ESCAPE_ABS, path.join(workDir, '..', 'escape'), path.join(workDir, 'escape')].filter((p) => {
    try {
      fs.lstatSync(p);
      return true;
    } catch {
      return false;
    }
  });
  if (extra.length || escapes.length) {
    throw new BugFound({ phase: 'extract', kind: 'escape', name: 'Escape', message: `extract wrote outside its directory: ${[...extra.map((n) => path.join(workDir, n)), ...escapes].join(', ')}`, stack: '' });
  }
}
