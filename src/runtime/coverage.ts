import { goesLeft } from './split.js';
import { leafIndex, postOrder, type TreeEnsemble } from './trees.js';

/**
 * Feature rows that, together, reach every reachable leaf of every tree of an ensemble.
 *
 * What they are for: warming up generated tree code (warm.ts). V8 optimises a function with the type
 * feedback its comparisons have collected, and a comparison that never ran has none: optimised code
 * that reaches it gives up ("insufficient type feedback") and falls back to the interpreter until it
 * is optimised again. Each tree node of the generated code is such a comparison, so a model warmed on
 * ordinary loans stayed slow on the first loans that took new paths (measured: 20–150 ms instead of
 * 4 ms per 1,000-loan batch for ~30 batches, whenever a new set of loans arrived). Rows that visit
 * every node leave no comparison without feedback.
 *
 * How: a row is built tree after tree; in each tree it walks from the root, and at a split on a column
 * the row has not fixed yet it goes towards the child with more leaves not yet covered, narrowing the
 * values that column may take. Values are ordered float32s (the libraries compare in float32), so a
 * column's allowed values are an interval of them, and each split cuts it at the smallest float32
 * that goes right, found with the one split rule (split.ts). Columns no split constrained are NaN.
 * The row is then walked with the reference walker and the leaves it really reaches are marked, so
 * the coverage counted is always true. Leaves the greedy rows miss get a row of their own, built
 * along their path, where a column no value can satisfy is left missing when every split on it sends
 * missing values the path's way (some leaves are reached only by missing values). The shipped XGBoost model (300 trees, 13,249 leaves) needs a
 * few hundred rows instead of one per leaf. A leaf whose path is contradictory is unreachable and
 * counted apart.
 *
 * Split modes (split.ts): the intervals are float32 ones in every mode, and a row of float32 values goes
 * the same way whether the ensemble compares float32 rows (`lt`, `le`) or doubles (`le-float64`: a
 * float32 is a double). For a `le-float64` ensemble the rows are handed out as doubles (the evaluator's
 * row type, so the warm-up feeds the generated code the arrays it will score); a leaf that only a double
 * strictly between two float32s could reach would be counted unreachable and left unwarmed (scoring is
 * unaffected). test/runtime/coverage.test.ts checks that the shipped models have no such leaf.
 */

const f32 = new Float32Array(1);
const bits = new Int32Array(f32.buffer);
const TWO_31 = 2 ** 31;

/** A float32's place in the order of float32s, as an integer (−0 and +0 share 0). */
function keyOf(x: number): number {
  f32[0] = x;
  const s = bits[0] as number;
  return s >= 0 ? s : -s - TWO_31;
}

/** The float32 whose key is `k`. */
function floatOfKey(k: number): number {
  bits[0] = k >= 0 ? k : (-k - TWO_31) | 0;
  return f32[0] as number;
}

const KEY_MIN = keyOf(Number.NEGATIVE_INFINITY);
/** One past the largest key (+Infinity's): intervals are [lo, hi). */
const KEY_END = keyOf(Number.POSITIVE_INFINITY) + 1;

export interface CoveringRows {
  /** Row-major, `columnCount` values a row, of the ensemble's `rowType`. */
  readonly rows: Float32Array | Float64Array;
  readonly count: number;
  /** Leaves in the ensemble, those some row reaches, and those no row can reach (contradictory paths). */
  readonly leaves: number;
  readonly covered: number;
  readonly unreachable: number;
}

/**
 * The key of the smallest float32 that goes right at a split on `threshold`: the left values are
 * the keys below it. (Non-NaN values go left or right by one comparison: a cut in float32 order.)
 */
function cutKey(threshold: number, lt: boolean): number {
  const t = Math.fround(threshold);
  for (const k of [keyOf(t) - 1, keyOf(t), keyOf(t) + 1]) {
    if (k >= KEY_MIN && k < KEY_END && !goesLeft(floatOfKey(k), threshold, false, lt)) return k;
  }
  return KEY_END; // nothing goes right (a threshold of +Infinity)
}

