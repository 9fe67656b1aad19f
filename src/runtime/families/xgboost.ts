import { treeEvaluator, withMissingValue } from '../evaluator.js';
import { loadXGBoost, xgboostMissingValue } from '../xgboost.js';
import type { ModelFamily } from './family.js';

/** `model`: the `booster` as XGBoost's `save_model("*.json")` writes it, and optional `missing` (xgboost.ts). */
export const xgboostFamily: ModelFamily = {
  family: 'xgboost',
  description: 'XGBoost gbtree, binary:logistic: tree ensemble, float32 sum, x < threshold',
  capabilities: { acceptsMissing: true, explanation: 'treeshap', link: 'logistic-float32' },
  load: (r, model, columnCount, options) =>
    withMissingValue(
      treeEvaluator(loadXGBoost(r, model, columnCount), options),
      xgboostMissingValue(r, model),
      columnCount,
    ),
};
