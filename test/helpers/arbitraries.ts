// fast-check generators of compressor input, shared by the LZ4 and DEFLATE property tests: random,
// repetitive, text-like, zero, tiny and mixed data. Each test keeps its own sizes (so each keeps
// the inputs its fixed seeds have always drawn).
import fc from 'fast-check';

/** Tokens of C-like text. */
export const WORDS: readonly string[] = [
  'the', 'of', 'and', 'to', 'in', 'is', 'for', 'int', 'return', 'struct', 'static', 'const', 'void',
  'if', 'else', '{', '}', '(', ')', ';', '\n', '    ', 'erofs', 'inode', 'block', 'size_t', '#include',
  '<stdio.h>', '0x', 'NULL', '==', '!=', 'while', 'unsigned', 'char', '*', '->', 'data', 'len',
];

export interface DataShape {
  words: readonly string[];
  /** Most words in a text-like input. */
  textWords: number;
  /** Mixed inputs: most parts, and the largest random, text and zero part. */
  mixedParts: number;
  mixedRandom: number;
  mixedText: number;
  mixedZeros: number;
}

export function dataArbitraries(s: DataShape) {
  const randomData = fc.uint8Array({ maxLength: 40000, size: 'max' });
  const repetitive = fc
    .record({
      pat: fc.uint8Array({ minLength: 1, maxLength: 48, size: 'max' }),
      len: fc.integer({ min: 0, max: 60000 }),
      noise: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 40, size: 'max' }),
    })
    .map(({ pat, len, noise }) => {
      const a = new Uint8Array(len);
      for (let i = 0; i < len; i++) a[i] = pat[i % pat.length];
      for (const [p, v] of noise) if (len > 0) a[p % len] = v;
      return a;
    });
  const textLike = fc
    .array(fc.constantFrom(...s.words), { maxLength: s.textWords, size: 'max' })
    .map((ws) => new TextEncoder().encode(ws.join(' ')));
  const zeros = fc.integer({ min: 0, max: 70000 }).map((n) => new Uint8Array(n));
  const tiny = fc.uint8Array({ maxLength: 20 });
  /** binary-like: runs of random, text and zero bytes */
  const mixed = fc
    .array(
      fc.oneof(
        fc.uint8Array({ maxLength: s.mixedRandom, size: 'max' }),
        textLike.map((t) => t.subarray(0, s.mixedText)),
        fc.integer({ min: 0, max: s.mixedZeros }).map((n) => new Uint8Array(n)),
      ),
      { maxLength: s.mixedParts, size: 'max' },
    )
    .map((parts) => {
      const a = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        a.set(p, o);
        o += p.length;
      }
      return a;
    });
  const anyData = fc.oneof(randomData, repetitive, textLike, zeros, tiny, mixed);
  /** Each kind by name, for tests that run a property per kind. */
  const kinds: [string, fc.Arbitrary<Uint8Array>][] = [
    ['random', randomData], ['repetitive', repetitive], ['text', textLike], ['zeros', zeros], ['tiny', tiny], ['mixed', mixed],
  ];
  return { randomData, repetitive, textLike, zeros, tiny, mixed, anyData, kinds };
}
