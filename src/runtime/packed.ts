import { type Accelerator, supports } from './split.js';
import type { Rows, TreeEnsemble } from './trees.js';

/**
 * A tree ensemble packed for scoring one row at a time: a few compact typed arrays instead of
 * megabytes of generated code (codegen.ts).
 *
 * Why: `/predict` scores one loan between an HTTP parse and a JSON answer, and real loans differ
 * from one request to the next. The generated code of the shipped XGBoost model (300 trees of depth
 * 6) is fastest in a tight loop, but a row takes a different path through it each time, and inside
 * the service, with caches full of other work, those paths come from far away: measured under load
 * with different loans, scoring took ~30–40 µs of the server's CPU a request as generated code and
 * ~16 µs packed (README, "Over HTTP"). Packed, the same model is 235 KB of arrays.
 *
 * Layout: every tree is padded to a complete binary tree of the ensemble's depth and stored
 * breadth-first (the children of slot i are 2i+1 and 2i+2), so a step down is arithmetic on the
 * comparison's outcome: no branch to mispredict, no child index to load. Below a leaf that is not at
 * the bottom, padding slots repeat its value, so whichever way a padding split sends a row it ends
 * on that value.
 *
 * Splits compare ranks, not values. For each column, the ensemble's distinct thresholds are sorted
 * once; a row's value becomes its rank, the number of those thresholds below it (`le`, scikit-
 * learn: x > t goes right) or not above it (`lt`, XGBoost: x >= t goes right), and a split on the
 * j-th threshold sends the row right exactly when the rank is at least j + 1. Ranks are exact:
 * the comparisons are the very ones the walker makes (split.ts; test/runtime/conformance.test.ts
 * checks the leaves reached), done once per column and threshold instead of once per node. A missing value (NaN) gets rank -1 and goes its node's
 * default way.
 *
 * Margins are summed tree by tree in order, as the walker does (a float32 running sum for XGBoost,
 * doubles for scikit-learn), so they are bit-for-bit the walker's.
 */
export interface PackedEnsemble {
  margin(x: Rows, offset: number): number;
  /** The leaf (global node id of the ensemble) the row reaches in each tree (conformance tests, debugging). */
  leafIndices(x: Rows, offset: number, out: Int32Array): Int32Array;
  /** Bytes of the packed arrays. */
  readonly bytes: number;
}

/**
 * The split modes the rank layout implements (split.ts): all three. Ranks come from comparing the row's
 * value, as the row holds it (float32 or double), with the double thresholds: the walker's comparison.
 */
export const PACKED: Accelerator = { semantics: ['lt', 'le', 'le-float64'] };

/** Deepest ensemble packed: a tree of depth 10 has 1,023 split slots and 1,024 leaf slots. */
const MAX_PACKED_DEPTH = 10;
/** Padding may multiply the node count by at most this (deep, sparse trees stay with codegen). */
const MAX_PACKED_GROWTH = 8;
/** A split word holds the threshold's rank in 16 bits and the column in 15. */
const MAX_RANKS = 0xffff;
const MAX_COLUMNS = 0x7fff;

