/** A seeded xorshift32 generator for randomized tests: `next(n)` is an integer in [0, n). */
export function seededRandom(seed: number): (n: number) => number {
  let x = seed | 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}
