import type { DocumentReader } from './check.js';
import { type RowType, SKLEARN_HIST_SPLITS, SKLEARN_SPLITS, type SplitSemantics } from './split.js';
import { buildEnsemble, type TreeEnsemble, type TreeInput } from './trees.js';

/**
 * The scikit-learn boosters of the `gradient_boosting` family, by `model.estimator` (absent: the first,
 * as every artifact written before the field existed):
 * - `GradientBoostingClassifier` (binary deviance): the trees of `estimators_[:, 0]`; a leaf adds
 *   `learning_rate × value`; splits go left on `float32(x) <= threshold` (the estimator casts X to float32).
 * - `HistGradientBoostingClassifier` (binary log loss): the trees of `_predictors`; a leaf adds its
 *   `value` (scikit-learn stores it already multiplied by the learning rate, so the artifact has no
 *   `learning_rate`); splits go left on `x <= threshold` with x a double (X is validated as float64 and
 *   never rounded), so its rows are float64 (split.ts `le-float64`).
 * Both: margin = init_margin + Σ leaf, in double, tree by tree, as scikit-learn computes it.
 */
const ESTIMATORS: Readonly<Record<string, { readonly splits: SplitSemantics; readonly learningRate: boolean }>> = {
  GradientBoostingClassifier: { splits: SKLEARN_SPLITS, learningRate: true },
  HistGradientBoostingClassifier: { splits: SKLEARN_HIST_SPLITS, learningRate: false },
};
const ROW_TYPES: readonly RowType[] = ['float32', 'float64'];

export function loadGradientBoosting(
  r: DocumentReader,
  model: Record<string, unknown>,
  columnCount: number,
): TreeEnsemble {
  const estimator =
    model.estimator === undefined ? 'GradientBoostingClassifier' : r.string(model.estimator, 'model.estimator');
  const known = Object.hasOwn(ESTIMATORS, estimator) ? ESTIMATORS[estimator] : undefined;
  if (known === undefined) {
    r.fail(
      'model.estimator',
      `unknown estimator ${JSON.stringify(estimator)}: this runtime scores ${Object.keys(ESTIMATORS).join(' and ')}`,
    );
  }
  const { splits } = known;
  // `split_rows` records what the estimator's splits compare; an older runtime knows only float32.
  if (model.split_rows !== undefined) {
    const rows = r.string(model.split_rows, 'model.split_rows');
    if (!(ROW_TYPES as readonly string[]).includes(rows)) {
      r.fail(
        'model.split_rows',
        `unknown split mode ${JSON.stringify(rows)}: this runtime compares ${ROW_TYPES.join(' or ')} rows`,
      );
    }
    if (rows !== splits.rowType) {
      r.fail('model.split_rows', `${estimator} compares ${splits.rowType} rows, not ${rows}`);
    }
  }
  const initMargin = r.finite(model.init_margin, 'model.init_margin');
  let learningRate = 1;
  if (known.learningRate) {
    learningRate = r.finite(model.learning_rate, 'model.learning_rate');
    if (!(learningRate > 0)) r.fail('model.learning_rate', `must be positive, got ${learningRate}`);
  } else if (model.learning_rate !== undefined) {
    r.fail('model.learning_rate', `${estimator}'s leaf values already include the learning rate: remove it`);
  }
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
    // GradientBoostingClassifier computes `scale * value[node]` and adds it; the product is the same double
    // here. HistGradientBoostingClassifier adds the value itself.
    const leafValue = known.learningRate ? new Float64Array(n) : value;
    if (known.learningRate) for (let i = 0; i < n; i++) leafValue[i] = learningRate * (value[i] as number);
    // Training weight per node (weighted_n_node_samples / count): optional, only TreeSHAP needs it.
    const cover = t.cover === undefined ? undefined : r.finiteArray(t.cover, `${tp}.cover`, n);
    return { left, right, feature, threshold, defaultLeft, leafValue, cover };
  });

  return buildEnsemble(
    r,
    'model.trees',
    trees,
    {
      comparison: splits.comparison,
      rowType: splits.rowType,
      accumulation: 'float64',
      baseMargin: initMargin,
      columnCount,
    },
    'cover',
  );
}
