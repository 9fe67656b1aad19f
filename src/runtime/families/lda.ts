import { linearEvaluator } from '../evaluator.js';
import { loadLda } from '../lda.js';
import type { ModelFamily } from './family.js';

/**
 * `model`: the class `means`, the shared `covariance` and the `priors`, from which the discriminant is
 * derived at load (lda.ts); or, as imports of an LDA fitted without its covariance write it, the
 * collapsed `coefficients` and `intercept`. Optional `reference` either way.
 */
export const ldaFamily: ModelFamily = {
  family: 'lda',
  description:
    'scikit-learn LinearDiscriminantAnalysis (binary): discriminant derived from class means, shared covariance and priors; linear scorer, logistic link',
  capabilities: { acceptsMissing: false, explanation: 'linear', link: 'logistic' },
  load: (r, model, columnCount) => linearEvaluator(loadLda(r, model, columnCount)),
};
