// build(): scan the source, plan the layout, write the image atomically.
import * as path from 'node:path';
import { scanDirectory, type ScanOptions } from '../source/dir-scanner.js';
import type { Inode } from '../source/tree.js';
import { plan } from './plan.js';
import { emit, type BuildStats } from './writer.js';
import { ImageOutput } from './output.js';
import { JobPool } from './pool.js';
import type { BuildOptions } from './options.js';

export interface BuildSource {
  /** A directory to scan. */
  dir?: string;
  /** An already scanned tree (used by tar input and tests). */
  tree?: Inode;
  excludePaths?: string[];
  excludeRegexes?: RegExp[];
}

export interface BuildResult extends BuildStats {
  image: string;
  seconds: number;
}

/**
 * Called with the finished image's temp file before it is moved into place (used to seal it):
 * `fd` is open for reading and writing, the filesystem takes its first `bytes` bytes. A throw
 * aborts the build and no image is written.
 */
export type BeforeCommit = (image: { fd: number; bytes: number }) => Promise<void> | void;

export async function buildImage(image: string, source: BuildSource, o: BuildOptions, beforeCommit?: BeforeCommit): Promise<BuildResult> {
  const t0 = process.hrtime.bigint();
  // Workers start now: their start-up (loading modules) overlaps the scan and the plan.
  const pool = new JobPool(o.workers);
  try {
    return await buildWith(image, source, o, pool, t0, beforeCommit);
  } finally {
    await pool.close();
  }
}

async function buildWith(image: string, source: BuildSource, o: BuildOptions, pool: JobPool, t0: bigint, beforeCommit?: BeforeCommit): Promise<BuildResult> {
  let tree = source.tree;
  if (!tree) {
    const scan: ScanOptions = {
      xattrs: o.xattrTolerance >= 0,
      excludePaths: source.excludePaths ?? [],
      excludeRegexes: source.excludeRegexes ?? [],
      outputPath: path.resolve(image),
      warn: o.warn,
      statIds: o.cacheDir !== undefined,
      progress: o.progress && ((n) => o.progress!({ phase: 'scan', files: n, totalFiles: 0, bytes: 0, totalBytes: 0 })),
    };
    tree = await scanDirectory(source.dir!, scan);
  }
  const p = plan(tree, o);
  const out = new ImageOutput(image);
  try {
    const stats = await emit(p, o, out, pool);
    if (beforeCommit) await beforeCommit({ fd: out.descriptor(), bytes: stats.imageBytes });
    out.commit();
    return { ...stats, image, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } catch (e) {
    out.abort();
    throw e;
  }
}