export function leafCoveringRows(e: TreeEnsemble): CoveringRows {
  const lt = e.comparison === 'lt';
  const width = e.columnCount;
  const nodes = e.left.length;
  const cut = new Float64Array(nodes);
  const parent = new Int32Array(nodes).fill(-1);
  let leaves = 0;
  for (let n = 0; n < nodes; n++) {
    const l = e.left[n] as number;
    if (l === -1) {
      leaves++;
      continue;
    }
    cut[n] = cutKey(e.threshold[n] as number, lt);
    parent[l] = n;
    parent[e.right[n] as number] = n;
  }

  const covered = new Uint8Array(nodes);
  const unreachable = new Uint8Array(nodes);
  /** Leaves under each node that no row reaches yet (and are not known unreachable). */
  const open = new Int32Array(nodes);
  const lo = new Float64Array(width);
  const hi = new Float64Array(width);
  /** Columns a split of the row's path tested (the others are left missing). */
  const fixed = new Uint8Array(width);
  /** Columns a row must leave missing (NaN) to follow a path only missing values take. */
  const missing = new Uint8Array(width);
  const found: Float32Array[] = [];
  const row = new Float32Array(width);
  let coveredCount = 0;
  let unreachableCount = 0;

  // Children before parents, computed once: the open-leaf counts are refreshed after every row.
  const order = postOrder(e);
  const countOpen = (): number => {
    for (const n of order) {
      const l = e.left[n] as number;
      open[n] =
        l === -1
          ? covered[n] || unreachable[n]
            ? 0
            : 1
          : (open[l] as number) + (open[e.right[n] as number] as number);
    }
    let total = 0;
    for (let tree = 0; tree < e.treeCount; tree++) total += open[e.roots[tree] as number] as number;
    return total;
  };

  /** Narrows column c to the side `left` of split n, if any value is left; says whether it could. */
  const take = (n: number, left: boolean): boolean => {
    const c = e.feature[n] as number;
    const k = cut[n] as number;
    fixed[c] = 1;
    if (left) {
      if ((lo[c] as number) >= k) return false;
      if ((hi[c] as number) > k) hi[c] = k;
    } else {
      if ((hi[c] as number) <= k) return false;
      if ((lo[c] as number) < k) lo[c] = k;
    }
    return true;
  };
  const canGo = (n: number, left: boolean): boolean => {
    const c = e.feature[n] as number;
    const k = cut[n] as number;
    return left ? (lo[c] as number) < k : (hi[c] as number) > k;
  };

  /** Writes the row the intervals describe, walks it, marks what it reaches; answers the new leaves. */
  const emit = (): number => {
    for (let c = 0; c < width; c++) {
      const a = lo[c] as number;
      const b = hi[c] as number;
      row[c] = missing[c] || !fixed[c] ? Number.NaN : floatOfKey(a === KEY_MIN ? b - 1 : a);
    }
    let fresh = 0;
    for (let tree = 0; tree < e.treeCount; tree++) {
      const leaf = leafIndex(e, tree, row, 0);
      if (!covered[leaf]) {
        covered[leaf] = 1;
        coveredCount++;
        fresh++;
      }
    }
    if (fresh > 0) found.push(row.slice());
    return fresh;
  };

  const reset = () => {
    lo.fill(KEY_MIN);
    hi.fill(KEY_END);
    fixed.fill(0);
    missing.fill(0);
  };

  let remaining = countOpen();
  for (let attempt = 0; remaining > 0; attempt++) {
    // A greedy row, starting at a different tree each time so no tree always chooses first.
    reset();
    const first = attempt % e.treeCount;
    for (let i = 0; i < e.treeCount; i++) {
      let n = e.roots[(first + i) % e.treeCount] as number;
      for (let l = e.left[n] as number; l !== -1; l = e.left[n] as number) {
        const r = e.right[n] as number;
        const goLeft = canGo(n, true) && (!canGo(n, false) || (open[l] as number) >= (open[r] as number));
        take(n, goLeft);
        n = goLeft ? l : r;
      }
    }
    if (emit() > 0) {
      remaining = countOpen();
      continue;
    }
    // The greedy row found nothing new: aim at one open leaf along its own path, or learn it is unreachable.
    let target = -1;
    for (let n = 0; n < nodes && target < 0; n++) {
      if (e.left[n] === -1 && !covered[n] && !unreachable[n]) target = n;
    }
    reset();
    const steps: { node: number; left: boolean }[] = [];
    for (let child = target, n = parent[target] as number; n !== -1; child = n, n = parent[n] as number) {
      steps.push({ node: n, left: e.left[n] === child });
    }
    let reachable = true;
    for (const column of new Set(steps.map((s) => e.feature[s.node] as number))) {
      const on = steps.filter((s) => e.feature[s.node] === column);
      if (on.every((s) => take(s.node, s.left))) continue;
      // No value of the column takes every step; a missing one may (each split's default direction).
      lo[column] = KEY_MIN;
      hi[column] = KEY_END;
      fixed[column] = 0;
      if (on.every((s) => (e.defaultLeft[s.node] === 1) === s.left)) missing[column] = 1;
      else reachable = false;
    }
    if (!reachable || (emit() === 0 && !covered[target])) {
      // Contradictory splits on one path (or a threshold no float32 separates): no row gets there.
      unreachable[target] = 1;
      unreachableCount++;
    }
    remaining = countOpen();
  }

  const rows =
    e.rowType === 'float64' ? new Float64Array(found.length * width) : new Float32Array(found.length * width);
  found.forEach((r, i) => {
    rows.set(r, i * width);
  });
  return { rows, count: found.length, leaves, covered: coveredCount, unreachable: unreachableCount };
}
