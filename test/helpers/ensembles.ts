import { SPLIT_SEMANTICS, type SplitMode } from '../../src/runtime/split.js';
import type { TreeEnsemble } from '../../src/runtime/trees.js';
import { seededRandom as random } from './random.js';

/**
 * A random tree ensemble built to hit the executors' edges (test/runtime/packed.test.ts,
 * conformance.test.ts): unbalanced trees, lone leaves, repeated and infinite thresholds, -0, both
 * split modes (XGBoost `<` with float32 thresholds, scikit-learn `<=` with doubles that are not
 * float32, on float32 rows or, `le-float64`, on double rows with thresholds that share one float32),
 * both sums and random default directions. Seeded, so a failure reproduces.
 */
export function randomEnsemble(seed: number, mode: SplitMode, maxDepth: number): TreeEnsemble {
  const { comparison, rowType } = SPLIT_SEMANTICS[mode];
  const rnd = random(seed);
  const columnCount = 1 + Math.floor(rnd() * 6);
  // Few distinct thresholds per column, so rows and splits share values and ties are common. For double
  // rows, thresholds that differ only beyond float32 precision (1 ± 2^-30 and 1 are one float32).
  const pool = [Number.NEGATIVE_INFINITY, -2.5, -0, 0.1, 0.5, 0.7, 1, 3.25, Number.POSITIVE_INFINITY];
  if (rowType === 'float64') pool.push(1 + 2 ** -30, 1 - 2 ** -30, 0.1 + 2 ** -40);
  const left: number[] = [];
  const right: number[] = [];
  const feature: number[] = [];
  const threshold: number[] = [];
  const defaultLeft: number[] = [];
  const leafValue: number[] = [];
  const roots: number[] = [];
  let depthSeen = 0;
  const grow = (depth: number): number => {
    const id = left.length;
    left.push(-1);
    right.push(-1);
    feature.push(0);
    threshold.push(0);
    defaultLeft.push(rnd() < 0.5 ? 1 : 0);
    leafValue.push(Math.fround((rnd() - 0.5) * 2));
    depthSeen = Math.max(depthSeen, depth);
    if (depth < maxDepth && rnd() < 0.75) {
      feature[id] = Math.floor(rnd() * columnCount);
      const t = pool[Math.floor(rnd() * pool.length)] as number;
      // XGBoost thresholds are float32; scikit-learn's are doubles (0.1, 0.7 are not float32).
      threshold[id] = comparison === 'lt' ? Math.fround(t) : t;
      leafValue[id] = 0;
      left[id] = grow(depth + 1);
      right[id] = grow(depth + 1);
    }
    return id;
  };
  const treeCount = 1 + Math.floor(rnd() * 9);
  for (let t = 0; t < treeCount; t++) roots.push(grow(0));
  return {
    comparison,
    rowType,
    accumulation: comparison === 'lt' ? 'float32' : 'float64',
    baseMargin: comparison === 'lt' ? Math.fround(-0.3) : -0.3,
    columnCount,
    treeCount,
    roots: Int32Array.from(roots),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    feature: Int32Array.from(feature),
    threshold: Float64Array.from(threshold),
    defaultLeft: Uint8Array.from(defaultLeft),
    leafValue: Float64Array.from(leafValue),
    maxDepth: depthSeen,
  };
}
