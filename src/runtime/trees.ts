import type { DocumentReader } from './check.js';
import { type Comparison, goesLeft, type RowType, splitMode } from './split.js';

/**
 * A tree ensemble as flat parallel arrays, one entry per node across all trees (treelite / leaves
 * style). Built once from a validated artifact, so the walkers can trust every index.
 *
 * Row values are float32 (`Float32Array` rows) for XGBoost and scikit-learn's GradientBoostingClassifier,
 * which cast the input to float32 before comparing, XGBoost with `x < threshold` (thresholds are float32),
 * scikit-learn with `x <= threshold` (thresholds are doubles); doubles (`Float64Array` rows) for
 * HistGradientBoostingClassifier, which compares `x <= threshold` in float64 (`rowType`). NaN takes the
 * node's default direction. The rule is written once, in split.ts; the walker here is the reference
 * executor the others are checked against.
 */
export interface TreeEnsemble {
  /** `lt`: go left when x < threshold (XGBoost); `le`: when x <= threshold (scikit-learn). See split.ts. */
  readonly comparison: Comparison;
  /** The type of the row values compared (split.ts `SplitMode`): the rows the evaluator allocates. */
  readonly rowType: RowType;
  /** `float32`: the margin is a float32 running sum (XGBoost); `float64`: a double sum (scikit-learn). */
  readonly accumulation: 'float32' | 'float64';
  /** The margin before any tree is added. */
  readonly baseMargin: number;
  readonly columnCount: number;
  readonly treeCount: number;
  /** Global index of each tree's root node. */
  readonly roots: Int32Array;
  /** Global index of the left / right child; -1 at a leaf. */
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** Column index tested at a split node. */
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  /** 1 when a missing (NaN) value goes left. */
  readonly defaultLeft: Uint8Array;
  /** What a leaf adds to the margin (for scikit-learn: learning_rate × value, as sklearn computes it). */
  readonly leafValue: Float64Array;
  /** Depth of the deepest tree (a lone leaf has depth 0). */
  readonly maxDepth: number;
  /**
   * Training weight that reached each node (XGBoost `sum_hessian`, scikit-learn
   * `weighted_n_node_samples`), when the artifact has it: only explanations (TreeSHAP) read it.
   */
  readonly cover?: Float64Array;
}

/** One tree in the loader's terms, before flattening. Indices are local to the tree. */
export interface TreeInput {
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  readonly defaultLeft: Uint8Array;
  /** Leaf contribution at leaf nodes (ignored at split nodes). */
  readonly leafValue: Float64Array;
  /** Node cover, optional: either every tree of an ensemble has it or none does. */
  readonly cover?: Float64Array | undefined;
}

/**
 * Deepest tree accepted (a lone leaf has depth 0). Far above what boosting uses (XGBoost's default
 * max_depth is 6, scikit-learn's 3; the shipped models are 6 and 3), and low enough that every walk
 * over a tree, recursive or not, and every per-depth buffer (TreeSHAP's path is O(depth²)) stays small.
 * A deeper tree is refused at load, naming it.
 */
export const MAX_TREE_DEPTH = 64;

/**
 * Checks every tree and flattens them: child indices in range and both present or both absent,
 * no node reached twice (so no cycle and no shared subtree), depth at most `MAX_TREE_DEPTH`, split
 * features within the row.
 */
