import { treeEvaluator } from '../evaluator.js';
import { loadGradientBoosting } from '../gbm.js';
import type { ModelFamily } from './family.js';

/** `model`: `init_margin`, `learning_rate` and the `trees` as parallel arrays (gbm.ts). */
export const gradientBoostingFamily: ModelFamily = {
  family: 'gradient_boosting',
  description: 'scikit-learn GradientBoostingClassifier: tree ensemble, double sum, x <= threshold',
  capabilities: { acceptsMissing: false, explanation: 'treeshap', link: 'logistic' },
  load: (r, model, columnCount, options) => treeEvaluator(loadGradientBoosting(r, model, columnCount), options),
};
