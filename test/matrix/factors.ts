// The option space of `erofs-forge build`, as factors with values, and the two ways the matrix walks
// it: the full product (npm run matrix) and a pairwise-covering subset (npm test, test/matrix.test.ts).
//
// Adding a value is all a new option needs: an algorithm goes in ALGORITHMS (zstd, lzma, ...), an
// extended option in EXTENDED with `compressed: true` when it only means something under -z. The
// product, the pairwise set, the command line and the CLI's counts follow from these tables.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { mulberry32 } from '../helpers/noise.js';

/** -z values; 'none' builds an uncompressed image (no -z). */
export const ALGORITHMS = ['none', 'lz4', 'lz4hc', 'deflate', 'zstd', 'lzma'] as const;
/** -b values. */
export const BLOCK_SIZES = [512, 1024, 2048, 4096] as const;
/** -C values: 'block' is one block of the case's -b. */
export const PCLUSTERS = ['block', '16k', '64k', '1m'] as const;
const PCLUSTER_BYTES: Record<string, number> = { '16k': 16384, '64k': 65536, '1m': 1 << 20 };
/** -E options, each on or off; `compressed`: inert without -z (left out of the command line then). */
export const EXTENDED: readonly { name: string; compressed: boolean }[] = [
  { name: 'ztailpacking', compressed: true },
  { name: 'dedupe', compressed: true },
  { name: 'legacy-compress', compressed: true },
  { name: 'fragments', compressed: true },
  { name: 'noinline_data', compressed: false },
];
/** Fingerprint xattrs: none, or --fingerprint SCHEME (uuid with a fixed vendor namespace, so verify checks it). */
export const FINGERPRINTS = ['none', 'sha256', 'blake3', 'uuid'] as const;
/** -x values: -1 drops every xattr; 1 and 2 share those used by more inodes than that. */
export const XATTR_TOLERANCES = [-1, 1, 2] as const;
/** Inode form: 'keep' keeps the source mtimes (ns: extended inodes); 'ignore' is --ignore-mtime (compact ones). */
export const MTIMES = ['keep', 'ignore'] as const;
/**
 * --compress-hints (with -z only): 'pcluster' gives files their own pcluster sizes (Android's form,
 * 0 = stored uncompressed); 'mixed' also picks the algorithm: `-z Z:ALT` with ALT_OF[Z], hint lines
 * choosing index 0 or 1 (the files are in HINTS, written by writeHintFiles).
 */
export const HINTS = ['none', 'pcluster', 'mixed'] as const;
/** The second -z algorithm of a 'mixed' case. */
export const ALT_OF: Record<string, string> = { lz4: 'deflate', lz4hc: 'lz4', deflate: 'lz4hc', zstd: 'lz4', lzma: 'lz4' };
/** The hint files, on the matrix tree's paths (test/matrix/tree.ts); sizes are multiples of every -b. */
export const HINT_FILES: Record<'pcluster' | 'mixed', string> = {
  pcluster: ['0 ^sizes/random-', '65536 ^zero-tail/1m-', '16384 ^dup/', '4096 ^data/'].join('\n') + '\n',
  mixed: ['0 ^sizes/random-', '65536 1 ^zero-tail/1m-', '16384 1 ^dup/', '4096 0 ^data/', '8192 1 ^links/'].join('\n') + '\n',
};
/** --chunksize: 'block' is one block of the case's -b (uncompressed files, and with -z those not worth compressing). */
export const CHUNKS = ['none', 'block', '64k'] as const;

export const VENDOR_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/** One build configuration: factor name -> value. */
export type Case = Readonly<Record<string, string | number | boolean>>;

export interface Factor {
  name: string;
  values: readonly (string | number | boolean)[];
  /** The factor changes the build only when this holds (default: always). */
  active?: (c: Case) => boolean;
}

const compressed = (c: Case): boolean => c.z !== 'none';

/** z comes first: the other factors' activity depends on it (see pairwise()). */
export const FACTORS: readonly Factor[] = [
  { name: 'z', values: ALGORITHMS },
  { name: 'b', values: BLOCK_SIZES },
  { name: 'C', values: PCLUSTERS, active: compressed },
  { name: 'hints', values: HINTS, active: compressed },
  ...EXTENDED.map((e): Factor => ({ name: `E:${e.name}`, values: [false, true], active: e.compressed ? compressed : undefined })),
  { name: 'fp', values: FINGERPRINTS },
  { name: 'x', values: XATTR_TOLERANCES },
  { name: 'mtime', values: MTIMES },
  { name: 'chunk', values: CHUNKS },
];

