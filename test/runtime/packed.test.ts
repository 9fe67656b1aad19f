/**
 * The packed single-row layout (src/runtime/packed.ts) against the plain walker, bit for bit, on
 * random ensembles built to hit its edges: unbalanced trees padded to full depth, lone leaves,
 * repeated and infinite thresholds, every split mode (XGBoost `<`, scikit-learn `<=` on float32 or double
 * rows), both sums,
 * default directions for NaN, and rows whose values sit exactly on thresholds.
 */
import { describe, expect, it } from 'vitest';
import { packEnsemble } from '../../src/runtime/packed.js';
import { type TreeEnsemble, walkMargin } from '../../src/runtime/trees.js';
import { randomEnsemble } from '../helpers/ensembles.js';
import { seededRandom } from '../helpers/random.js';

const random = seededRandom; // seeded, so a failure reproduces

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

  // Double rows (le-float64) also meet values that differ from a threshold only beyond float32 precision.
  const doubles = [...values, 1 + 2 ** -30, 1 - 2 ** -30, 1 + 2 ** -52, 0.1 + 2 ** -40, 0.1 - 2 ** -40];
  for (const [k, mode] of (['lt', 'le', 'le-float64'] as const).entries()) {
    it(`equals the walker bit for bit on 400 random ensembles (${mode})`, () => {
      let rows = 0;
      const pool = mode === 'le-float64' ? doubles : values;
      for (let seed = 1; seed <= 400; seed++) {
        const e = randomEnsemble(seed * 7919 + k, mode, 1 + (seed % 6));
        const packed = packEnsemble(e);
        if (!packed) continue; // sparse and deep: padding would bloat it (counted below)
        const rnd = random(seed);
        const x = mode === 'le-float64' ? new Float64Array(e.columnCount * 40) : new Float32Array(e.columnCount * 40);
        for (let k = 0; k < x.length; k++) x[k] = pool[Math.floor(rnd() * pool.length)] as number;
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

describe('packBatches: batches on the packed layout, no generated code', () => {
  it('scores the reference loans bit for bit as the generated code does, for both tree families', async () => {
    const { BUILTIN_FAMILIES, loadModelFile } = await import('../../src/runtime/index.js');
    const { readReference, SHIPPED_MODELS } = await import('../helpers/reference.js');
    const reference = readReference(SHIPPED_MODELS); // loans + their scenario features (`records`)
    for (const path of ['xgboost/1.0.0', 'xgboost/1.1.0', 'gradient_boosting/1.0.0']) {
      const file = new URL(`../../model-artifacts/${path}.json`, import.meta.url).pathname;
      const generated = await loadModelFile(file, { families: BUILTIN_FAMILIES });
      const packed = await loadModelFile(file, { families: BUILTIN_FAMILIES, packBatches: true });
      expect(generated.evaluator.summary.evaluator).toBe('compiled-trees');
      expect(packed.evaluator.summary.evaluator).toBe('packed-trees');
      expect(packed.evaluator.warmRows).toBeUndefined(); // nothing data-dependent to warm
      const a = generated.scoreMany(reference.records);
      const b = packed.scoreMany(reference.records);
      expect(b.margin).toEqual(a.margin);
      expect(b.probability).toEqual(a.probability);
      expect(Object.is(b.margin[0], a.margin[0])).toBe(true);
    }
  });
});
