import { mulberry32 } from './noise.js';

/**
 * Bytes shaped like object files and static libraries (the data where lz4hc's parse choices show):
 * runs of 0xff followed by zero runs and small little-endian integers, symbol-like words, and
 * copies of earlier stretches (up to ~60 KiB back) with a byte or two changed. The same bytes on
 * every run and machine.
 */
export function objectLike(n: number, seed: number): Uint8Array {
  const r = mulberry32(seed);
  const u = (k: number): number => r() % k;
  const words = ['_ZN4llvm', 'XGetWindow', 'attribute', '.text', '.rodata', 'malloc', 'free', '__stack_chk_fail', 'pthread_', 'Display', 'Xlib', 'memcpy'];
  const a = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const kind = u(11);
    if (kind <= 1) {
      for (let k = 2 + u(9); k > 0 && i < n; k--) a[i++] = 0xff;
      for (let k = 4 + u(17); k > 0 && i < n; k--) a[i++] = 0;
      for (let k = 0; k < 4 && i < n; k++) a[i++] = k === 0 ? u(40) : 0;
    } else if (kind === 2) {
      for (let k = 1 + u(12); k > 0 && i < n; k--) a[i++] = 0;
      for (let k = 0; k < 4 && i < n; k++) a[i++] = u(256);
    } else if (kind <= 4) {
      const w = words[u(words.length)];
      for (let k = 0; k < w.length && i < n; k++) a[i++] = w.charCodeAt(k);
      if (i < n) a[i++] = u(3) === 0 ? 0 : 0x30 + u(10);
    } else if (kind <= 7 && i > 64) {
      const off = 1 + u(Math.min(i, 60000));
      const len = 8 + u(kind === 7 ? 300 : 40);
      for (let k = 0; k < len && i < n; k++) { a[i] = a[i - off]; i++; }
      if (u(2) === 0 && i < n) a[i++] = u(256);
    } else {
      for (let k = 1 + u(8); k > 0 && i < n; k--) a[i++] = u(256);
    }
  }
  return a;
}
