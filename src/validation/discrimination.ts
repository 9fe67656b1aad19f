import { checkOpenUnit, fail } from './problems.js';
import { erfc, normPpf } from './special.js';

/**
 * Discrimination: the AUC (the Mann–Whitney statistic, ties counted ½), its DeLong variance and interval
 * (DeLong, DeLong & Clarke-Pearson 1988, by the O(n log n) placement algorithm of Sun & Xu 2014), Gini, KS and
 * DeLong's test of two correlated AUCs. Inputs are parallel arrays: a score per loan (higher = riskier) and its
 * outcome (1 = default). Checked against scikit-learn, SciPy and a direct O(n²) DeLong in numpy
 * (test/validation/discrimination.test.ts).
 */

/** Scores and outcomes, as arrays or typed arrays (an OutcomeSample's views). */
export interface Scored {
  readonly scores: ArrayLike<number>;
  readonly outcomes: ArrayLike<number>;
}

/** The refusals shared by every statistic on outcomes: sizes, 0/1 outcomes, finite scores, both classes. */
export function checkScored(
  scores: ArrayLike<number>,
  outcomes: ArrayLike<number>,
  options: { scoreField?: string; probability?: boolean; minPerClass?: number } = {},
): { positives: number; negatives: number } {
  const field = options.scoreField ?? 'score';
  if (scores.length !== outcomes.length) {
    fail(field, `has ${scores.length} values but there are ${outcomes.length} outcomes`);
  }
  if (scores.length === 0) fail('outcomes', 'are empty: a statistic needs at least one loan');
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    const y = outcomes[i] as number;
    if (!Number.isFinite(s)) fail(field, `must be a finite number, got ${s} (row ${i})`);
    if (options.probability && !(s >= 0 && s <= 1))
      fail(field, `must be a probability from 0 to 1, got ${s} (row ${i})`);
    if (y === 1) positives++;
    else if (y !== 0) fail('outcomes', `must be 0 or 1, got ${y} (row ${i})`);
  }
  const negatives = scores.length - positives;
  const min = options.minPerClass ?? 0;
  if (min > 0 && (positives < min || negatives < min)) {
    fail(
      'outcomes',
      `need at least ${min} default${min > 1 ? 's' : ''} and ${min} non-default${min > 1 ? 's' : ''}, got ${positives} and ${negatives}`,
    );
  }
  return { positives, negatives };
}

function split(scores: ArrayLike<number>, outcomes: ArrayLike<number>, positives: number) {
  const pos = new Float64Array(positives);
  const neg = new Float64Array(scores.length - positives);
  let i1 = 0;
  let i0 = 0;
  for (let i = 0; i < scores.length; i++) {
    if (outcomes[i] === 1) pos[i1++] = scores[i] as number;
    else neg[i0++] = scores[i] as number;
  }
  return { pos, neg };
}

/** First index of sorted `a` with a[i] ≥ x (strict: a[i] > x). */
function bound(a: Float64Array, x: number, strict: boolean): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid] as number;
    if (v < x || (strict && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Twice the placement of each value of `of` among the sorted `among`: 2·#{among < x} + #{among = x}, an
 * integer, so the AUC's numerator is summed exactly.
 */
function placements(of: Float64Array, among: Float64Array): Float64Array {
  const out = new Float64Array(of.length);
  for (let i = 0; i < of.length; i++) {
    const x = of[i] as number;
    const below = bound(among, x, false);
    const atOrBelow = bound(among, x, true);
    out[i] = below + atOrBelow;
  }
  return out;
}

/** The DeLong components of one score column: the AUC and the placement values V10 (defaults), V01 (others). */
interface Components {
  readonly auc: number;
  readonly v10: Float64Array;
  readonly v01: Float64Array;
}

function components(scores: ArrayLike<number>, outcomes: ArrayLike<number>, positives: number): Components {
  const { pos, neg } = split(scores, outcomes, positives);
  const sortedNeg = neg.slice().sort();
  const sortedPos = pos.slice().sort();
  const twiceBelow = placements(pos, sortedNeg); // 2·#neg < x + #neg = x
  const twiceAbove = placements(neg, sortedPos); // 2·#pos < y + #pos = y
  const m = pos.length;
  const n = neg.length;
  let numerator = 0;
  const v10 = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const t = twiceBelow[i] as number;
    numerator += t;
    v10[i] = t / (2 * n);
  }
  const v01 = new Float64Array(n);
  for (let j = 0; j < n; j++) v01[j] = 1 - (twiceAbove[j] as number) / (2 * m);
  return { auc: numerator / (2 * m * n), v10, v01 };
}

function covariance(a: Float64Array, meanA: number, b: Float64Array, meanB: number): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - meanA) * ((b[i] as number) - meanB);
  return s / (a.length - 1);
}