function isActive(f: Factor, c: Case): boolean {
  return !f.active || f.active(c);
}

/** Inert factors take their first value, so each distinct build appears once. */
function canonical(c: Record<string, string | number | boolean>): Case {
  for (const f of FACTORS) if (!isActive(f, c)) c[f.name] = f.values[0];
  return c;
}

/** -C of a case in bytes, or 0 without -z. */
export function pclusterBytes(c: Case): number {
  if (c.z === 'none') return 0;
  return c.C === 'block' ? Number(c.b) : PCLUSTER_BYTES[String(c.C)];
}

/**
 * Combinations the build must refuse with one line (exit 1, no image): every other one must build an
 * image the kernel reads. `message` is what the line must say.
 */
export const REFUSED: readonly { reason: string; matches: (c: Case) => boolean; message: RegExp }[] = [
  {
    // Linux checks lz4's max_pclusterblks in 4 KiB blocks whatever -b is (src/pipeline/options.ts).
    // -C counts for every -z algorithm, the mixed hints' second one too (codecs are made for the largest pcluster).
    reason: 'lz4 pclusters over 256 blocks do not mount',
    matches: (c) => algorithmsOf(c).some((a) => a === 'lz4' || a === 'lz4hc') && pclusterBytes(c) / Number(c.b) > 256,
    message: /^erofs-forge: -C \d+: Linux does not mount lz4 pclusters of more than 256 blocks; with -b \d+ use -C \d+ or less$/,
  },
];

/** The -z algorithms of a case (none for an uncompressed one). */
export function algorithmsOf(c: Case): string[] {
  if (c.z === 'none') return [];
  return c.hints === 'mixed' ? [String(c.z), ALT_OF[String(c.z)]] : [String(c.z)];
}

export function refusal(c: Case): (typeof REFUSED)[number] | undefined {
  return REFUSED.find((r) => r.matches(c));
}

/** Write the hint files into `dir` (idempotent); caseArgs names them there. */
export function writeHintFiles(dir: string): void {
  for (const [k, text] of Object.entries(HINT_FILES)) fs.writeFileSync(path.join(dir, `${k}.hints`), text);
}

/** The build arguments of a case (before IMAGE SOURCE); hint files are named in `hintsDir` (see writeHintFiles). */
export function caseArgs(c: Case, hintsDir = 'HINTS'): string[] {
  const args = ['-b', String(c.b)];
  if (c.z !== 'none') {
    args.push('-z', c.hints === 'mixed' ? `${c.z}:${ALT_OF[String(c.z)]}` : String(c.z), '-C', String(pclusterBytes(c)));
    if (c.hints !== 'none') args.push('--compress-hints', path.join(hintsDir, `${c.hints}.hints`));
  }
  if (c.chunk !== 'none') args.push('--chunksize', String(c.chunk === 'block' ? c.b : 65536));
  const ext = EXTENDED.filter((e) => c[`E:${e.name}`] && (!e.compressed || c.z !== 'none')).map((e) => e.name);
  if (ext.length) args.push('-E', ext.join(','));
  if (c.fp !== 'none') args.push('--fingerprint', String(c.fp));
  if (c.fp === 'uuid') args.push('--vendor-namespace', VENDOR_NAMESPACE);
  args.push('-x', String(c.x));
  if (c.mtime === 'ignore') args.push('--ignore-mtime');
  return args;
}

/** A short stable name: the arguments that differ from nothing, e.g. "-b 512 -z lz4 -C 16384 -E dedupe -x 1". */
export function caseName(c: Case): string {
  return caseArgs(c).join(' ');
}

/**
 * Every distinct build of the product, in a fixed order. Inert combinations (-C or a compression-only
 * -E option without -z) are one build, not several: the product has
 * |b| × (|E non-compressed subsets| + (|z|-1) × |C| × |E subsets|) × |fp| × |x| × |mtime| cases.
 */
