// Size ratios as the benches print them: four decimals, but never "1.0000" for images that differ (a
// one-block difference in a 200 MB image is 1.00004: shown with the digits that tell it from equal).

/** `ours / theirs` to 4 decimals, or as many more as it takes to tell unequal sizes from 1. */
export function formatRatio(ours: number, theirs: number): string {
  const r = ours / theirs;
  let digits = 4;
  while (ours !== theirs && digits < 12 && Number(r.toFixed(digits)) === 1) digits++;
  return r.toFixed(digits);
}
