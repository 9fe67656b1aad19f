import { describe, expect, it } from 'vitest';
import { loadModelDocument, MAX_MARGIN_BOUND, nodeExpectations } from '../../src/runtime/index.js';
import { MAX_TREE_DEPTH, type TreeEnsemble } from '../../src/runtime/trees.js';
import { artifact, stump, xgboostBooster } from '../fixtures/tiny-models.js';

/**
 * A scikit-learn tree that is a chain `depth` splits deep: split i sends x <= i left to a leaf and
 * the rest right to split i + 1; the last right child is a leaf. Covers add up.
 */
function chainTree(depth: number, leaf = 0.1) {
  const n = 2 * depth + 1;
  const tree = {
    children_left: new Array<number>(n).fill(-1),
    children_right: new Array<number>(n).fill(-1),
    feature: new Array<number>(n).fill(-2),
    threshold: new Array<number>(n).fill(-2),
    value: new Array<number>(n).fill(0),
    cover: new Array<number>(n).fill(1),
  };
  for (let i = 0; i < depth; i++) {
    tree.children_left[2 * i] = 2 * i + 1;
    tree.children_right[2 * i] = 2 * i + 2;
    tree.feature[2 * i] = i % 2;
    tree.threshold[2 * i] = i;
    tree.cover[2 * i] = depth - i + 1;
    tree.value[2 * i + 1] = leaf;
  }
  tree.value[n - 1] = -leaf;
  return tree;
}

const gbm = (trees: unknown[], initMargin = 0, learningRate = 1) =>
  artifact('gradient_boosting', { init_margin: initMargin, learning_rate: learningRate, trees });

describe('tree depth', () => {
  it(`refuses at load a tree deeper than MAX_TREE_DEPTH (${MAX_TREE_DEPTH}), naming the file and the tree`, () => {
    expect(() => loadModelDocument(gbm([chainTree(3), chainTree(MAX_TREE_DEPTH + 1)]), 'deep.json')).toThrow(
      new RegExp(`^deep\\.json: model\\.trees\\[1\\]: is deeper than ${MAX_TREE_DEPTH} levels`),
    );
    // The stack-overflowing case of the report: thousands of levels, refused at load, not at explain time.
    expect(() => loadModelDocument(gbm([chainTree(20_000)]), 'deeper.json')).toThrow(/deeper than/);
  });

  it(`scores and explains a tree exactly ${MAX_TREE_DEPTH} deep, by every evaluator`, () => {
    for (const options of [{}, { compileTrees: false }]) {
      const model = loadModelDocument(gbm([chainTree(MAX_TREE_DEPTH)]), 'deep.json', options);
      for (const a of [-1, 0.5, 30, 1e6]) {
        const e = model.explain({ a, b: a });
        const total = e.baseValue + [...e.columns].reduce((s, c) => s + c, 0);
        expect(total).toBeCloseTo(e.margin, 9);
        expect(Number.isFinite(e.baseValue)).toBe(true);
      }
    }
  });

  it('computes node expectations without recursion (any depth, whatever built the ensemble)', () => {
    const depth = 200_000; // far past any call stack
    const size = 2 * depth + 1;
    const left = new Int32Array(size).fill(-1);
    const right = new Int32Array(size).fill(-1);
    const cover = new Float64Array(size).fill(1);
    const leafValue = new Float64Array(size);
    for (let i = 0; i < depth; i++) {
      left[2 * i] = 2 * i + 1;
      right[2 * i] = 2 * i + 2;
      cover[2 * i] = 2;
      leafValue[2 * i + 1] = 1;
    }
    const e = {
      treeCount: 1,
      roots: Int32Array.of(0),
      left,
      right,
      leafValue,
      feature: new Int32Array(size),
      threshold: new Float64Array(size),
      defaultLeft: new Uint8Array(size),
      comparison: 'le',
      accumulation: 'float64',
      baseMargin: 0,
      columnCount: 1,
      maxDepth: depth,
      cover,
    } as TreeEnsemble;
    const mean = nodeExpectations(e, cover);
    expect(mean[size - 1]).toBe(0);
    expect(mean[2 * depth - 2]).toBe(0.5); // (1·1 + 0·1) / 2
    expect(Number.isFinite(mean[0])).toBe(true);
  });
});