/** The AUC alone (sklearn.metrics.roc_auc_score): needs at least one default and one non-default. */
export function auc(scores: ArrayLike<number>, outcomes: ArrayLike<number>): number {
  const { positives } = checkScored(scores, outcomes, { minPerClass: 1 });
  return components(scores, outcomes, positives).auc;
}

export interface AucReport {
  readonly auc: number;
  readonly gini: number;
  /** DeLong variance of the AUC. */
  readonly variance: number;
  readonly se: number;
  /** The (1 − α) interval AUC ± z·se, clipped to [0, 1]; Gini's interval is 2·it − 1. */
  readonly lower: number;
  readonly upper: number;
  readonly level: number;
  readonly defaults: number;
  readonly nonDefaults: number;
}

/** AUC with its DeLong variance and (1 − alpha) confidence interval; needs 2 defaults and 2 non-defaults. */
export function aucDeLong(scores: ArrayLike<number>, outcomes: ArrayLike<number>, alpha = 0.05): AucReport {
  checkOpenUnit('alpha', alpha);
  const { positives, negatives } = checkScored(scores, outcomes, { minPerClass: 2 });
  const c = components(scores, outcomes, positives);
  const variance =
    covariance(c.v10, c.auc, c.v10, c.auc) / positives + covariance(c.v01, c.auc, c.v01, c.auc) / negatives;
  const se = Math.sqrt(variance);
  const z = normPpf(1 - alpha / 2);
  return {
    auc: c.auc,
    gini: 2 * c.auc - 1,
    variance,
    se,
    lower: Math.max(0, c.auc - z * se),
    upper: Math.min(1, c.auc + z * se),
    level: 1 - alpha,
    defaults: positives,
    nonDefaults: negatives,
  };
}

export interface AucComparison {
  readonly aucA: number;
  readonly aucB: number;
  /** aucA − aucB. */
  readonly difference: number;
  readonly varianceA: number;
  readonly varianceB: number;
  readonly covariance: number;
  /** Variance of the difference, varA + varB − 2·cov. */
  readonly variance: number;
  readonly z: number;
  /** Two-sided p-value, 2·Φ(−|z|). */
  readonly p: number;
}

/**
 * DeLong's test that two scores of the same loans (champion A, challenger B) have the same AUC. Refuses when
 * the difference has zero variance (e.g. both separate the classes perfectly).
 */
export function compareAuc(
  scoresA: ArrayLike<number>,
  scoresB: ArrayLike<number>,
  outcomes: ArrayLike<number>,
): AucComparison {
  const { positives, negatives } = checkScored(scoresA, outcomes, { scoreField: 'champion', minPerClass: 2 });
  checkScored(scoresB, outcomes, { scoreField: 'challenger' });
  const a = components(scoresA, outcomes, positives);
  const b = components(scoresB, outcomes, positives);
  const part = (x: Components, y: Components) =>
    covariance(x.v10, x.auc, y.v10, y.auc) / positives + covariance(x.v01, x.auc, y.v01, y.auc) / negatives;
  const varianceA = part(a, a);
  const varianceB = part(b, b);
  const cov = part(a, b);
  const variance = varianceA + varianceB - 2 * cov;
  const difference = a.auc - b.auc;
  if (!(variance > 0)) {
    if (difference === 0) {
      return { aucA: a.auc, aucB: b.auc, difference, varianceA, varianceB, covariance: cov, variance, z: 0, p: 1 };
    }
    fail('challenger', 'the AUC difference has zero DeLong variance: the test is undefined for these scores');
  }
  const z = difference / Math.sqrt(variance);
  return {
    aucA: a.auc,
    aucB: b.auc,
    difference,
    varianceA,
    varianceB,
    covariance: cov,
    variance,
    z,
    p: erfc(Math.abs(z) / Math.SQRT2),
  };
}

/**
 * Kolmogorov–Smirnov: the largest distance between the score CDFs of defaults and non-defaults
 * (the statistic of scipy.stats.ks_2samp), and the score at which it is reached.
 */
export function ks(scores: ArrayLike<number>, outcomes: ArrayLike<number>): { ks: number; at: number } {
  const { positives } = checkScored(scores, outcomes, { minPerClass: 1 });
  const { pos, neg } = split(scores, outcomes, positives);
  pos.sort();
  neg.sort();
  let i = 0;
  let j = 0;
  let best = 0;
  let at = Math.min(pos[0] as number, neg[0] as number);
  while (i < pos.length || j < neg.length) {
    const x = Math.min(i < pos.length ? (pos[i] as number) : Infinity, j < neg.length ? (neg[j] as number) : Infinity);
    while (i < pos.length && pos[i] === x) i++;
    while (j < neg.length && neg[j] === x) j++;
    const d = Math.abs(i / pos.length - j / neg.length);
    if (d > best) {
      best = d;
      at = x;
    }
  }
  return { ks: best, at };
}
