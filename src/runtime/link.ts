/** Link functions between the margin (log-odds) and the probability. */

/** The logistic function, as scikit-learn's `expit` and XGBoost's `binary:logistic` apply it. */
export function sigmoid(margin: number): number {
  return 1 / (1 + Math.exp(-margin));
}

/** The inverse of `sigmoid`: log(p / (1 - p)). */
export function logit(probability: number): number {
  return Math.log(probability / (1 - probability));
}

/**
 * XGBoost's `ProbToMargin` for logistic objectives, in float32 as XGBoost computes it:
 * `-log(1f / base_score - 1f)`.
 */
export function xgboostBaseMargin(baseScore: number): number {
  const b = Math.fround(baseScore);
  return Math.fround(-Math.log(Math.fround(Math.fround(1 / b) - 1)));
}
