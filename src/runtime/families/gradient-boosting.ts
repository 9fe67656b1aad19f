import { treeEvaluator } from '../evaluator.js';
import { loadGradientBoosting } from '../gbm.js';
import type { ModelFamily } from './family.js';

/**
 * `model`: `estimator` (GradientBoostingClassifier by default, or HistGradientBoostingClassifier), `init_margin`,
 * `learning_rate` (GradientBoostingClassifier only) and the `trees` as parallel arrays (gbm.ts).
 */
export const gradientBoostingFamily: ModelFamily = {
  family: 'gradient_boosting',
  description:
    'scikit-learn GradientBoostingClassifier (float32 rows) or HistGradientBoostingClassifier (float64 rows): tree ensemble, double sum, x <= threshold',
  capabilities: { acceptsMissing: false, explanation: 'treeshap', link: 'logistic' },
  load: (r, model, columnCount, options) => treeEvaluator(loadGradientBoosting(r, model, columnCount), options),
};
