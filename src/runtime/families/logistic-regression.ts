import { linearEvaluator } from '../evaluator.js';
import { loadLinear } from '../linear.js';
import type { ModelFamily } from './family.js';

/** `model`: `coefficients`, `intercept` and optional `reference` (docs/ARTIFACT_FORMAT.md). */
export const logisticRegressionFamily: ModelFamily = {
  family: 'logistic_regression',
  description: 'scikit-learn LogisticRegression: linear scorer, logistic link',
  capabilities: { acceptsMissing: false, explanation: 'linear', link: 'logistic' },
  load: (r, model, columnCount) => linearEvaluator(loadLinear(r, model, columnCount)),
};
