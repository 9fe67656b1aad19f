/**
 * The packed single-row layout (src/runtime/packed.ts) against the plain walker, bit for bit, on
 * random ensembles built to hit its edges: unbalanced trees padded to full depth, lone leaves,
 * repeated and infinite thresholds, both comparisons (XGBoost `<`, scikit-learn `<=`), both sums,
 * default directions for NaN, and rows whose values sit exactly on thresholds.
 */
import { describe, expect, it } from 'vitest';
import { packEnsemble } from '../../src/runtime/packed.js';
import { type TreeEnsemble, walkMargin } from '../../src/runtime/trees.js';
import { seededRandom } from '../helpers/random.js';

const random = seededRandom; // seeded, so a failure reproduces

function randomEnsemble(seed: number, comparison: 'lt' | 'le', maxDepth: number): TreeEnsemble {
  const rnd = random(seed);
  const columnCount = 1 + Math.floor(rnd() * 6);
  // Few distinct thresholds per column, so rows and splits share values and ties are common.
  const pool = [Number.NEGATIVE_INFINITY, -2.5, -0, 0.1, 0.5, 0.7, 1, 3.25, Number.POSITIVE_INFINITY];
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

describe('packed single-row layout', () => {
  const values = [
    Number.NaN,
    Number.NEGATIVE_INFINITY,
    -2.5,
    -0,
    0,
    0.1,
    0.5,
    0.6,
    0.7,
    1,
    3.25,
    100,
    Number.POSITIVE_INFINITY,
  ];

  for (const comparison of ['lt', 'le'] as const) {
    it(`equals the walker bit for bit on 400 random ensembles (${comparison})`, () => {
      let rows = 0;
      for (let seed = 1; seed <= 400; seed++) {
        const e = randomEnsemble(seed * 7919 + (comparison === 'le' ? 1 : 0), comparison, 1 + (seed % 6));
        const packed = packEnsemble(e);
        if (!packed) continue; // sparse and deep: padding would bloat it (counted below)
        const rnd = random(seed);
        const x = new Float32Array(e.columnCount * 40);
        for (let k = 0; k < x.length; k++) x[k] = values[Math.floor(rnd() * values.length)] as number;
        for (let r = 0; r < 40; r++) {
          const o = r * e.columnCount;
          const want = walkMargin(e, x, o);
          const got: number = packed.margin(x, o);
          if (!Object.is(got, want)) expect.fail(`seed ${seed} row ${r}: packed ${got}, walker ${want}`);
          rows++;
        }
      }
      expect(rows).toBeGreaterThanOrEqual(395 * 40); // 399 and 400 of the 400 pack today
    });
  }

  it('declines ensembles too deep or too sparse to pad', () => {
    // One path of depth 12: 25 nodes, but 4,095 split slots and 4,096 leaf slots once padded.
    const deep = randomEnsemble(3, 'lt', 0);
    const n = 25;
    const chain: TreeEnsemble = {
      ...deep,
      columnCount: 1,
      treeCount: 1,
      roots: Int32Array.of(0),
      left: Int32Array.from({ length: n }, (_, i) => (i % 2 === 0 && i < n - 1 ? i + 1 : -1)),
      right: Int32Array.from({ length: n }, (_, i) => (i % 2 === 0 && i < n - 1 ? i + 2 : -1)),
      feature: new Int32Array(n),
      threshold: new Float64Array(n),
      defaultLeft: new Uint8Array(n),
      leafValue: new Float64Array(n),
      maxDepth: 12,
    };
    expect(packEnsemble(chain)).toBeUndefined();
  });
});
