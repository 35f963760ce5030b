// A map from nids to small integers (an index into the caller's arrays), for extract's record of the
// first name of every inode it wrote: one entry per file of the image. Open addressing in typed
// arrays, not a Map: the Map's hashing, probing and growth were ~2 % of an uncompressed corpus
// extract's CPU (18,741 look-ups and inserts), this table's a fraction of that.

/** Slots start at this many and double when half full. */
const INITIAL_SLOTS = 1024;

export class NidTable {
  /** nid + 1 per slot (0: empty); nids are below 2^53, exact in a double. */
  private keys = new Float64Array(INITIAL_SLOTS);
  private values = new Int32Array(INITIAL_SLOTS);
  private count = 0;

  /** The value stored for `nid`, or -1. */
  get(nid: number): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    const key = nid + 1;
    for (let k = slotOf(nid, mask); ; k = (k + 1) & mask) {
      const at = keys[k];
      if (at === key) return this.values[k];
      if (at === 0) return -1;
    }
  }

  /** Store `value` (>= 0) for a nid not in the table. */
  add(nid: number, value: number): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    this.put(nid + 1, value);
    this.count++;
  }

  private put(key: number, value: number): void {
    const keys = this.keys;
    const mask = keys.length - 1;
    let k = slotOf(key - 1, mask);
    while (keys[k] !== 0) k = (k + 1) & mask;
    keys[k] = key;
    this.values[k] = value;
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = new Float64Array(keys.length * 2);
    this.values = new Int32Array(keys.length * 2);
    for (let k = 0; k < keys.length; k++) if (keys[k] !== 0) this.put(keys[k], values[k]);
  }
}

/** A slot for a nid: its low and high 32 bits mixed (Fibonacci hashing), so runs of nids spread out. */
function slotOf(nid: number, mask: number): number {
  const h = Math.imul((nid | 0) ^ ((nid / 0x100000000) | 0), 0x9e3779b1);
  return (h ^ (h >>> 15)) & mask;
}
