import type { TreeEnsemble } from './trees.js';

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
  margin(x: Float32Array, offset: number): number;
  /** Margins of `n` consecutive rows of `stride` values each, written to `out`. */
  margins(x: Float32Array, n: number, stride: number, out: Float64Array): void;
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

function treeExpression(e: TreeEnsemble, node: number): string {
  const l = e.left[node] as number;
  if (l === -1) return literal(e.leafValue[node] as number);
  const x = `x[o+${e.feature[node] as number}]`;
  const t = literal(e.threshold[node] as number);
  const dl = e.defaultLeft[node] === 1;
  // Written so that NaN (every comparison false) lands on the default side without a NaN test.
  const cond = e.comparison === 'lt' ? (dl ? `!(${x}>=${t})` : `${x}<${t}`) : dl ? `!(${x}>${t})` : `${x}<=${t}`;
  return `(${cond}?${treeExpression(e, l)}:${treeExpression(e, e.right[node] as number)})`;
}

export function compileEnsemble(e: TreeEnsemble, options: CodegenOptions = {}): CompiledEnsemble {
  if (e.maxDepth > MAX_COMPILED_DEPTH) throw new Error(`codegen: trees deeper than ${MAX_COMPILED_DEPTH}`);
  const f32 = e.accumulation === 'float32';
  const statements: string[] = [];
  for (let t = 0; t < e.treeCount; t++) {
    const expr = treeExpression(e, e.roots[t] as number);
    statements.push(f32 ? `m=F(m+${expr});` : `m+=${expr};`);
  }
  const group = (limit: number): string[] => {
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
  };

  type RowFn = (x: Float32Array, o: number, m: number) => number;
  type BlockFn = (x: Float32Array, n: number, stride: number, out: Float64Array) => void;
  // new Function over generated, number-only source (see the module comment).
  const rowGroups = group(options.rowGroupSource ?? DEFAULT_ROW_GROUP_SOURCE);
  const blockGroups = group(options.blockGroupSource ?? DEFAULT_BLOCK_GROUP_SOURCE);
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

  const base = e.baseMargin;
  return {
    groups: blockFns.length,
    sourceBytes,
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