export function* fullProduct(): Generator<Case> {
  // Activity depends on earlier factors only (z comes first): an inert factor takes its first value
  // and is not walked, so every distinct build comes out once, without a set of seen ones.
  const walk = function* (i: number, acc: Record<string, string | number | boolean>): Generator<Case> {
    if (i === FACTORS.length) {
      yield { ...acc };
      return;
    }
    const f = FACTORS[i];
    const values = isActive(f, acc) ? f.values : f.values.slice(0, 1);
    for (const v of values) {
      acc[f.name] = v;
      yield* walk(i + 1, acc);
    }
  };
  yield* walk(0, {});
}

/** The product's size, counted per -z value (activity depends on z alone). */
export function fullProductSize(): number {
  let n = 0;
  for (const z of ALGORITHMS) {
    const c: Case = { z };
    n += FACTORS.slice(1).reduce((m, f) => m * (isActive(f, c) ? f.values.length : 1), 1);
  }
  return n;
}

/** Uniform in [0, 1) from mulberry32, so the pairwise set is the same on every machine. */
function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

export const PAIRWISE_SEED = 15;
/** Candidates tried per case added: more gives a smaller set, slower to compute. */
const CANDIDATES = 40;

const pairKey = (i: number, vi: number, j: number, vj: number): string => `${i}=${vi}|${j}=${vj}`;

/** The pairs a case covers: both factors active in it. */
function pairsOf(c: Case): string[] {
  const idx = FACTORS.map((f) => f.values.indexOf(c[f.name]));
  const act = FACTORS.map((f) => isActive(f, c));
  const out: string[] = [];
  for (let i = 0; i < FACTORS.length; i++) {
    if (!act[i]) continue;
    for (let j = i + 1; j < FACTORS.length; j++) if (act[j]) out.push(pairKey(i, idx[i], j, idx[j]));
  }
  return out;
}

/**
 * A pairwise-covering set: every two values of two different factors appear together in some case
 * that builds an image, among the pairs that can (a -C value or a compression-only -E option with
 * -z none cannot, nor a pair only REFUSED combinations hold; with any algorithm it must). Greedy, AETG style, deterministic (fixed seed): each new case is the best of
 * CANDIDATES candidates, each built by taking z first and then the other factors in a shuffled order,
 * every factor getting the value that covers the most pairs not yet covered with the values already
 * chosen (ties: the PRNG); when no candidate gains, the product's best buildable case is taken. Stops
 * when every coverable pair is covered.
 */
export function pairwise(seed = PAIRWISE_SEED): Case[] {
  const rand = prng(seed);
  // Coverable pairs: those of every distinct build of the product (its activity rules included).
  const uncovered = new Set<string>(coverablePairs());
  const cases: Case[] = [];
  while (uncovered.size) {
    let best: Case | undefined;
    let bestGain = -1;
    for (let k = 0; k < CANDIDATES; k++) {
      const order = FACTORS.map((_, i) => i).slice(1);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      order.unshift(0);
      const c: Record<string, string | number | boolean> = {};
      const chosen: number[] = [];
      for (const fi of order) {
        const f = FACTORS[fi];
        let bestV = 0;
        let bestN = -1;
        const start = Math.floor(rand() * f.values.length);
        for (let s = 0; s < f.values.length; s++) {
          const vi = (start + s) % f.values.length;
          c[f.name] = f.values[vi];
          let n = 0;
          if (isActive(f, c)) {
            for (const fj of chosen) {
              const g = FACTORS[fj];
              if (!isActive(g, c)) continue;
              const vj = g.values.indexOf(c[g.name]);
              const key = fi < fj ? pairKey(fi, vi, fj, vj) : pairKey(fj, vj, fi, vi);
              if (uncovered.has(key)) n++;
            }
          }
          if (n > bestN) {
            bestN = n;
            bestV = vi;
          }
        }
        c[f.name] = f.values[bestV];
        chosen.push(fi);
      }
      const cc = canonical(c);
      // A refused combination builds nothing: it covers no pair.
      const gain = refusal(cc) ? -1 : pairsOf(cc).filter((p) => uncovered.has(p)).length;
      if (gain > bestGain) {
        bestGain = gain;
        best = cc;
      }
    }
    if (!best || bestGain <= 0) {
      // The greedy fill ran into refused combinations only (e.g. the last pairs of a -C value with
      // small blocks): build a case around the first pair left, on a buildable choice of the key factors.
      const made = caseFor(uncovered.values().next().value!, uncovered);
      if (made) {
        best = made;
        bestGain = pairsOf(made).filter((p) => uncovered.has(p)).length;
      }
    }
    if (!best || bestGain <= 0) throw new Error(`pairwise: stuck with ${uncovered.size} pairs uncovered`);
    for (const p of pairsOf(best)) uncovered.delete(p);
    cases.push(best);
  }
  return cases;
}

