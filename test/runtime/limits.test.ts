import { describe, expect, it } from 'vitest';
import { loadModelDocument, nodeExpectations } from '../../src/runtime/index.js';
import { MAX_TREE_DEPTH, type TreeEnsemble } from '../../src/runtime/trees.js';
import { artifact } from '../fixtures/tiny-models.js';

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
