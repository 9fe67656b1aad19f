import type { LinearModel } from './linear.js';
import { postOrder, type TreeEnsemble } from './trees.js';

/**
 * Exact additive explanations in log-odds: for a row x, `contributions[j]` per column and a base value
 * with base + Σ contributions = the model's margin (up to floating-point rounding).
 *
 * - Linear models: contribution j = coef_j · (x_j − reference_j), base = intercept + Σ coef_j · reference_j,
 *   where the reference is the training mean of each encoded column (`model.reference` in the artifact).
 * - Tree ensembles: path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent individualized
 *   feature attribution for tree ensembles", Algorithm 2), in the form XGBoost implements it
 *   (`RegTree::TreeShap`, what `predict(..., pred_contribs=True)` returns): node covers weigh the
 *   branches a row does not take, a missing value follows the node's default branch, and the base
 *   value is the base margin plus each tree's cover-weighted mean leaf. Computed in double (XGBoost
 *   uses float32), summed over trees in tree order. For scikit-learn the leaf values already carry the
 *   learning rate, so each tree's values and expected value come out scaled by it.
 *   treeshap.ts evaluates it exactly by precomputed per-block tables (or, when they would not fit,
 *   a quadrature scan or Algorithm 2 itself).
 *
 * Both are pure functions over typed arrays; a tree explainer owns preallocated path buffers, so an
 * explanation allocates nothing per node (not safe for re-entrant use, like the rest of a Model).
 */

/** Writes a row's contributions to `out[0..columnCount)` and the base value to `out[columnCount]`. */
export type RowExplainer = (x: Float32Array | Float64Array, offset: number, out: Float64Array) => void;

export function linearExplainer(model: LinearModel): RowExplainer | undefined {
  const { coefficients: c, reference } = model;
  if (reference === undefined) return undefined;
  let base = model.intercept;
  for (let j = 0; j < c.length; j++) base += (c[j] as number) * (reference[j] as number);
  return (x, offset, out) => {
    for (let j = 0; j < c.length; j++)
      out[j] = (c[j] as number) * ((x[offset + j] as number) - (reference[j] as number));
    out[c.length] = base;
  };
}

/**
 * Each node's expected value: the leaf value at a leaf, else the cover-weighted mean of its children,
 * (E[left]·cover[left] + E[right]·cover[right]) / cover[node], as XGBoost's `FillNodeMeanValue`.
 */
export function nodeExpectations(e: TreeEnsemble, cover: Float64Array): Float64Array {
  const mean = new Float64Array(e.left.length);
  for (const node of postOrder(e)) {
    const l = e.left[node] as number;
    if (l === -1) {
      mean[node] = e.leafValue[node] as number;
      continue;
    }
    const r = e.right[node] as number;
    mean[node] =
      ((mean[l] as number) * (cover[l] as number) + (mean[r] as number) * (cover[r] as number)) /
      (cover[node] as number);
  }
  return mean;
}

/** The ensemble's expected margin: base margin + Σ trees' expected values (the SHAP base value). */
export function treeBaseValue(e: TreeEnsemble, mean: Float64Array): number {
  let base = e.baseMargin;
  for (let t = 0; t < e.treeCount; t++) base += mean[e.roots[t] as number] as number;
  return base;
}

/**
 * Sums column contributions by the loan field each column comes from (`columnField[j]` = index of
 * the field), so a field encoded as several columns (one-hot levels, an is_missing indicator, a
 * derived year) is reported once. Fields without a column get 0.
 */
export function sumByField(contributions: ArrayLike<number>, columnField: Int32Array, out: Float64Array): Float64Array {
  out.fill(0);
  for (let j = 0; j < columnField.length; j++) {
    const f = columnField[j] as number;
    out[f] = (out[f] as number) + (contributions[j] as number);
  }
  return out;
}
