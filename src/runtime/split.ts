/**
 * The one definition of where a row goes at a tree split (issue 19): every tree executor and every
 * TreeSHAP method decides "x goes left" here, or, for the accelerators that cannot call a function
 * per node (generated code, the packed rank layout), derive their test from `SPLIT_SEMANTICS` and
 * declare which semantics they implement; test/runtime/conformance.test.ts checks their leaf ids
 * against the walker on NaN, ±Infinity and on-threshold rows.
 *
 * - `lt` (XGBoost): x goes left when x < threshold; thresholds are float32; rows are float32.
 * - `le` (scikit-learn GradientBoostingClassifier): x goes left when x <= threshold; thresholds are
 *   doubles; rows are float32 (the estimator casts its input to float32 before comparing).
 * - `le-float64` (scikit-learn HistGradientBoostingClassifier): x goes left when x <= threshold, the row's
 *   value and the threshold both doubles: the estimator validates X as float64 and compares it as it is,
 *   so no value is ever rounded to float32 (two rows that differ only beyond float32 precision may go
 *   different ways).
 * A missing value (NaN) takes the node's default direction (XGBoost `default_left`, scikit-learn ≥ 1.3
 * and HistGradientBoostingClassifier `missing_go_to_left`). ±Infinity is an ordinary value: -Infinity
 * goes left of every finite threshold, +Infinity right.
 *
 * The comparison itself does not depend on the row type (a float32 is a double): what differs is what
 * the rows hold. An ensemble names its mode (its `comparison` and `rowType`, trees.ts), the evaluator
 * allocates rows of that type (model.ts), and an accelerator scores only the modes it declares.
 */

/** `lt`: go left when x < threshold (XGBoost); `le`: when x <= threshold (scikit-learn). */
export type Comparison = 'lt' | 'le';

/** What a row holds: float32 values (the libraries cast the input) or doubles, compared as they are. */
export type RowType = 'float32' | 'float64';

/** A split mode: a comparison on rows of one type (see the module comment). */
export type SplitMode = 'lt' | 'le' | 'le-float64';

/** What an executor must implement to score a family's trees exactly. */
export interface SplitSemantics {
  readonly mode: SplitMode;
  readonly comparison: Comparison;
  /** JavaScript operators: x `left` t sends x left; x `right` t sends it right (both false for NaN). */
  readonly left: '<' | '<=';
  readonly right: '>=' | '>';
  /** Missing values: NaN follows the node's default direction. */
  readonly missing: 'default-direction';
  /** The type of the row values compared: float32 (cast before comparing) or float64 (never rounded). */
  readonly rowType: RowType;
}

export const SPLIT_SEMANTICS: Readonly<Record<SplitMode, SplitSemantics>> = {
  lt: { mode: 'lt', comparison: 'lt', left: '<', right: '>=', missing: 'default-direction', rowType: 'float32' },
  le: { mode: 'le', comparison: 'le', left: '<=', right: '>', missing: 'default-direction', rowType: 'float32' },
  'le-float64': {
    mode: 'le-float64',
    comparison: 'le',
    left: '<=',
    right: '>',
    missing: 'default-direction',
    rowType: 'float64',
  },
};

/** The mode of a comparison on rows of a type, or undefined for a pair no library uses (`lt` on doubles). */
export function splitMode(comparison: Comparison, rowType: RowType): SplitMode | undefined {
  return Object.values(SPLIT_SEMANTICS).find((s) => s.comparison === comparison && s.rowType === rowType)?.mode;
}

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

/** The families' split semantics: XGBoost, scikit-learn GradientBoostingClassifier and HistGradientBoostingClassifier. */
export const XGBOOST_SPLITS = SPLIT_SEMANTICS.lt;
export const SKLEARN_SPLITS = SPLIT_SEMANTICS.le;
export const SKLEARN_HIST_SPLITS = SPLIT_SEMANTICS['le-float64'];

/** An optional executor (generated code, packed layout, warm-up rows): the split modes it implements. */
export interface Accelerator {
  readonly semantics: readonly SplitMode[];
}

/** The split mode of an ensemble (its comparison on its row type). */
export function modeOf(e: { readonly comparison: Comparison; readonly rowType: RowType }): SplitMode | undefined {
  return splitMode(e.comparison, e.rowType);
}

/** Whether an accelerator implements the ensemble's split mode; when it does not, the walker scores instead. */
export function supports(
  accelerator: Accelerator,
  e: { readonly comparison: Comparison; readonly rowType: RowType },
): boolean {
  const mode = modeOf(e);
  return mode !== undefined && accelerator.semantics.includes(mode);
}
