/**
 * Tree validation at load (src/runtime/trees.ts `buildEnsemble`), through the scikit-learn loader:
 * every malformed tree is refused with a message naming the tree and the node, including the edge
 * cases (a child index equal to the node count, a feature index equal to the column count, one child
 * missing). Written for the survivors of `npm run mutation` (docs/MUTATION.md).
 */
import { describe, expect, it } from 'vitest';
import { DocumentReader } from '../../src/runtime/check.js';
import { loadGradientBoosting } from '../../src/runtime/gbm.js';
import { ArtifactError } from '../../src/runtime/index.js';

/** A one-tree GradientBoosting `model` section: a stump on column 0 unless overridden. */
function model(tree: Record<string, unknown> = {}) {
  return {
    init_margin: 0,
    learning_rate: 0.1,
    trees: [
      {
        children_left: [1, -1, -1],
        children_right: [2, -1, -1],
        feature: [0, -2, -2],
        threshold: [0.5, -2, -2],
        value: [0, -1, 1],
        ...tree,
      },
    ],
  };
}
const load = (m: Record<string, unknown>, columns = 2) =>
  loadGradientBoosting(new DocumentReader('t.json'), m, columns);

describe('buildEnsemble', () => {
  it('accepts a stump and reports its depth', () => {
    const e = load(model());
    expect([e.maxDepth, e.treeCount, Array.from(e.left), Array.from(e.right)]).toEqual([
      1,
      1,
      [1, -1, -1],
      [2, -1, -1],
    ]);
    const deeper = load(
      model({
        children_left: [1, 3, -1, -1, -1],
        children_right: [2, 4, -1, -1, -1],
        feature: [0, 1, -2, -2, -2],
        threshold: [0.5, 0.5, -2, -2, -2],
        value: [0, 0, 1, 2, 3],
      }),
    );
    expect(deeper.maxDepth).toBe(2);
  });

  it.each([
    [
      { children_left: [], children_right: [], feature: [], threshold: [], value: [] },
      'a tree needs at least one node',
    ],
    [{ children_left: [3, -1, -1] }, 'node 0 has child indices (3, 2) outside 0..2'],
    [{ children_right: [3, -1, -1] }, 'node 0 has child indices (1, 3) outside 0..2'],
    [{ children_left: [-5, -1, -1] }, 'node 0 has child indices (-5, 2) outside 0..2'],
    [{ children_right: [-1, -1, -1] }, 'node 0 has child indices (1, -1) outside 0..2'],
    [{ children_left: [-1, -1, -1] }, 'node 0 has child indices (-1, 2) outside 0..2'],
    [{ feature: [2, -2, -2] }, 'node 0 splits on feature 2, but rows have 2 columns'],
    [{ feature: [-1, -2, -2] }, 'node 0 splits on feature -1'],
    [{ children_left: [1, 1, -1], children_right: [2, 2, -1], feature: [0, 0, -2] }, 'node 2 is reached twice'],
  ])('refuses %j: %s', (tree, message) => {
    expect(() => load(model(tree))).toThrow(ArtifactError);
    expect(() => load(model(tree))).toThrow(`t.json: model.trees[0]: ${message}`);
  });
});
