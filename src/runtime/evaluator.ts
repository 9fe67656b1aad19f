import { linearMarginBound, treeMarginBound } from './bounds.js';
import { CODEGEN, type CompiledEnsemble, compileEnsemble, MAX_COMPILED_DEPTH } from './codegen.js';
import { type CoveringRows, leafCoveringRows } from './coverage.js';
import { linearExplainer, type RowExplainer } from './explain.js';
import { type LinearModel, linearMargin } from './linear.js';
import { sigmoid } from './link.js';
import { packEnsemble } from './packed.js';
import { supports } from './split.js';
import { type TreeEnsemble, walkMargin } from './trees.js';
import { treeShapPlan } from './treeshap.js';

/**
 * An evaluator turns encoded feature rows into margins (log-odds) and a margin into a probability.
 * Tree evaluators read rows of their ensemble's `rowType` (float32 where the library casts its input,
 * float64 for HistGradientBoostingClassifier; split.ts), linear ones float64 rows.
 */
export interface Evaluator {
  readonly rowType: 'float32' | 'float64';
  margin(x: Float32Array | Float64Array, offset: number): number;
  margins(x: Float32Array | Float64Array, n: number, stride: number, out: Float64Array): void;
  probability(margin: number): number;
  /** What was built, for `GET /models` and logs: tree counts, compiled or walked, ... */
  readonly summary: Readonly<Record<string, number | string | boolean>>;
  /**
   * Exact additive explanation of one row (explain.ts): the contribution of every column, then the
   * base value. Absent when the artifact lacks what it needs; `explainUnavailable` then says what.
   */
  readonly explain?: RowExplainer;
  readonly explainUnavailable?: string;
  /**
   * A bound on |margin| (and on every explanation value) over rows whose column j is at most
   * `columnBounds[j]` in absolute value (bounds.ts): checked at load against `MAX_MARGIN_BOUND`.
   */
  readonly marginBound?: (columnBounds: Float64Array) => number;
  /**
   * Rows that exercise every path of generated code (coverage.ts), for the warm-up before a model
   * serves (warm.ts); absent when the evaluator has no data-dependent code to warm.
   */
  readonly warmRows?: () => CoveringRows;
}

export interface EvaluatorOptions {
  /** Generate specialised code for tree ensembles (default true); false keeps the plain walker. */
  readonly compileTrees?: boolean;
  /**
   * With compiled trees, score single rows on the packed layout (packed.ts) when the ensemble
   * qualifies; false scores them with the generated code too. Default: packed for an ensemble of more
   * than `PACK_SINGLE_ROWS_ABOVE_NODES` nodes, the generated code for a smaller one.
   */
  readonly packTrees?: boolean;
  /**
   * Score batches on the packed layout too, and generate no code at all, when the ensemble packs
   * (default false). For a thread that loads its own copy of a model to score one tape (a tape
   * worker): the generated code costs each such copy ~1.8 s of CPU to compile and warm before it
   * runs at speed, the packed layout nothing, and over varied loans the two run at about the same
   * speed (docs/PERFORMANCE.md, "The CLI on a million loans"). Margins are the same, bit for bit.
   */
  readonly packBatches?: boolean;
}

/**
 * Single rows go to the packed layout above this many nodes, to the generated code at or below it.
 * Measured on the shipped ensembles (docs/PERFORMANCE.md, "Over HTTP: `npm run bench`", 2026-12-06 15:00 UTC):
 * the generated code scores a single varied row faster for the small ones (xgboost/1.0.0, 1,728 nodes:
 * 0.85 against 0.93–0.96 µs; gradient_boosting/1.0.0, 2,920 nodes: 1.25 against 1.7 µs), the two are
 * even at 9,346 nodes (xgboost/1.1.0), and the packed layout was chosen for the former 300-tree,
 * depth-6 XGBoost (about 16,000 nodes).
 */
export const PACK_SINGLE_ROWS_ABOVE_NODES = 4096;

/** The evaluator's `explain`, or why there is none. */
function explanation(
  explain: RowExplainer | undefined,
  missing: string,
): { explain: RowExplainer } | { explainUnavailable: string } {
  return explain ? { explain } : { explainUnavailable: missing };
}

export function linearEvaluator(model: LinearModel): Evaluator {
  return {
    ...explanation(linearExplainer(model), 'the artifact has no model.reference (the training means of the columns)'),
    rowType: 'float64',
    margin: (x, offset) => linearMargin(model, x as Float64Array, offset),
    margins(x, n, stride, out) {
      for (let i = 0; i < n; i++) out[i] = linearMargin(model, x as Float64Array, i * stride);
    },
    probability: sigmoid,
    summary: { evaluator: 'linear', columns: model.coefficients.length },
    marginBound: (columnBounds) => linearMarginBound(model, columnBounds),
  };
}

