import { type Accelerator, modeOf, SPLIT_SEMANTICS, type SplitMode, supports } from './split.js';
import type { Rows, TreeEnsemble } from './trees.js';

/**
 * Compiles a validated tree ensemble into straight-line JavaScript: each tree becomes a nested
 * conditional expression, trees are grouped into functions small enough for V8 to optimise
 * (it gives up on functions with very large bytecode), and each group comes in two shapes:
 * one row, and a block of rows (the group's code stays hot while it runs over every row).
 *
 * Safety: the generated source is built only from numbers taken from the flat typed arrays of a
 * `TreeEnsemble` (integers for indices, finite doubles for thresholds and leaves), never from a
 * string found in an artifact.
 */

export interface CompiledEnsemble {
  /** Margin of the row starting at `offset` in `x`. */
  margin(x: Rows, offset: number): number;
  /**
   * The leaf (global node id) the row reaches in each tree, by code generated from the same split
   * tests with node ids for leaves: compiled on first use (conformance tests, debugging), never on
   * the scoring path.
   */
  leafIndices(x: Rows, offset: number, out: Int32Array): Int32Array;
  /** Margins of `n` consecutive rows of `stride` values each, written to `out`. */
  margins(x: Rows, n: number, stride: number, out: Float64Array): void;
  readonly groups: number;
  readonly sourceBytes: number;
}

export interface CodegenOptions {
  /** Generated source per single-row function, in characters: bigger groups mean fewer calls per row. */
  readonly rowGroupSource?: number;
  /** Generated source per block function: each one runs over every row before the next. */
  readonly blockGroupSource?: number;
}

export const MAX_COMPILED_DEPTH = 48;

/**
 * The split modes the generated code implements (split.ts): all three. Thresholds are written as the
 * shortest decimal that reads back as the same double, and the row is read from the evaluator's typed
 * array as it is (float32 or double), so the comparison is the walker's in every mode.
 */
export const CODEGEN: Accelerator = { semantics: ['lt', 'le', 'le-float64'] };

/*
 * Measured on the shipped XGBoost model (300 trees, depth 6; scripts/bench-runtime.ts): block
 * functions of ~12k characters run over all rows at 3.6 µs/row, and running every group over small
 * blocks of rows instead is slower (5.7 µs at 128 rows, 4.3 µs at 8,192): the generated machine
 * code, not the rows, is what must stay hot. A single row prefers few, larger functions
 * (7.2 µs/row at 48k characters against 8.5 µs at 12k).
 */
const DEFAULT_ROW_GROUP_SOURCE = 48_000;
const DEFAULT_BLOCK_GROUP_SOURCE = 12_000;

function literal(v: number): string {
  if (!Number.isFinite(v)) {
    if (Number.isNaN(v)) throw new Error('codegen: NaN literal');
    return v > 0 ? 'Infinity' : '-Infinity';
  }
  return Object.is(v, -0) ? '-0' : String(v);
}

/** A tree as a nested conditional; `leaf` renders a leaf (its value, or its node id in leaf mode). */
function treeExpression(e: TreeEnsemble, node: number, leaf: (node: number) => string): string {
  const l = e.left[node] as number;
  if (l === -1) return leaf(node);
  const x = `x[o+${e.feature[node] as number}]`;
  const t = literal(e.threshold[node] as number);
  const op = SPLIT_SEMANTICS[modeOf(e) as SplitMode];
  // Written so that NaN (every comparison false) lands on the default side without a NaN test.
  const cond = e.defaultLeft[node] === 1 ? `!(${x}${op.right}${t})` : `${x}${op.left}${t}`;
  return `(${cond}?${treeExpression(e, l, leaf)}:${treeExpression(e, e.right[node] as number, leaf)})`;
}

/** Statements in functions of at most about `limit` characters of source each. */
function group(statements: readonly string[], limit: number): string[] {
  const groups: string[] = [];
  let current = '';
  for (const stmt of statements) {
    if (current.length > 0 && current.length + stmt.length > limit) {
      groups.push(current);
      current = '';
    }
    current += `${stmt}\n`;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

export function compileEnsemble(e: TreeEnsemble, options: CodegenOptions = {}): CompiledEnsemble {
  if (e.maxDepth > MAX_COMPILED_DEPTH) throw new Error(`codegen: trees deeper than ${MAX_COMPILED_DEPTH}`);
  if (!supports(CODEGEN, e)) throw new Error(`codegen: unsupported split mode ${e.comparison} on ${e.rowType} rows`);
  const f32 = e.accumulation === 'float32';
  const value = (node: number) => literal(e.leafValue[node] as number);
  const statements: string[] = [];
  for (let t = 0; t < e.treeCount; t++) {
    const expr = treeExpression(e, e.roots[t] as number, value);
    statements.push(f32 ? `m=F(m+${expr});` : `m+=${expr};`);
  }

  type RowFn = (x: Rows, o: number, m: number) => number;
  type BlockFn = (x: Rows, n: number, stride: number, out: Float64Array) => void;
  // new Function over generated, number-only source (see the module comment).
  const rowGroups = group(statements, options.rowGroupSource ?? DEFAULT_ROW_GROUP_SOURCE);
  const blockGroups = group(statements, options.blockGroupSource ?? DEFAULT_BLOCK_GROUP_SOURCE);
  const rowFns = rowGroups.map(
    (code) => new Function('F', `return function(x,o,m){\n${code}return m;}`)(Math.fround) as RowFn,
  );
  const blockFns = blockGroups.map(
    (code) =>
      new Function(
        'F',
        `return function(x,n,stride,out){for(let r=0,o=0;r<n;r++,o+=stride){let m=out[r];\n${code}out[r]=m;}}`,
      )(Math.fround) as BlockFn,
  );
  const sourceBytes = [...rowGroups, ...blockGroups].reduce((a, c) => a + c.length, 0);

  type LeafFn = (x: Rows, o: number, out: Int32Array) => void;
  let leafFns: LeafFn[] | undefined;
  const leafMode = (): LeafFn[] => {
    const id = (node: number) => String(node);
    const leafStatements = Array.from(
      { length: e.treeCount },
      (_, t) => `out[${t}]=${treeExpression(e, e.roots[t] as number, id)};`,
    );
    return group(leafStatements, options.rowGroupSource ?? DEFAULT_ROW_GROUP_SOURCE).map(
      (code) => new Function(`return function(x,o,out){\n${code}}`)() as LeafFn,
    );
  };

  const base = e.baseMargin;
  return {
    groups: blockFns.length,
    sourceBytes,
    leafIndices(x, offset, out) {
      leafFns ??= leafMode();
      for (const fn of leafFns) fn(x, offset, out);
      return out;
    },
    margin(x, offset) {
      let m = base;
      for (let g = 0; g < rowFns.length; g++) m = (rowFns[g] as RowFn)(x, offset, m);
      return m;
    },
    margins(x, n, stride, out) {
      out.fill(base, 0, n);
      for (let g = 0; g < blockFns.length; g++) (blockFns[g] as BlockFn)(x, n, stride, out);
    },
  };
}
