import type { DocumentReader } from './check.js';
import { SKLEARN_SPLITS } from './split.js';
import { buildEnsemble, type TreeEnsemble, type TreeInput } from './trees.js';

/**
 * scikit-learn `GradientBoostingClassifier` (binary deviance): the trees of `estimators_[:, 0]` as
 * parallel arrays. margin = init_margin + Σ learning_rate × leaf, in double, tree by tree, as
 * sklearn's `predict_stages` computes it; splits go left on `float32(x) <= threshold`.
 */
export function loadGradientBoosting(
  r: DocumentReader,
  model: Record<string, unknown>,
  columnCount: number,
): TreeEnsemble {
  const initMargin = r.finite(model.init_margin, 'model.init_margin');
  const learningRate = r.finite(model.learning_rate, 'model.learning_rate');
  if (!(learningRate > 0)) r.fail('model.learning_rate', `must be positive, got ${learningRate}`);
  const rawTrees = r.array(model.trees, 'model.trees');
  if (rawTrees.length === 0) r.fail('model.trees', 'the ensemble has no trees');

  const trees: TreeInput[] = rawTrees.map((raw, ti) => {
    const tp = `model.trees[${ti}]`;
    const t = r.object(raw, tp);
    const left = r.integerArray(t.children_left, `${tp}.children_left`);
    const n = left.length;
    const right = r.integerArray(t.children_right, `${tp}.children_right`, n);
    const feature = r.integerArray(t.feature, `${tp}.feature`, n);
    const threshold = r.finiteArray(t.threshold, `${tp}.threshold`, n);
    const value = r.finiteArray(t.value, `${tp}.value`, n);
    const defaultLeft = new Uint8Array(n);
    if (t.missing_go_to_left !== undefined) {
      r.integerArray(t.missing_go_to_left, `${tp}.missing_go_to_left`, n).forEach((v, i) => {
        if (v !== 0 && v !== 1) r.fail(`${tp}.missing_go_to_left[${i}]`, `expected 0 or 1, got ${v}`);
        defaultLeft[i] = v;
      });
    }
    // sklearn computes `scale * value[node]` and adds it; the product is the same double here.
    const leafValue = new Float64Array(n);
    for (let i = 0; i < n; i++) leafValue[i] = learningRate * (value[i] as number);
    // `tree_.weighted_n_node_samples`: optional, only explanations (TreeSHAP) need it.
    const cover = t.cover === undefined ? undefined : r.finiteArray(t.cover, `${tp}.cover`, n);
    return { left, right, feature, threshold, defaultLeft, leafValue, cover };
  });

  return buildEnsemble(
    r,
    'model.trees',
    trees,
    {
      comparison: SKLEARN_SPLITS.comparison,
      accumulation: 'float64',
      baseMargin: initMargin,
      columnCount,
    },
    'cover',
  );
}