/** First index in sorted `a[from, to)` whose value is not below `v`. */
function lowerBound(a: Float64Array, from: number, to: number, v: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Packs `e`, or returns undefined when it is too deep, too wide or padding would bloat it. */
export function packEnsemble(e: TreeEnsemble): PackedEnsemble | undefined {
  const { treeCount, baseMargin, columnCount } = e;
  const depth = e.maxDepth;
  if (!supports(PACKED, e)) return undefined;
  if (depth > MAX_PACKED_DEPTH || columnCount > MAX_COLUMNS) return undefined;
  const splits = (1 << depth) - 1; // split slots per tree
  const leaves = 1 << depth; // leaf slots per tree
  if (treeCount * (splits + leaves) > Math.max(MAX_PACKED_GROWTH * e.left.length, 1024)) return undefined;

  // The distinct thresholds of each column, sorted: column c owns thresholds[start[c], start[c+1]).
  const byColumn: number[][] = Array.from({ length: columnCount }, () => []);
  for (let k = 0; k < e.left.length; k++) {
    if (e.left[k] !== -1) (byColumn[e.feature[k] as number] as number[]).push(e.threshold[k] as number);
  }
  const start = new Int32Array(columnCount + 1);
  const sorted: number[] = [];
  for (let c = 0; c < columnCount; c++) {
    const distinct = [...new Set(byColumn[c])].sort((a, b) => a - b);
    if (distinct.length > MAX_RANKS - 1) return undefined;
    start[c] = sorted.length;
    sorted.push(...distinct);
  }
  start[columnCount] = sorted.length;
  const thresholds = Float64Array.from(sorted);
  const used = Int32Array.from(
    Array.from({ length: columnCount }, (_, c) => c).filter((c) => (start[c + 1] as number) > (start[c] as number)),
  );

  // One 32-bit word per split slot: rank to reach (bits 0-15), column (16-30), missing goes right (31).
  const split = new Int32Array(treeCount * splits);
  const leafValue = new Float64Array(treeCount * leaves);
  const leafNode = new Int32Array(treeCount * leaves); // leaf slot → node id (leafIndices only)
  for (let t = 0; t < treeCount; t++) {
    const stack: number[] = [e.roots[t] as number, 0]; // (node, slot) pairs
    while (stack.length > 0) {
      const slot = stack.pop() as number;
      const node = stack.pop() as number;
      const left = e.left[node] as number;
      if (slot >= splits) {
        leafValue[t * leaves + slot - splits] = e.leafValue[node] as number;
        leafNode[t * leaves + slot - splits] = node;
      } else if (left === -1) {
        // A leaf above the bottom: the padding split (word 0) has this leaf on both sides.
        stack.push(node, 2 * slot + 1, node, 2 * slot + 2);
      } else {
        const c = e.feature[node] as number;
        const j = lowerBound(thresholds, start[c] as number, start[c + 1] as number, e.threshold[node] as number);
        const rank = j - (start[c] as number) + 1;
        split[t * splits + slot] = rank | (c << 16) | ((e.defaultLeft[node] === 1 ? 0 : 1) << 31);
        stack.push(left, 2 * slot + 1, e.right[node] as number, 2 * slot + 2);
      }
    }
  }

  const rank = new Int32Array(columnCount); // the current row's ranks (scoring is synchronous)
  const lt = e.comparison === 'lt'; // the rank counts the thresholds x does not pass left of
  const single = e.accumulation === 'float32';
  const T4 = treeCount - (treeCount % 4);

  /** The leaf slot (0 .. 2^depth - 1) the row reaches in tree t, once the ranks are filled. */
  const leafSlot = (t: number): number => {
    const s = t * splits;
    let i = 0;
    for (let d = 0; d < depth; d++) {
      const w = split[s + i] as number;
      const r = rank[(w >>> 16) & MAX_COLUMNS] as number;
      i = 2 * i + 1 + (+(r >= (w & MAX_RANKS)) | ((w >>> 31) & (r >>> 31)));
    }
    return i - splits;
  };

  const margin = (x: Rows, o: number): number => {
    for (let u = 0; u < used.length; u++) {
      const c = used[u] as number;
      const v = x[o + c] as number;
      const from = start[c] as number;
      if (Number.isNaN(v)) {
        rank[c] = -1;
        continue;
      }
      // Branch-free search: count the thresholds v goes right of (split.ts `passesRight`, written out:
      // a call here costs 1.5x on the shipped models), halving a window.
      let lo = from;
      let n = (start[c + 1] as number) - from;
      while (n > 1) {
        const half = n >>> 1;
        const th = thresholds[lo + half - 1] as number;
        lo += half * +(lt ? th <= v : th < v);
        n -= half;
      }
      if (n === 1) lo += +(lt ? (thresholds[lo] as number) <= v : (thresholds[lo] as number) < v);
      rank[c] = lo - from;
    }

    let m = baseMargin;
    let t = 0;
    // Four trees at a time: four independent descents for the CPU to overlap.
    for (; t < T4; t += 4) {
      const s0 = t * splits;
      const s1 = s0 + splits;
      const s2 = s1 + splits;
      const s3 = s2 + splits;
      let i0 = 0;
      let i1 = 0;
      let i2 = 0;
      let i3 = 0;
      for (let d = 0; d < depth; d++) {
        const w0 = split[s0 + i0] as number;
        const w1 = split[s1 + i1] as number;
        const w2 = split[s2 + i2] as number;
        const w3 = split[s3 + i3] as number;
        const r0 = rank[(w0 >>> 16) & MAX_COLUMNS] as number;
        const r1 = rank[(w1 >>> 16) & MAX_COLUMNS] as number;
        const r2 = rank[(w2 >>> 16) & MAX_COLUMNS] as number;
        const r3 = rank[(w3 >>> 16) & MAX_COLUMNS] as number;
        // right: rank reached, or missing (rank -1) where missing goes right
        i0 = 2 * i0 + 1 + (+(r0 >= (w0 & MAX_RANKS)) | ((w0 >>> 31) & (r0 >>> 31)));
        i1 = 2 * i1 + 1 + (+(r1 >= (w1 & MAX_RANKS)) | ((w1 >>> 31) & (r1 >>> 31)));
        i2 = 2 * i2 + 1 + (+(r2 >= (w2 & MAX_RANKS)) | ((w2 >>> 31) & (r2 >>> 31)));
        i3 = 2 * i3 + 1 + (+(r3 >= (w3 & MAX_RANKS)) | ((w3 >>> 31) & (r3 >>> 31)));
      }
      const l = t * leaves - splits;
      const v0 = leafValue[l + i0] as number;
      const v1 = leafValue[l + leaves + i1] as number;
      const v2 = leafValue[l + 2 * leaves + i2] as number;
      const v3 = leafValue[l + 3 * leaves + i3] as number;
      if (single) m = Math.fround(Math.fround(Math.fround(Math.fround(m + v0) + v1) + v2) + v3);
      else m = m + v0 + v1 + v2 + v3;
    }
    for (; t < treeCount; t++) {
      const v = leafValue[t * leaves + leafSlot(t)] as number;
      m = single ? Math.fround(m + v) : m + v;
    }
    return m;
  };
  return {
    margin,
    leafIndices(x, o, out) {
      margin(x, o); // fills the row's ranks
      for (let t = 0; t < treeCount; t++) out[t] = leafNode[t * leaves + leafSlot(t)] as number;
      return out;
    },
    bytes: split.byteLength + leafValue.byteLength + thresholds.byteLength + start.byteLength,
  };
}
