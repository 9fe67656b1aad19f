/**
 * A seeded generator of numbers in [0, 1) (mulberry32): small and fast, and the same seed gives
 * the same sequence on every machine, so a warm-up does the same work every time and a failing
 * generated test case can be replayed.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