describe('margin bound', () => {
  const lda = (coefficients: number[], intercept = 0, extra: Record<string, unknown> = {}) =>
    artifact('lda', { coefficients, intercept, ...extra });

  it(`refuses a linear model whose margin can pass ${MAX_MARGIN_BOUND} over the inputs the encoder allows`, () => {
    // Huge but finite: every value is a valid double, the sum of two of them is not.
    expect(() => loadModelDocument(lda([1e300, 1e300]), 'huge.json')).toThrow(
      /^huge\.json: model: the margin can reach .* in absolute value, over the limit of 1000000/,
    );
    expect(() => loadModelDocument(lda([1, 1], 1e307 * 10), 'intercept.json')).toThrow(/intercept\.json: model: /);
    expect(() => loadModelDocument(lda([1, 1], 0, { reference: [1e300, 0] }), 'ref.json')).toThrow(/ref\.json: model:/);
    // Over the fields' documented ranges: x ∈ [0, 1e6] with a coefficient of 10 reaches 1e7.
    const ranged = (max: number) => ({
      fields: [
        { name: 'a', kind: 'numeric', missing_values: [], min: 0, max },
        { name: 'b', kind: 'numeric', missing_values: [] },
      ],
    });
    expect(() => loadModelDocument(artifact('lda', { coefficients: [10, 0], intercept: 0 }, ranged(1e6)))).toThrow(
      /the margin can reach 10000000 in absolute value/,
    );
    expect(loadModelDocument(artifact('lda', { coefficients: [10, 0], intercept: 0 }, ranged(1e4)))).toBeDefined();
    // Scaling is part of the encoding: (x − 0) / 1e-9 over [0, 1] is 1e9.
    const scaled = artifact(
      'lda',
      { coefficients: [1, 0], intercept: 0 },
      {
        ...ranged(1),
        columns: [
          { name: 'a', op: 'numeric', field: 'a', center: 0, scale: 1e-9 },
          { name: 'b', op: 'numeric', field: 'b' },
        ],
      },
    );
    expect(() => loadModelDocument(scaled)).toThrow(
      /the margin can reach (999999999\.9+|1000000000) in absolute value/,
    );
  });

  it('refuses tree ensembles whose leaves can add up past the limit, in either family', () => {
    expect(() => loadModelDocument(gbm([chainTree(2, 1e300)]), 'leaves.json')).toThrow(
      /^leaves\.json: model: the margin can reach 1e\+300 in absolute value/,
    );
    expect(() => loadModelDocument(gbm([chainTree(2, 1e308), chainTree(2, 1e308)]))).toThrow(
      /the margin can reach Infinity/,
    );
    expect(() => loadModelDocument(gbm([chainTree(2, 0.5)], 0, 1e300))).toThrow(/the margin can reach/);
    expect(() => loadModelDocument(gbm([chainTree(2, 0.5)], 2e6))).toThrow(/the margin can reach/);
    const big = xgboostBooster([{ ...stump(0.5, true), conditions: [0.5, -3e38, 3e38] }]);
    expect(() => loadModelDocument(artifact('xgboost', { booster: big }), 'xgb.json')).toThrow(
      /^xgb\.json: model: the margin can reach/,
    );
    // Ordinary models are far inside it.
    expect(loadModelDocument(gbm([chainTree(2, 5), chainTree(3, 5)], -3, 0.1))).toBeDefined();
  });
});

describe('non-finite values never leave the runtime as answers', () => {
  it('an explanation with a non-finite value throws instead of returning it', () => {
    // No impute: a missing `a` encodes as NaN, which a linear model cannot score (an artifact defect).
    const model = loadModelDocument(artifact('lda', { coefficients: [1, 1], intercept: 0, reference: [0, 0] }));
    expect(model.explain({ a: 1, b: 2 }).baseValue).toBe(0);
    expect(() => model.explain({ a: null, b: 2 })).toThrow(/model tiny 1\.0\.0 explained a row: value 0 is NaN/);
  });
});