/**
 * The factors refusals and activity read (z, b, C, hints: they come first). The others combine freely once
 * these are chosen, which is what lets coverable pairs be found without walking the whole product.
 */
const KEY_FACTORS = 4;

/** Every buildable choice of the key factors (inert ones at their first value). */
function* keyChoices(): Generator<Record<string, string | number | boolean>> {
  const walk = function* (i: number, acc: Record<string, string | number | boolean>): Generator<Record<string, string | number | boolean>> {
    if (i === KEY_FACTORS) {
      if (!refusal(acc)) yield { ...acc };
      return;
    }
    const f = FACTORS[i];
    for (const v of isActive(f, acc) ? f.values : f.values.slice(0, 1)) {
      acc[f.name] = v;
      yield* walk(i + 1, acc);
    }
  };
  yield* walk(0, {});
}

/** A buildable case holding the pair `key`, the other factors filled greedily against `uncovered`; undefined if none can. */
function caseFor(key: string, uncovered: Set<string>): Case | undefined {
  const [[i, vi], [j, vj]] = key.split('|').map((s) => s.split('=').map(Number));
  for (const k of keyChoices()) {
    const c: Record<string, string | number | boolean> = { ...k };
    const fits = (fi: number, v: number) => fi >= KEY_FACTORS || c[FACTORS[fi].name] === FACTORS[fi].values[v];
    if (!fits(i, vi) || !fits(j, vj)) continue;
    if (i >= KEY_FACTORS) c[FACTORS[i].name] = FACTORS[i].values[vi];
    if (j >= KEY_FACTORS) c[FACTORS[j].name] = FACTORS[j].values[vj];
    if (!isActive(FACTORS[i], c) || !isActive(FACTORS[j], c)) continue;
    for (let fi = KEY_FACTORS; fi < FACTORS.length; fi++) {
      const f = FACTORS[fi];
      if (fi === i || fi === j) continue;
      let bestV = 0;
      let bestN = -1;
      for (let v = 0; v < f.values.length; v++) {
        c[f.name] = f.values[v];
        const n = pairsOf(canonical({ ...c, ...Object.fromEntries(FACTORS.filter((g) => !(g.name in c)).map((g) => [g.name, g.values[0]])) })).filter((p) => uncovered.has(p)).length;
        if (n > bestN) {
          bestN = n;
          bestV = v;
        }
      }
      c[f.name] = f.values[bestV];
    }
    return canonical(c);
  }
  return undefined;
}

let coverable: string[] | undefined;
/** The pairs some build of the product holds (a refused combination builds nothing). */
function coverablePairs(): string[] {
  if (!coverable) {
    const all = new Set<string>();
    for (const k of keyChoices()) {
      // Each active non-key factor at every value: with the key values and with each other.
      const idx = (fi: number) => FACTORS[fi].values.indexOf(k[FACTORS[fi].name]);
      const act = FACTORS.map((f) => isActive(f, k));
      for (let i = 0; i < FACTORS.length; i++) {
        if (!act[i]) continue;
        const vis = i < KEY_FACTORS ? [idx(i)] : FACTORS[i].values.map((_, v) => v);
        for (let j = i + 1; j < FACTORS.length; j++) {
          if (!act[j]) continue;
          const vjs = j < KEY_FACTORS ? [idx(j)] : FACTORS[j].values.map((_, v) => v);
          for (const vi of vis) for (const vj of vjs) all.add(pairKey(i, vi, j, vj));
        }
      }
    }
    coverable = [...all];
  }
  return coverable;
}

/** Every coverable pair not covered by `cases` (for the test that the set is pairwise-covering). */
export function uncoveredPairs(cases: readonly Case[]): string[] {
  const want = new Set<string>(coverablePairs());
  for (const c of cases) if (!refusal(c)) for (const p of pairsOf(c)) want.delete(p);
  return [...want].map((k) => k.replace(/(\d+)=(\d+)/g, (_, i, v) => `${FACTORS[+i].name}=${String(FACTORS[+i].values[+v])}`));
}
