import { ArtifactError } from './errors.js';
import type { ColumnSpec, FieldSpec, NumericField } from './features.js';
import type { LinearModel } from './linear.js';
import type { TreeEnsemble } from './trees.js';

/**
 * Scores are finite by construction: at load, a bound on |margin| over every row the encoder can
 * produce is computed from the artifact, and an artifact whose bound passes `MAX_MARGIN_BOUND` (or is
 * not finite) is refused, naming the file. Huge but finite coefficients or leaves would otherwise load
 * and then overflow to ±Infinity or NaN (Infinity − Infinity) when scoring.
 *
 * - Trees: |base margin| + Σ over trees of the tree's largest |leaf| (whatever the row).
 * - Linear: |intercept| + Σ_j |coefficient_j| · (B_j + |reference_j|), B_j the largest |value| column j
 *   can take. The reference term also bounds every explanation (contribution j = c_j · (x_j − ref_j),
 *   base = intercept + Σ c_j · ref_j).
 *
 * B_j: 1 for `is_missing` and `one_hot`; for `numeric`, the encoded ends of the field's range (after
 * `derive` and `center`/`scale`) and the encoded `impute`. The range is what the caller says the
 * inputs are held to (`FieldRange`): the service passes the loan record's ranges for loan-record
 * models (its request schema and tape readers enforce them); by default, the artifact's own `min`/`max`.
 * Without a known range the raw value is taken as |x| ≤ 1, which refuses absurd coefficients but proves
 * nothing: the Open Inference Protocol routes check each score of such a model and answer 400 when an
 * input drives it out of range.
 */

/**
 * Largest |margin| (log-odds) an artifact may reach. Far above any real model (|margin| = 40 is a PD of
 * 4e-18; PD is 0 or 1 in double beyond about ±37 / ±745), far below where a double (1.8e308) or
 * XGBoost's float32 running sum (3.4e38) overflows, so margins, probabilities (the logistic link
 * saturates to 0 or 1, finitely) and explanations all stay finite.
 */
export const MAX_MARGIN_BOUND = 1e6;

/** The range inputs of a numeric field are held to, or undefined when nothing bounds them. */
export type FieldRange = (field: NumericField) => { readonly min: number; readonly max: number } | undefined;

/** The artifact's own documented range (`min` and `max` both given). */
export const artifactRange: FieldRange = (field) =>
  field.min !== undefined && field.max !== undefined ? { min: field.min, max: field.max } : undefined;

/** Largest |value| each column can take, given the fields' ranges. */
export function columnBounds(
  fields: readonly FieldSpec[],
  columns: readonly ColumnSpec[],
  range: FieldRange,
): Float64Array {
  const byName = new Map(fields.map((f) => [f.name, f]));
  return Float64Array.from(columns, (c) => {
    if (c.op !== 'numeric') return 1;
    const field = byName.get(c.field) as NumericField;
    const r = range(field) ?? { min: -1, max: 1 };
    const derive = (v: number) => (c.derive === 'year' ? Math.floor(v / 100) : v);
    const candidates = [derive(r.min), derive(r.max)];
    if (c.impute !== undefined) candidates.push(c.impute);
    let bound = 0;
    for (const v of candidates) {
      const x = c.center !== undefined && c.scale !== undefined ? (v - c.center) / c.scale : v;
      bound = Math.max(bound, Math.abs(x));
    }
    return bound;
  });
}

export function linearMarginBound(model: LinearModel, bounds: Float64Array): number {
  let total = Math.abs(model.intercept);
  model.coefficients.forEach((c, j) => {
    total += Math.abs(c) * ((bounds[j] as number) + Math.abs(model.reference?.[j] ?? 0));
  });
  return total;
}

export function treeMarginBound(e: TreeEnsemble): number {
  let total = Math.abs(e.baseMargin);
  for (let t = 0; t < e.treeCount; t++) {
    const end = t + 1 < e.treeCount ? (e.roots[t + 1] as number) : e.left.length;
    let largest = 0;
    for (let i = e.roots[t] as number; i < end; i++) {
      if (e.left[i] === -1) largest = Math.max(largest, Math.abs(e.leafValue[i] as number));
    }
    total += largest;
  }
  return total;
}

/**
 * Refuses (naming `source`) an evaluator whose margin bound over `range` is not finite or passes
 * `MAX_MARGIN_BOUND`. Evaluators of other families that give no `marginBound` are not checked here.
 */
export function checkEvaluatorBound(
  source: string,
  evaluator: { marginBound?: (columnBounds: Float64Array) => number },
  fields: readonly FieldSpec[],
  columns: readonly ColumnSpec[],
  range: FieldRange,
): void {
  if (evaluator.marginBound) checkMarginBound(source, evaluator.marginBound(columnBounds(fields, columns, range)));
}

/** Refuses (naming `source`) a bound that is not finite or passes `MAX_MARGIN_BOUND`. */
function checkMarginBound(source: string, bound: number): void {
  if (!(bound <= MAX_MARGIN_BOUND)) {
    throw new ArtifactError(
      source,
      'model',
      `the margin can reach ${bound} in absolute value, over the limit of ${MAX_MARGIN_BOUND} ` +
        '(coefficients, intercept or leaf values too large for the inputs; scores would overflow)',
    );
  }
}

/** A defensive check where a score leaves the runtime: a non-finite value is a fault, never an answer. */
export function assertFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`${what}: value ${i} is ${values[i]}, not a finite number`);
  }
}
