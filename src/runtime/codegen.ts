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
  /** Upper bound on generated source per group, in characters. */
  readonly maxGroupSource?: number;
}

/** Trees deeper than this are left to the walker (deep recursion, poor code size). */
export const MAX_COMPILED_DEPTH = 48;

const DEFAULT_MAX_GROUP_SOURCE = 12_000;

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
  const limit = options.maxGroupSource ?? DEFAULT_MAX_GROUP_SOURCE;
  const f32 = e.accumulation === 'float32';
  const add = (expr: string) => (f32 ? `m=F(m+${expr});` : `m+=${expr};`);

  const groups: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (let t = 0; t < e.treeCount; t++) {
    const stmt = add(treeExpression(e, e.roots[t] as number));
    if (current.length > 0 && size + stmt.length > limit) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(stmt);
    size += stmt.length;
  }
  if (current.length > 0) groups.push(current);

  type RowFn = (x: Float32Array, o: number, m: number) => number;
  type BlockFn = (x: Float32Array, n: number, stride: number, out: Float64Array) => void;
  const rowFns: RowFn[] = [];
  const blockFns: BlockFn[] = [];
  let sourceBytes = 0;
  for (const body of groups) {
    const code = body.join('\n');
    sourceBytes += code.length;
    // new Function over generated, number-only source (see the module comment).
    rowFns.push(new Function('F', `return function(x,o,m){\n${code}\nreturn m;}`)(Math.fround) as RowFn);
    blockFns.push(
      new Function(
        'F',
        `return function(x,n,stride,out){for(let r=0,o=0;r<n;r++,o+=stride){let m=out[r];\n${code}\nout[r]=m;}}`,
      )(Math.fround) as BlockFn,
    );
  }

  const base = e.baseMargin;
  return {
    groups: groups.length,
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
