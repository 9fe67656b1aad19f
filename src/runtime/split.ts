/**
 * The one definition of where a row goes at a tree split (issue 19): every tree executor and every
 * TreeSHAP method decides "x goes left" here, or, for the accelerators that cannot call a function
 * per node (generated code, the packed rank layout), derive their test from `SPLIT_SEMANTICS` and
 * declare which semantics they implement; test/runtime/conformance.test.ts checks their leaf ids
 * against the walker on NaN, ±Infinity and on-threshold rows.
 *
 * - `lt` (XGBoost): x goes left when x < threshold; thresholds are float32.
 * - `le` (scikit-learn): x goes left when x <= threshold; thresholds are doubles.
 * Both libraries compare the row's value cast to float32, and a missing value (NaN) takes the node's
 * default direction (XGBoost `default_left`, scikit-learn ≥ 1.3 `missing_go_to_left`). ±Infinity is
 * an ordinary value: -Infinity goes left of every finite threshold, +Infinity right.
 */

/** `lt`: go left when x < threshold (XGBoost); `le`: when x <= threshold (scikit-learn). */
export type Comparison = 'lt' | 'le';

/** What an executor must implement to score a family's trees exactly. */
export interface SplitSemantics {
  readonly comparison: Comparison;
  /** JavaScript operators: x `left` t sends x left; x `right` t sends it right (both false for NaN). */
  readonly left: '<' | '<=';
  readonly right: '>=' | '>';
  /** Missing values: NaN follows the node's default direction. */
  readonly missing: 'default-direction';
  /** Row values are float32 (the libraries cast the input before comparing). */
  readonly rowType: 'float32';
}

export const SPLIT_SEMANTICS: Readonly<Record<Comparison, SplitSemantics>> = {
  lt: { comparison: 'lt', left: '<', right: '>=', missing: 'default-direction', rowType: 'float32' },
  le: { comparison: 'le', left: '<=', right: '>', missing: 'default-direction', rowType: 'float32' },
};

/**
 * Does `x` go left at a split on `threshold`? `lt` is true for XGBoost's `<`, false for
 * scikit-learn's `<=`. NaN goes the default way. Small enough for V8 to inline into the walkers.
 */
export function goesLeft(x: number, threshold: number, defaultLeft: boolean, lt: boolean): boolean {
  if (Number.isNaN(x)) return defaultLeft;
  return !passesRight(x, threshold, lt);
}

/**
 * For a value known not to be NaN: does it go right (XGBoost: x >= threshold; scikit-learn:
 * x > threshold)? The packed layout ranks values by this test, written out in its search loop.
 */
export function passesRight(x: number, threshold: number, lt: boolean): boolean {
  return lt ? threshold <= x : threshold < x;
}

/** The families' split semantics: XGBoost and scikit-learn. */
export const XGBOOST_SPLITS = SPLIT_SEMANTICS.lt;
export const SKLEARN_SPLITS = SPLIT_SEMANTICS.le;

/** An optional executor (generated code, packed layout): the split semantics it implements. */
export interface Accelerator {
  readonly semantics: readonly Comparison[];
}

/** Whether an accelerator implements `comparison`; when it does not, the walker scores instead. */
export function supports(accelerator: Accelerator, comparison: Comparison): boolean {
  return accelerator.semantics.includes(comparison);
}