export function treeEvaluator(ensemble: TreeEnsemble, options: EvaluatorOptions): Evaluator {
  // Generated and packed code are accelerators: used only for the split semantics they declare (split.ts).
  const compile =
    (options.compileTrees ?? true) && ensemble.maxDepth <= MAX_COMPILED_DEPTH && supports(CODEGEN, ensemble);
  // `packBatches`: the packed layout for everything when the ensemble packs, and no generated code.
  const packedOnly = compile && options.packBatches === true ? packEnsemble(ensemble) : undefined;
  const compiled: CompiledEnsemble | undefined = compile && !packedOnly ? compileEnsemble(ensemble) : undefined;
  // Single rows of a large ensemble: the packed layout (fewer cache misses with varied rows, see
  // packed.ts); of a small one, the generated code. Batches keep the generated code, which stays hot
  // over a block of rows.
  const packSingles = options.packTrees ?? ensemble.left.length > PACK_SINGLE_ROWS_ABOVE_NODES;
  const packed = packedOnly ?? (compiled && packSingles ? packEnsemble(ensemble) : undefined);
  // XGBoost returns float32 probabilities; scikit-learn doubles.
  const probability = ensemble.accumulation === 'float32' ? (m: number) => Math.fround(sigmoid(m)) : sigmoid;
  const shap = treeShapPlan(ensemble);
  const summary = {
    evaluator: packedOnly ? 'packed-trees' : compiled ? 'compiled-trees' : 'tree-walker',
    trees: ensemble.treeCount,
    max_depth: ensemble.maxDepth,
    nodes: ensemble.left.length,
    ...(compiled ? { code_groups: compiled.groups } : {}),
    ...(compiled || packedOnly ? { single_row: packed ? 'packed' : 'compiled' } : {}),
    ...(packed ? { packed_bytes: packed.bytes } : {}),
    ...(shap ? { explain_method: shap.method, explain_table_bytes: shap.tableBytes } : {}),
  };
  const explains = explanation(shap?.explain, 'the trees have no node covers (sum_hessian / cover)');
  const marginBound = () => treeMarginBound(ensemble);
  const rowType = ensemble.rowType;
  if (packedOnly) {
    return {
      rowType,
      margin: (x, offset) => packedOnly.margin(x, offset),
      margins(x, n, stride, out) {
        for (let i = 0; i < n; i++) out[i] = packedOnly.margin(x, i * stride);
      },
      probability,
      summary,
      marginBound,
      ...explains,
    };
  }
  if (compiled) {
    return {
      rowType,
      margin: packed ? (x, offset) => packed.margin(x, offset) : (x, offset) => compiled.margin(x, offset),
      margins: (x, n, stride, out) => compiled.margins(x, n, stride, out),
      probability,
      summary,
      marginBound,
      warmRows: () => leafCoveringRows(ensemble),
      ...explains,
    };
  }
  return {
    rowType,
    margin: (x, offset) => walkMargin(ensemble, x, offset),
    margins(x, n, stride, out) {
      for (let i = 0; i < n; i++) out[i] = walkMargin(ensemble, x, i * stride);
    },
    probability,
    summary,
    marginBound,
    ...explains,
  };
}

/**
 * XGBoost's `missing`: a feature equal to it (compared in float32, as XGBoost casts its input) is missing,
 * exactly like NaN. The rows are float32, so the value is replaced by NaN in place before the trees
 * (and TreeSHAP) read them: every path — named inputs, tensors, explanations — sees the same row.
 */
export function withMissingValue(evaluator: Evaluator, missing: number | undefined, columnCount: number): Evaluator {
  if (missing === undefined) return evaluator;
  const m = Math.fround(missing);
  const clear = (x: Float32Array | Float64Array, start: number, end: number) => {
    for (let k = start; k < end; k++) if (x[k] === m) x[k] = Number.NaN;
  };
  const { explain } = evaluator;
  return {
    ...evaluator,
    margin(x, offset) {
      clear(x, offset, offset + columnCount);
      return evaluator.margin(x, offset);
    },
    margins(x, n, stride, out) {
      for (let i = 0; i < n; i++) clear(x, i * stride, i * stride + columnCount);
      evaluator.margins(x, n, stride, out);
    },
    ...(explain
      ? {
          explain(x, offset, out) {
            clear(x, offset, offset + columnCount);
            explain(x, offset, out);
          },
        }
      : {}),
    summary: { ...evaluator.summary, missing },
  };
}