export function buildEnsemble(
  r: DocumentReader,
  path: string,
  trees: readonly TreeInput[],
  options: Pick<TreeEnsemble, 'comparison' | 'rowType' | 'accumulation' | 'baseMargin' | 'columnCount'>,
  coverName = 'cover',
): TreeEnsemble {
  if (splitMode(options.comparison, options.rowType) === undefined) {
    r.fail(path, `no split mode compares ${options.comparison} on ${options.rowType} rows (split.ts)`);
  }
  let total = 0;
  let maxDepth = 0;
  const withCover = trees.length > 0 && trees[0]?.cover !== undefined;
  trees.forEach((t, ti) => {
    const n = t.left.length;
    const tp = `${path}[${ti}]`;
    if (n === 0) r.fail(tp, 'a tree needs at least one node');
    for (const [name, arr] of [
      ['right', t.right],
      ['feature', t.feature],
      ['threshold', t.threshold],
      ['default_left', t.defaultLeft],
      ['value', t.leafValue],
    ] as const) {
      if (arr.length !== n) r.fail(tp, `${name} has ${arr.length} entries but the tree has ${n} nodes`);
    }
    if ((t.cover !== undefined) !== withCover) {
      r.fail(
        tp,
        `${withCover ? 'has no' : 'has a'} ${coverName}, unlike the first tree: give it for every tree or none`,
      );
    }
    if (t.cover !== undefined && t.cover.length !== n) {
      r.fail(tp, `${coverName} has ${t.cover.length} entries but the tree has ${n} nodes`);
    }
    // Iterative depth-first walk from the root: every node reached at most once.
    const visited = new Uint8Array(n);
    const stack: number[] = [0];
    const depth: number[] = [0];
    while (stack.length > 0) {
      const node = stack.pop() as number;
      const d = depth.pop() as number;
      if (visited[node]) r.fail(tp, `node ${node} is reached twice: the tree has a cycle or a shared node`);
      visited[node] = 1;
      if (d > MAX_TREE_DEPTH) {
        r.fail(
          tp,
          `is deeper than ${MAX_TREE_DEPTH} levels (node ${node} is at depth ${d}); retrain with a smaller max_depth`,
        );
      }
      if (d > maxDepth) maxDepth = d;
      const L = t.left[node] as number;
      const R = t.right[node] as number;
      if (L === -1 && R === -1) {
        if (!Number.isFinite(t.leafValue[node])) r.fail(tp, `leaf ${node} has a non-finite value`);
        continue;
      }
      if (L < 0 || L >= n || R < 0 || R >= n) {
        r.fail(tp, `node ${node} has child indices (${L}, ${R}) outside 0..${n - 1}`);
      }
      // TreeSHAP divides by a split node's cover and weighs its children by theirs.
      if (t.cover !== undefined) {
        const c = t.cover[node] as number;
        if (!(c > 0 && Number.isFinite(c))) r.fail(tp, `split node ${node} has ${coverName} ${c}; it must be positive`);
        for (const child of [L, R]) {
          const cc = t.cover[child] as number;
          if (!(cc >= 0 && Number.isFinite(cc)))
            r.fail(tp, `node ${child} has ${coverName} ${cc}; it must be finite and ≥ 0`);
        }
      }
      const f = t.feature[node] as number;
      if (f < 0 || f >= options.columnCount) {
        r.fail(tp, `node ${node} splits on feature ${f}, but rows have ${options.columnCount} columns`);
      }
      // ±Infinity is a legal (if odd) threshold; NaN would send every row right silently.
      if (Number.isNaN(t.threshold[node])) r.fail(tp, `node ${node} has a NaN threshold`);
      stack.push(L, R);
      depth.push(d + 1, d + 1);
    }
    total += n;
  });

  const roots = new Int32Array(trees.length);
  const left = new Int32Array(total);
  const right = new Int32Array(total);
  const feature = new Int32Array(total);
  const threshold = new Float64Array(total);
  const defaultLeft = new Uint8Array(total);
  const leafValue = new Float64Array(total);
  const cover = withCover ? new Float64Array(total) : undefined;
  let base = 0;
  trees.forEach((t, ti) => {
    roots[ti] = base;
    for (let i = 0; i < t.left.length; i++) {
      const leaf = t.left[i] === -1;
      left[base + i] = leaf ? -1 : (t.left[i] as number) + base;
      right[base + i] = leaf ? -1 : (t.right[i] as number) + base;
      feature[base + i] = leaf ? 0 : (t.feature[i] as number);
      threshold[base + i] = leaf ? 0 : (t.threshold[i] as number);
      defaultLeft[base + i] = t.defaultLeft[i] ? 1 : 0;
      leafValue[base + i] = leaf ? (t.leafValue[i] as number) : 0;
      if (cover) cover[base + i] = (t.cover as Float64Array)[i] as number;
    }
    base += t.left.length;
  });
  return {
    ...options,
    treeCount: trees.length,
    roots,
    left,
    right,
    feature,
    threshold,
    defaultLeft,
    leafValue,
    maxDepth,
    ...(cover ? { cover } : {}),
  };
}

/** Feature rows of an ensemble's `rowType`. */
export type Rows = Float32Array | Float64Array;

/** The leaf a row reaches in one tree. `x` holds values of the ensemble's `rowType`; the row starts at `offset`. */
export function leafIndex(e: TreeEnsemble, tree: number, x: Rows, offset: number): number {
  const { left, right, feature, threshold, defaultLeft } = e;
  const lt = e.comparison === 'lt';
  let node = e.roots[tree] as number;
  for (;;) {
    const l = left[node] as number;
    if (l === -1) return node;
    const v = x[offset + (feature[node] as number)] as number;
    node = goesLeft(v, threshold[node] as number, defaultLeft[node] === 1, lt) ? l : (right[node] as number);
  }
}

/** The leaf (global node id) a row reaches in every tree, written to `out` (one entry per tree). */
export function leafIndices(e: TreeEnsemble, x: Rows, offset: number, out: Int32Array): Int32Array {
  for (let t = 0; t < e.treeCount; t++) out[t] = leafIndex(e, t, x, offset);
  return out;
}

/**
 * Every node of every tree, children before their parent, tree after tree: the order in which a
 * bottom-up pass (expected values, subtree heights, counts) can fill a node from its children.
 * Without recursion: an explicit stack where a split node is met twice, first to push its children,
 * then, once they are done, to take its place.
 */
export function postOrder(e: TreeEnsemble): Int32Array {
  const order = new Int32Array(e.left.length);
  let k = 0;
  const stack: number[] = [];
  for (let t = 0; t < e.treeCount; t++) {
    stack.push(e.roots[t] as number);
    while (stack.length > 0) {
      const top = stack.pop() as number;
      const node = top < 0 ? ~top : top;
      const l = e.left[node] as number;
      if (l !== -1 && top >= 0) stack.push(~node, e.right[node] as number, l);
      else order[k++] = node;
    }
  }
  return order;
}

/** The ensemble's margin for one row: the plain walker, tree after tree in order. */
export function walkMargin(e: TreeEnsemble, x: Rows, offset: number): number {
  let m = e.baseMargin;
  if (e.accumulation === 'float32') {
    for (let t = 0; t < e.treeCount; t++) m = Math.fround(m + (e.leafValue[leafIndex(e, t, x, offset)] as number));
  } else {
    for (let t = 0; t < e.treeCount; t++) m += e.leafValue[leafIndex(e, t, x, offset)] as number;
  }
  return m;
}
