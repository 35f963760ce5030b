// Incompressible test bytes from a fixed seed (xorshift32): the same bytes on every run and machine.
export function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** mulberry32: a small seeded PRNG of 32-bit values, the same sequence on every run and machine. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * Compressible text from a fixed seed: `n` bytes of words drawn from `words` by a linear
 * congruential generator, a newline after a word when the generator's value is a multiple of
 * `newlineEvery`. The same bytes on every run and machine.
 */
export function wordText(n: number, seed: number, words: readonly string[], newlineEvery: number): Buffer {
  let x = seed;
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = words[x % words.length] + (x % newlineEvery === 0 ? '\n' : ' ');
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}
