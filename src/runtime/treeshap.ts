import { nodeExpectations, type RowExplainer, treeBaseValue } from './explain.js';
import { passesRight, goesLeft as splitGoesLeft } from './split.js';
import { postOrder, type Rows, type TreeEnsemble } from './trees.js';

/**
 * Path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent individualized feature attribution
 * for tree ensembles"), exact, over the flat arrays of a `TreeEnsemble`. Every function here computes what
 * XGBoost's `predict(..., pred_contribs=True)` computes (in double, where XGBoost uses float32):
 *
 * For one tree and a row x, each leaf ℓ with value v plays a game over the features met on its path.
 * Along the path, every split on feature k multiplies its "zero fraction" z_k by the share of training
 * cover that goes the node's way (cover[child] / cover[node]) and its "one fraction" o_k by 1 when x
 * goes that way, else 0 (NaN goes the node's default way). A feature met twice has both factors
 * multiplied. The leaf's value with the features S known is v · Π_{k∈S} o_k · Π_{k∉S} z_k, and its
 * Shapley value for feature i is
 *
 *   φ_i(ℓ) = Σ_{S ⊆ F∖{i}} |S|!(u−1−|S|)!/u! · v · (o_i − z_i) · Π_{k∈S} o_k · Π_{k∈F∖S∖{i}} z_k,
 *
 * u = |F| features on the path. φ_i sums over every leaf of every tree; the base value is the base
 * margin plus each tree's expected value (`nodeExpectations`). Algorithm 2 evaluates the sum with its
 * recursion over permutation weights in O(L·D²) per tree. The Shapley weight is a Beta integral,
 * |S|!(u−1−|S|)!/u! = ∫₀¹ t^|S| (1−t)^(u−1−|S|) dt, so the sum is
 *
 *   φ_i(ℓ) = v · (o_i − z_i) · ∫₀¹ Π_{k∈F∖{i}} (z_k + (o_k − z_k)·t) dt,
 *
 * the integral of a polynomial of degree u−1 ≤ D−1, which Gauss–Legendre quadrature with ⌈D/2⌉ points
 * integrates exactly (this is the identity behind Linear TreeShap, Yu et al. 2022).
 *
 * Three exact evaluations, chosen by `treeShapPlan` (all held to Algorithm 2 and brute force on random
 * ensembles, and to XGBoost's pred_contribs on every reference row; test/runtime/treeshap.test.ts,
 * explain.test.ts):
 *
 * 1. Per-block tables (served when they fit in `TreeShapOptions.tableBytes`, default 32 MiB). o_k is
 *    0 or 1, so a leaf's contributions depend on the row only through the set M of its path features
 *    the row follows: precompute them for every M (the idea of Fast TreeSHAP v2, Yang 2021,
 *    arXiv:2109.09847), and a row's work per leaf is a lookup. Leaves are grouped into blocks, the
 *    subtrees of height ≤ 2 (≤ 3 splits, ≤ 4 leaves): a block's table is indexed by the followed
 *    path features above it (u' bits) and its splits' decisions (≤ 3 bits), and holds the sum of its
 *    leaves' contributions per feature of the block (U columns): U·2^(u'+s) doubles, a quarter of the
 *    lookups of per-leaf tables in three quarters of the memory. A row takes three branch-free
 *    passes: every split's decision, a mask per node above the blocks, one table row per block.
 *    O(N) per row with small constants; O(Σ U·2^(u'+s)) memory, built on the first explanation.
 * 2. The quadrature scan (`scan`), when the tables do not fit and trees are at most 8 deep: one
 *    depth-first pass per tree, O(L·D) per tree, only multiplications in the leaf loop.
 * 3. Algorithm 2 (`treeShapAlgorithm2`, XGBoost's own), for deeper trees.
 *
 * Measured on the shipped XGBoost model (300 trees of depth 6, 26,198 nodes; 1,000 encoded rows,
 * 2-core machine shared with other jobs, each pair in one run; docs/PERFORMANCE.md has the method):
 * quadrature scan ~950 µs a row (what was served before); per-leaf tables (Σ u·2^u = 2.03 M
 * entries, 16 MB) walked by a pre-order scan with branches 743 µs vs 941 for the scan; the same
 * tables in three branch-free passes 503 vs 913 (of which split decisions ~47 µs, masks ~100 µs,
 * ~360 µs the 13,249 random table reads, out of cache); blocks of height 1 (leaf pairs, 9.9 MB)
 * 278 vs 925; blocks of height 2 (11.8 MB, served) 172–240 vs 925–988; blocks of height 3 need more
 * than 32 MB. XGBoost's pred_contribs, one thread, on the same rows: ~1,400–1,750 µs.
 */

/** Gauss–Legendre nodes and weights on [0, 1]: exact for polynomials of degree ≤ 2n − 1. */
export function gaussLegendre01(n: number): { nodes: Float64Array; weights: Float64Array } {
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    // Newton's method on the Legendre polynomial P_n from the usual initial guess.
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 1;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) {
        const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      const pn = n === 1 ? x : p1;
      const pnm1 = n === 1 ? 1 : p0;
      dp = (n * (x * pn - pnm1)) / (x * x - 1);
      const dx = pn / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-16) break;
    }
    nodes[i] = (1 - x) / 2;
    weights[i] = 1 / ((1 - x * x) * dp * dp);
  }
  return { nodes, weights };
}

/**
 * What a row needs to know about each node, laid out in depth-first pre-order (trees one after the
 * other) so that an explanation is one linear scan with no recursion. Everything here depends on the
 * tree only; a row only decides, at each split, which child is "hot" (o = 1).
 *
 * The "edge" of a node is the split of its parent that leads to it: feature f = feature[parent],
 * zero fraction = the product of cover[child] / cover[parent] over every split on f from the root to
 * this node (a feature met again combines with its earlier splits), stored with the polynomial factor
 * it contributes when the row follows the path (o = 1): z + (1 − z)·t_q, and its reciprocal.
 */
/** Quadrature lanes of the scan: Gauss–Legendre with up to 4 nodes, exact for trees up to depth 8. */
const LANES = 4;

interface PreorderLayout {
  readonly size: number;
  /** Quadrature nodes on [0, 1] and their weights, `LANES` of them (weight 0 past the Q used). */
  readonly t: Float64Array;
  readonly w: Float64Array;
  /** 1 − t_q and 1 / (1 − t_q): with o = 0 an edge's factor is z·(1 − t_q). */
  readonly coldFactor: Float64Array;
  readonly coldRecip: Float64Array;
  readonly depth: Int32Array;
  /** 1 when the node is its parent's left child. */
  readonly isLeft: Uint8Array;
  /** Depth of the nearest ancestor edge on the same feature, or −1. */
  readonly previous: Int32Array;
  /** Pre-order position just after this node's subtree (to skip it). */
  readonly skip: Int32Array;
  /** Split nodes: column, threshold, default direction; leaves: feature −1 and the leaf value. */
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  readonly defaultLeft: Uint8Array;
  readonly leafValue: Float64Array;
  /** Edge zero fraction z, 1/z (Infinity when z = 0), and per quadrature node z + (1 − z)·t_q and its reciprocal. */
  readonly zero: Float64Array;
  readonly zeroRecip: Float64Array;
  readonly hotFactor: Float64Array;
  readonly hotRecip: Float64Array;
  /**
   * Leaves: the edges of the path whose feature is not split on again further down (each unique
   * feature's last edge), as depths and columns in `activeDepth` / `activeFeature` [start, end).
   */
  readonly activeStart: Int32Array;
  readonly activeEnd: Int32Array;
  readonly activeDepth: Int32Array;
  readonly activeFeature: Int32Array;
}

function preorderLayout(e: TreeEnsemble, cover: Float64Array): PreorderLayout {
  const size = e.left.length;
  // Exact for paths of up to 2·Q unique features; lanes beyond Q get weight 0.
  const Q = Math.max(1, Math.ceil(e.maxDepth / 2));
  const quadrature = gaussLegendre01(Q);
  const t = new Float64Array(LANES).fill(0.5);
  const w = new Float64Array(LANES);
  t.set(quadrature.nodes);
  w.set(quadrature.weights);
  const coldFactor = Float64Array.from(t, (tq) => 1 - tq);
  const coldRecip = Float64Array.from(t, (tq) => 1 / (1 - tq));
  const depth = new Int32Array(size);
  const isLeft = new Uint8Array(size);
  const previous = new Int32Array(size).fill(-1);
  const skip = new Int32Array(size);
  const feature = new Int32Array(size).fill(-1);
  const threshold = new Float64Array(size);
  const defaultLeft = new Uint8Array(size);
  const leafValue = new Float64Array(size);
  const zero = new Float64Array(size).fill(1);
  const zeroRecip = new Float64Array(size).fill(1);
  const hotFactor = new Float64Array(size * LANES).fill(1);
  const hotRecip = new Float64Array(size * LANES).fill(1);
  const activeStart = new Int32Array(size);
  const activeEnd = new Int32Array(size);
  const activeDepth: number[] = [];
  const activeFeature: number[] = [];

  // The current path: edge feature and combined zero fraction per depth (1..D).
  const edgeFeature = new Int32Array(e.maxDepth + 1).fill(-1);
  const edgeZero = new Float64Array(e.maxDepth + 1);
  let i = 0;
  const place = (node: number, d: number, parent: number, left: boolean): void => {
    const at = i++;
    depth[at] = d;
    if (parent >= 0) {
      isLeft[at] = left ? 1 : 0;
      const f = e.feature[parent] as number;
      let prev = -1;
      for (let a = d - 1; a >= 1; a--) {
        if (edgeFeature[a] === f) {
          prev = a;
          break;
        }
      }
      previous[at] = prev;
      const z = (prev >= 0 ? (edgeZero[prev] as number) : 1) * ((cover[node] as number) / (cover[parent] as number));
      edgeFeature[d] = f;
      edgeZero[d] = z;
      zero[at] = z;
      zeroRecip[at] = 1 / z;
      for (let q = 0; q < LANES; q++) {
        const factor = z + (1 - z) * (t[q] as number);
        hotFactor[at * LANES + q] = factor;
        hotRecip[at * LANES + q] = 1 / factor;
      }
    }
    const l = e.left[node] as number;
    if (l === -1) {
      leafValue[at] = e.leafValue[node] as number;
      activeStart[at] = activeDepth.length;
      for (let a = 1; a <= d; a++) {
        let last = true;
        for (let b = a + 1; b <= d; b++) if (edgeFeature[b] === edgeFeature[a]) last = false;
        if (last) {
          activeDepth.push(a);
          activeFeature.push(edgeFeature[a] as number);
        }
      }
      activeEnd[at] = activeDepth.length;
    } else {
      feature[at] = e.feature[node] as number;
      threshold[at] = e.threshold[node] as number;
      defaultLeft[at] = e.defaultLeft[node] as number;
      place(l, d + 1, node, true);
      place(e.right[node] as number, d + 1, node, false);
    }
    skip[at] = i;
  };
  for (let tree = 0; tree < e.treeCount; tree++) place(e.roots[tree] as number, 0, -1, false);
  return {
    size,
    t,
    w,
    coldFactor,
    coldRecip,
    depth,
    isLeft,
    previous,
    skip,
    feature,
    threshold,
    defaultLeft,
    leafValue,
    zero,
    zeroRecip,
    hotFactor,
    hotRecip,
    activeStart,
    activeEnd,
    activeDepth: Int32Array.from(activeDepth),
    activeFeature: Int32Array.from(activeFeature),
  };
}

/** Options of `treeShapPlan`. */
export interface TreeShapOptions {
  /** Most table memory, in bytes, before falling back to the quadrature scan (default 32 MiB). */
  readonly tableBytes?: number;
}

export const DEFAULT_TABLE_BYTES = 32 * 1024 * 1024;
/** Most unique features on a path that a table is built for (2^u·u entries for the leaf). */
const MAX_TABLE_FEATURES = 16;

interface TableLayout {
  /** Every split (upper and in blocks): column, threshold, 1 when a missing value goes right. */
  readonly splitFeature: Int32Array;
  readonly splitThreshold: Float64Array;
  readonly splitMissingRight: Int32Array;
  /**
   * Upper nodes (pre-order: splits above the blocks, and the blocks' roots), then one more, the
   * roots' sentinel parent (mask −1): the parent's upper index, the parent's split, 1 for a right
   * child, and the bit of the edge's feature in the path mask (its order of first appearance on the
   * path, so every node below numbers its path features 0..u−1 alike; 0 for a root).
   */
  readonly parent: Int32Array;
  readonly parentSplit: Int32Array;
  readonly isRight: Int32Array;
  readonly bit: Int32Array;
  /**
   * Blocks grouped by width U (group U holds blocks [groupStart[U], groupStart[U+1])): the upper
   * index of the block's root, u' (its path features: bits 0..u'−1 of the index), its (up to
   * `BLOCK_SPLITS`) splits, padded with the always-0 decision `splitFeature.length`, and the first
   * entry of its table.
   */
  readonly groupStart: Int32Array;
  readonly blockRoot: Int32Array;
  readonly blockPath: Int32Array;
  readonly blockSplit: Int32Array;
  readonly tableStart: Int32Array;
  /** The U columns of each block, block after block in group order. */
  readonly slotFeature: Int32Array;
  readonly table: Float64Array;
  /** Per-row scratch: split decisions (and the padding 0) and upper-node masks. */
  readonly decision: Int32Array;
  readonly mask: Int32Array;
}

/** Blocks are subtrees of height ≤ 2: at most 3 splits, 4 leaves. */
const BLOCK_HEIGHT = 2;
const BLOCK_SPLITS = 3;

/** A leaf inside a block, and what its table is computed from. */
interface BlockLeaf {
  readonly value: number;
  /** The leaf's path features in its own slot order (the block root's u' first) and their zero fractions. */
  readonly zero: number[];
  /** Each slot's column among the block's U. */
  readonly column: number[];
  /** The block's edges on the way down: block split j, 1 when the edge goes right, the leaf slot. */
  readonly edges: { split: number; right: number; slot: number }[];
}

interface Block {
  readonly root: number;
  readonly path: number;
  readonly splits: number[];
  readonly features: number[];
  readonly leaves: BlockLeaf[];
}

/** The number of table entries `e` needs, or undefined past `maxEntries` (see `tableLayout`). */
function tableEntries(e: TreeEnsemble, cover: Float64Array, maxEntries: number): number | undefined {
  const counted = tableLayout(e, cover, maxEntries, true);
  return typeof counted === 'number' ? counted : undefined;
}

/**
 * The table layout, or undefined when the tables would exceed `maxEntries` entries (or a block has
 * more than `MAX_TABLE_FEATURES` features). `countOnly`: the same walk, returning the number of
 * entries without computing a table.
 */
function tableLayout(e: TreeEnsemble, cover: Float64Array, maxEntries: number): TableLayout | undefined;
function tableLayout(e: TreeEnsemble, cover: Float64Array, maxEntries: number, countOnly: true): number | undefined;
function tableLayout(
  e: TreeEnsemble,
  cover: Float64Array,
  maxEntries: number,
  countOnly = false,
): TableLayout | number | undefined {
  const size = e.left.length;
  // Height of every node's subtree (a leaf: 0), children before parents.
  const height = new Int32Array(size);
  for (const node of postOrder(e)) {
    const l = e.left[node] as number;
    if (l !== -1) height[node] = 1 + Math.max(height[l] as number, height[e.right[node] as number] as number);
  }
  const parent: number[] = [];
  const parentSplit: number[] = [];
  const isRight: number[] = [];
  const bit: number[] = [];
  const splitFeature: number[] = [];
  const splitThreshold: number[] = [];
  const splitMissingRight: number[] = [];
  const addSplit = (node: number): number => {
    splitFeature.push(e.feature[node] as number);
    splitThreshold.push(e.threshold[node] as number);
    splitMissingRight.push(e.defaultLeft[node] === 1 ? 0 : 1);
    return splitFeature.length - 1;
  };
  const blocks: Block[] = [];
  const pathFeature: number[] = [];
  const pathZero: number[] = [];
  let entries = 0;

  /** The block below `node` (its root's upper index `root`), with the current path as its u' features. */
  const block = (node: number, root: number): boolean => {
    const features = [...pathFeature];
    const splits: number[] = [];
    const leaves: BlockLeaf[] = [];
    const walk = (n: number, zero: number[], column: number[], edges: BlockLeaf['edges']): void => {
      const l = e.left[n] as number;
      if (l === -1) {
        if (!countOnly) leaves.push({ value: e.leafValue[n] as number, zero, column, edges });
        return;
      }
      const j = splits.length;
      splits.push(addSplit(n));
      const f = e.feature[n] as number;
      let c = features.indexOf(f);
      if (c < 0) c = features.push(f) - 1;
      for (const [child, right] of [
        [l, 0],
        [e.right[n] as number, 1],
      ] as const) {
        const z = [...zero];
        const col = [...column];
        let slot = col.indexOf(c);
        if (slot < 0) {
          slot = col.push(c) - 1;
          z.push(1);
        }
        z[slot] = (z[slot] as number) * ((cover[child] as number) / (cover[n] as number));
        walk(child, z, col, [...edges, { split: j, right, slot }]);
      }
    };
    walk(
      node,
      [...pathZero],
      pathFeature.map((_, s) => s),
      [],
    );
    if (features.length > MAX_TABLE_FEATURES) return false;
    entries += features.length * 2 ** (pathFeature.length + splits.length);
    blocks.push({ root, path: pathFeature.length, splits, features, leaves });
    return entries <= maxEntries;
  };

  // Returns false as soon as the tables would not fit. Recursion depth ≤ MAX_TREE_DEPTH (trees.ts).
  const place = (node: number, up: number, upNode: number, upSplit: number, right: number): boolean => {
    const at = parent.length;
    parent.push(up);
    parentSplit.push(upSplit);
    isRight.push(right);
    let slot = -1;
    let added = false;
    let saved = 1;
    if (upNode >= 0) {
      const f = splitFeature[upSplit] as number;
      slot = pathFeature.indexOf(f);
      if (slot < 0) {
        slot = pathFeature.length;
        if (slot >= MAX_TABLE_FEATURES) return false;
        pathFeature.push(f);
        pathZero.push(1);
        added = true;
      }
      saved = pathZero[slot] as number;
      pathZero[slot] = saved * ((cover[node] as number) / (cover[upNode] as number));
    }
    bit.push(slot < 0 ? 0 : 1 << slot);
    let ok: boolean;
    if ((height[node] as number) <= BLOCK_HEIGHT) ok = block(node, at);
    else {
      const k = addSplit(node);
      ok = place(e.left[node] as number, at, node, k, 0) && place(e.right[node] as number, at, node, k, 1);
    }
    if (added) {
      pathFeature.pop();
      pathZero.pop();
    } else if (slot >= 0) {
      pathZero[slot] = saved;
    }
    return ok;
  };
  const SENTINEL = -1;
  for (let tree = 0; tree < e.treeCount; tree++) {
    if (!place(e.roots[tree] as number, SENTINEL, -1, 0, 0)) return undefined;
  }
  if (countOnly) return entries;
  const upper = parent.length;
  // The sentinel: roots' parent is the last upper entry, whose mask stays −1.
  for (let i = 0; i < upper; i++) if (parent[i] === SENTINEL) parent[i] = upper;
  parent.push(upper);
  parentSplit.push(0);
  isRight.push(0);
  bit.push(0);
  const zeroDecision = splitFeature.length;

  // Blocks by width U (stable: pre-order within a group), each group's tables one after the other.
  const groups = MAX_TABLE_FEATURES + 1;
  const groupStart = new Int32Array(groups + 1);
  for (const b of blocks) groupStart[b.features.length + 1] = (groupStart[b.features.length + 1] as number) + 1;
  for (let u = 1; u <= groups; u++) groupStart[u] = (groupStart[u] as number) + (groupStart[u - 1] as number);
  const ordered = [...blocks].sort((x, y) => x.features.length - y.features.length);
  const blockRoot = new Int32Array(ordered.length);
  const blockPath = new Int32Array(ordered.length);
  const blockSplit = new Int32Array(ordered.length * BLOCK_SPLITS).fill(zeroDecision);
  const tableStart = new Int32Array(ordered.length);
  const slotFeature: number[] = [];
  const table = new Float64Array(entries);
  const quadrature = Array.from({ length: MAX_TABLE_FEATURES / 2 + 1 }, (_, q) => gaussLegendre01(Math.max(1, q)));
  let start = 0;
  ordered.forEach((b, g) => {
    const U = b.features.length;
    blockRoot[g] = b.root;
    blockPath[g] = b.path;
    b.splits.forEach((k, j) => {
      blockSplit[g * BLOCK_SPLITS + j] = k;
    });
    tableStart[g] = start;
    slotFeature.push(...b.features);
    fillBlockTable(table, start, b, quadrature);
    start += U * 2 ** (b.path + b.splits.length);
  });
  return {
    splitFeature: Int32Array.from(splitFeature),
    splitThreshold: Float64Array.from(splitThreshold),
    splitMissingRight: Int32Array.from(splitMissingRight),
    parent: Int32Array.from(parent),
    parentSplit: Int32Array.from(parentSplit),
    isRight: Int32Array.from(isRight),
    bit: Int32Array.from(bit),
    groupStart,
    blockRoot,
    blockPath,
    blockSplit,
    tableStart,
    slotFeature: Int32Array.from(slotFeature),
    table,
    decision: new Int32Array(zeroDecision + 1),
    mask: new Int32Array(upper + 1).fill(-1),
  };
}

type Quadrature = { nodes: Float64Array; weights: Float64Array };

/**
 * One block's table: for each index (bits 0..u'−1: the block root's path features followed so far;
 * bit u'+j: block split j sends the row right), the sum over the block's leaves of each leaf's
 * contributions, by column of the block. A leaf's followed set is the index's path bits, less each
 * feature whose block edge the row does not take; its contributions come from its own table
 * (`fillLeafTable`, indexed in its slot order).
 */
function fillBlockTable(table: Float64Array, start: number, b: Block, quadrature: readonly Quadrature[]): void {
  const U = b.features.length;
  const rows = 2 ** (b.path + b.splits.length);
  const low = (1 << b.path) - 1;
  for (const leaf of b.leaves) {
    const u = leaf.zero.length;
    const own = new Float64Array(u * 2 ** u);
    fillLeafTable(own, 0, leaf.value, leaf.zero, quadrature[Math.ceil(u / 2)] as Quadrature);
    for (let index = 0; index < rows; index++) {
      let m = (index & low) | ~low; // slots past u' start followed
      for (const edge of leaf.edges) {
        const right = (index >> (b.path + edge.split)) & 1;
        if (right !== edge.right) m &= ~(1 << edge.slot);
      }
      const from = (m & ((1 << u) - 1)) * u;
      const row = start + index * U;
      for (let s = 0; s < u; s++) {
        const c = leaf.column[s] as number;
        table[row + c] = (table[row + c] as number) + (own[from + s] as number);
      }
    }
  }
}

/**
 * One leaf's table: for each set M of its u path features (bit s = slot s followed, o_s = 1),
 * φ_s = v · (o_s − z_s) · ∫₀¹ Π_{k≠s} (z_k + (o_k − z_k)·t) dt by Gauss–Legendre (exact: degree u − 1),
 * the products over k ≠ s taken as prefix × suffix so nothing is divided.
 */
function fillLeafTable(
  table: Float64Array,
  start: number,
  v: number,
  zero: readonly number[],
  quadrature: Quadrature,
): void {
  const u = zero.length;
  const { nodes, weights } = quadrature;
  const Q = nodes.length;
  const factor = new Float64Array(u * Q);
  const suffix = new Float64Array((u + 1) * Q);
  const prefix = new Float64Array(Q);
  for (let M = 0; M < 2 ** u; M++) {
    for (let s = 0; s < u; s++) {
      const o = (M >> s) & 1;
      const z = zero[s] as number;
      for (let q = 0; q < Q; q++) factor[s * Q + q] = z + (o - z) * (nodes[q] as number);
    }
    for (let q = 0; q < Q; q++) suffix[u * Q + q] = 1;
    for (let s = u - 1; s >= 0; s--) {
      for (let q = 0; q < Q; q++)
        suffix[s * Q + q] = (suffix[(s + 1) * Q + q] as number) * (factor[s * Q + q] as number);
    }
    const row = start + M * u;
    prefix.fill(1);
    for (let s = 0; s < u; s++) {
      let integral = 0;
      for (let q = 0; q < Q; q++)
        integral += (weights[q] as number) * (prefix[q] as number) * (suffix[(s + 1) * Q + q] as number);
      const o = (M >> s) & 1;
      table[row + s] = v * (o - (zero[s] as number)) * integral;
      for (let q = 0; q < Q; q++) prefix[q] = (prefix[q] as number) * (factor[s * Q + q] as number);
    }
  }
}

/**
 * A row through the tables, in three branch-free passes over the whole ensemble: (1) every split's
 * decision (1 = right; a missing value takes the node's default side); (2) every upper node's mask,
 * its parent's mask without the edge's feature bit when the row goes the other way (a feature met
 * again stays cleared once cleared); (3) every block, group by group so the inner loop runs U times
 * for the whole group, adds its table's row at the index made of its root's mask (bits 0..u'−1) and
 * its splits' decisions. An edge not followed whose feature's zero fraction is 0 needs no special
 * case: every entry of the tables below it is exactly 0.
 */
function tableScan(
  L: TableLayout,
  lt: boolean,
  x: Float32Array | Float64Array,
  offset: number,
  out: Float64Array,
): void {
  const { splitFeature, splitThreshold, splitMissingRight, parent, parentSplit, isRight, bit } = L;
  const { groupStart, blockRoot, blockPath, blockSplit, tableStart, slotFeature, table, decision, mask } = L;
  const splits = splitFeature.length;
  for (let k = 0; k < splits; k++) {
    const v = x[offset + (splitFeature[k] as number)] as number;
    // split.ts `passesRight` is false for NaN, which then goes right only where its default is right.
    decision[k] =
      +passesRight(v, splitThreshold[k] as number, lt) | ((splitMissingRight[k] as number) & +Number.isNaN(v));
  }
  const upper = parent.length - 1;
  for (let i = 0; i < upper; i++) {
    const away = (decision[parentSplit[i] as number] as number) ^ (isRight[i] as number);
    mask[i] = (mask[parent[i] as number] as number) & ~((bit[i] as number) & -away);
  }
  let slot = 0; // blocks of width 0 (trees that are a lone leaf) have no columns
  for (let U = 1; U < groupStart.length - 1; U++) {
    const end = groupStart[U + 1] as number;
    for (let g = groupStart[U] as number; g < end; g++) {
      const p = blockPath[g] as number;
      const s = g * BLOCK_SPLITS;
      const index =
        ((mask[blockRoot[g] as number] as number) & ((1 << p) - 1)) |
        ((decision[blockSplit[s] as number] as number) << p) |
        ((decision[blockSplit[s + 1] as number] as number) << (p + 1)) |
        ((decision[blockSplit[s + 2] as number] as number) << (p + 2));
      const row = (tableStart[g] as number) + index * U;
      for (let k = 0; k < U; k++) {
        const j = slotFeature[slot + k] as number;
        out[j] = (out[j] as number) + (table[row + k] as number);
      }
      slot += U;
    }
  }
}

/** Row-dependent state per depth of the current path, allocated once per explainer. */
interface ScanState {
  /** At the split at this depth, does the row go left? */
  readonly goesLeft: Uint8Array;
  /** o of the edge into this depth (0 when an earlier edge on the same feature was not followed). */
  readonly follows: Uint8Array;
  readonly zeroAt: Float64Array;
  /** 1 / factor of the edge into this depth, per quadrature node. */
  readonly recipAt: Float64Array;
  /** Π of the path's unique features' factors down to this depth, per quadrature node. */
  readonly product: Float64Array;
}

/**
 * Exact path-dependent TreeSHAP for `e` (`treeShapPlan`'s choice of method); undefined when the
 * ensemble has no node covers.
 */
export function treeShapExplainer(e: TreeEnsemble, options: TreeShapOptions = {}): RowExplainer | undefined {
  return treeShapPlan(e, options)?.explain;
}

/** The explainer chosen for an ensemble, how, and the memory its precomputation holds. */
export interface TreeShapPlan {
  readonly explain: RowExplainer;
  /** `tables`: per-block tables; `quadrature`: the pre-order scan; `algorithm2`: the reference. */
  readonly method: 'tables' | 'quadrature' | 'algorithm2';
  /** Bytes of the tables (0 for the other methods), allocated on the first explanation. */
  readonly tableBytes: number;
}

/**
 * Picks the fastest exact method that fits: per-block tables when they fit in
 * `options.tableBytes` (default `DEFAULT_TABLE_BYTES`), else the quadrature scan for trees up to
 * depth 8, else Algorithm 2. Undefined when the ensemble has no node covers.
 */
export function treeShapPlan(e: TreeEnsemble, options: TreeShapOptions = {}): TreeShapPlan | undefined {
  const cover = e.cover;
  if (cover === undefined) return undefined;
  const lt = e.comparison === 'lt';
  const columnCount = e.columnCount;
  const entries = tableEntries(e, cover, Math.floor((options.tableBytes ?? DEFAULT_TABLE_BYTES) / 8));
  if (entries !== undefined) {
    const base = treeBaseValue(e, nodeExpectations(e, cover));
    // Built on the first explanation: a model (or a worker) that only scores never pays for them.
    let tables: TableLayout | undefined;
    const explain: RowExplainer = (x, offset, out) => {
      tables ??= tableLayout(e, cover, entries) as TableLayout;
      out.fill(0, 0, columnCount);
      out[columnCount] = base;
      tableScan(tables, lt, x, offset, out);
    };
    return { explain, method: 'tables', tableBytes: entries * 8 };
  }
  // Deeper trees than the four lanes cover (paths of more than 8 unique features): Algorithm 2.
  if (e.maxDepth > 2 * LANES) {
    return { explain: treeShapAlgorithm2(e) as RowExplainer, method: 'algorithm2', tableBytes: 0 };
  }
  const layout = preorderLayout(e, cover);
  const D = e.maxDepth + 1;
  const state: ScanState = {
    goesLeft: new Uint8Array(D),
    follows: new Uint8Array(D),
    zeroAt: new Float64Array(D),
    recipAt: new Float64Array(D * LANES),
    product: new Float64Array(D * LANES),
  };
  const base = treeBaseValue(e, nodeExpectations(e, cover));
  const explain: RowExplainer = (x, offset, out) => {
    out.fill(0, 0, columnCount);
    out[columnCount] = base;
    scan(layout, state, lt, x, offset, out);
  };
  return { explain, method: 'quadrature', tableBytes: 0 };
}

/**
 * The quadrature scan (the fallback when the tables do not fit). One pass over the pre-order layout
 * keeps, per depth of the current path, whether the row follows the edge (o), the reciprocal of the
 * edge's factor at each quadrature node, and the product Π_k (z_k + (o_k − z_k)·t_q) over the path's
 * unique features; a feature met again has its earlier factor divided out. Divisions only by factors
 * that are never 0: with o = 1 a factor is ≥ t_q > 0; with o = 0 it is z·(1 − t_q), and an edge with
 * o = 0 and z = 0 (no cover, not taken) makes every contribution below it 0, so its subtree is skipped.
 *
 * The scan itself, with the quadrature unrolled into four lanes (Q ≤ 4; unused lanes have weight 0).
 * Every array is read into a local first so V8 checks each one once per call, and the lanes are
 * scalars: measured 1.5× faster than loops over Q.
 */
function scan(
  L: PreorderLayout,
  S: ScanState,
  lt: boolean,
  x: Float32Array | Float64Array,
  offset: number,
  out: Float64Array,
): void {
  const { size, w, coldFactor, coldRecip, depth, isLeft, previous, skip, feature, threshold, defaultLeft } = L;
  const { leafValue, zero, zeroRecip, hotFactor, hotRecip, activeStart, activeEnd, activeDepth, activeFeature } = L;
  const { goesLeft, follows, zeroAt, recipAt, product } = S;
  const w0 = w[0] as number;
  const w1 = w[1] as number;
  const w2 = w[2] as number;
  const w3 = w[3] as number;
  const cf0 = coldFactor[0] as number;
  const cf1 = coldFactor[1] as number;
  const cf2 = coldFactor[2] as number;
  const cf3 = coldFactor[3] as number;
  const cr0 = coldRecip[0] as number;
  const cr1 = coldRecip[1] as number;
  const cr2 = coldRecip[2] as number;
  const cr3 = coldRecip[3] as number;
  for (let i = 0; i < size; ) {
    const d = depth[i] as number;
    const to = d * 4;
    if (d === 0) {
      product[0] = 1;
      product[1] = 1;
      product[2] = 1;
      product[3] = 1;
    } else {
      let o = goesLeft[d - 1] === isLeft[i] ? 1 : 0;
      const prev = previous[i] as number;
      if (prev >= 0 && follows[prev] === 0) o = 0;
      const z = zero[i] as number;
      if (o === 0 && z === 0) {
        i = skip[i] as number;
        continue;
      }
      follows[d] = o;
      zeroAt[d] = z;
      let f0: number;
      let f1: number;
      let f2: number;
      let f3: number;
      if (o === 1) {
        const at = i * 4;
        f0 = hotFactor[at] as number;
        f1 = hotFactor[at + 1] as number;
        f2 = hotFactor[at + 2] as number;
        f3 = hotFactor[at + 3] as number;
        recipAt[to] = hotRecip[at] as number;
        recipAt[to + 1] = hotRecip[at + 1] as number;
        recipAt[to + 2] = hotRecip[at + 2] as number;
        recipAt[to + 3] = hotRecip[at + 3] as number;
      } else {
        const zr = zeroRecip[i] as number;
        f0 = z * cf0;
        f1 = z * cf1;
        f2 = z * cf2;
        f3 = z * cf3;
        recipAt[to] = zr * cr0;
        recipAt[to + 1] = zr * cr1;
        recipAt[to + 2] = zr * cr2;
        recipAt[to + 3] = zr * cr3;
      }
      if (prev >= 0) {
        // A feature met before on this path: its earlier factor is replaced by the combined one.
        const pp = prev * 4;
        f0 *= recipAt[pp] as number;
        f1 *= recipAt[pp + 1] as number;
        f2 *= recipAt[pp + 2] as number;
        f3 *= recipAt[pp + 3] as number;
      }
      const from = to - 4;
      product[to] = (product[from] as number) * f0;
      product[to + 1] = (product[from + 1] as number) * f1;
      product[to + 2] = (product[from + 2] as number) * f2;
      product[to + 3] = (product[from + 3] as number) * f3;
    }
    const f = feature[i] as number;
    if (f >= 0) {
      const v = x[offset + f] as number;
      const th = threshold[i] as number;
      goesLeft[d] = splitGoesLeft(v, th, defaultLeft[i] === 1, lt) ? 1 : 0;
    } else {
      const v = leafValue[i] as number;
      const s0 = w0 * (product[to] as number) * v;
      const s1 = w1 * (product[to + 1] as number) * v;
      const s2 = w2 * (product[to + 2] as number) * v;
      const s3 = w3 * (product[to + 3] as number) * v;
      const end = activeEnd[i] as number;
      for (let k = activeStart[i] as number; k < end; k++) {
        const a = activeDepth[k] as number;
        const r = a * 4;
        const sum =
          s0 * (recipAt[r] as number) +
          s1 * (recipAt[r + 1] as number) +
          s2 * (recipAt[r + 2] as number) +
          s3 * (recipAt[r + 3] as number);
        const j = activeFeature[k] as number;
        out[j] = (out[j] as number) + ((follows[a] as number) - (zeroAt[a] as number)) * sum;
      }
    }
    i++;
  }
}

/**
 * Algorithm 2 of Lundberg et al. (2018) as XGBoost implements it (`RegTree::TreeShap` with its
 * `ExtendPath`, `UnwindPath` and `UnwoundPathSum`), line for line but in double: O(T·L·D²) per row.
 * Kept as the reference the fast evaluation is tested against; undefined without node covers.
 */
export function treeShapAlgorithm2(e: TreeEnsemble): RowExplainer | undefined {
  const cover = e.cover;
  if (cover === undefined) return undefined;
  const { left, right, feature, threshold, defaultLeft, leafValue, roots, columnCount } = e;
  const lt = e.comparison === 'lt';
  const base = treeBaseValue(e, nodeExpectations(e, cover));

  // The path of unique features from the root, one copy per recursion level (XGBoost's layout:
  // level k starts after levels 0..k-1, so a leaf at depth D needs (D+2)(D+3)/2 entries).
  const maxd = e.maxDepth + 2;
  const size = (maxd * (maxd + 1)) / 2;
  const pathFeature = new Int32Array(size);
  const pathZero = new Float64Array(size); // fraction of training weight flowing down this path
  const pathOne = new Float64Array(size); // 1 when the row follows this path, else 0
  const pathWeight = new Float64Array(size); // permutation weights of the subsets of the path

  let x: Rows = new Float32Array(0);
  let xo = 0;
  let phi: Float64Array = new Float64Array(0);

  /** Adds a feature to the path (`p` = the path's offset, `d` = its current last index). */
  const extend = (p: number, d: number, zero: number, one: number, f: number): void => {
    pathFeature[p + d] = f;
    pathZero[p + d] = zero;
    pathOne[p + d] = one;
    pathWeight[p + d] = d === 0 ? 1 : 0;
    const inv = 1 / (d + 1);
    for (let i = d - 1; i >= 0; i--) {
      const w = pathWeight[p + i] as number;
      pathWeight[p + i + 1] = (pathWeight[p + i + 1] as number) + one * w * (i + 1) * inv;
      pathWeight[p + i] = zero * w * (d - i) * inv;
    }
  };

  /** Removes the path entry at `index` (a feature met again deeper down is re-added with both splits). */
  const unwind = (p: number, d: number, index: number): void => {
    const one = pathOne[p + index] as number;
    const zero = pathZero[p + index] as number;
    let next = pathWeight[p + d] as number;
    for (let i = d - 1; i >= 0; i--) {
      if (one !== 0) {
        const tmp = pathWeight[p + i] as number;
        pathWeight[p + i] = (next * (d + 1)) / ((i + 1) * one);
        next = tmp - ((pathWeight[p + i] as number) * zero * (d - i)) / (d + 1);
      } else {
        pathWeight[p + i] = ((pathWeight[p + i] as number) * (d + 1)) / (zero * (d - i));
      }
    }
    for (let i = index; i < d; i++) {
      pathFeature[p + i] = pathFeature[p + i + 1] as number;
      pathZero[p + i] = pathZero[p + i + 1] as number;
      pathOne[p + i] = pathOne[p + i + 1] as number;
    }
  };

  /** The total permutation weight the path would have without the entry at `index`. */
  const unwoundSum = (p: number, d: number, index: number): number => {
    const one = pathOne[p + index] as number;
    const zero = pathZero[p + index] as number;
    let next = pathWeight[p + d] as number;
    let total = 0;
    if (one !== 0) {
      for (let i = d - 1; i >= 0; i--) {
        const tmp = (next * (d + 1)) / ((i + 1) * one);
        total += tmp;
        next = (pathWeight[p + i] as number) - tmp * zero * ((d - i) / (d + 1));
      }
    } else if (zero !== 0) {
      for (let i = d - 1; i >= 0; i--) total += (pathWeight[p + i] as number) / zero / ((d - i) / (d + 1));
    }
    return total;
  };

  const recurse = (node: number, d: number, parent: number, zero: number, one: number, f: number): void => {
    // Neither the row nor any training weight comes down here: every contribution below is 0.
    if (zero === 0 && one === 0) return;
    const p = parent + d + 1;
    for (let i = 0; i < d; i++) {
      pathFeature[p + i] = pathFeature[parent + i] as number;
      pathZero[p + i] = pathZero[parent + i] as number;
      pathOne[p + i] = pathOne[parent + i] as number;
      pathWeight[p + i] = pathWeight[parent + i] as number;
    }
    extend(p, d, zero, one, f);

    const l = left[node] as number;
    if (l === -1) {
      const v = leafValue[node] as number;
      for (let i = 1; i <= d; i++) {
        const w = unwoundSum(p, d, i);
        const j = pathFeature[p + i] as number;
        phi[j] = (phi[j] as number) + w * ((pathOne[p + i] as number) - (pathZero[p + i] as number)) * v;
      }
      return;
    }
    const r = right[node] as number;
    const split = feature[node] as number;
    const value = x[xo + split] as number;
    const t = threshold[node] as number;
    const goLeft = splitGoesLeft(value, t, defaultLeft[node] === 1, lt);
    const hot = goLeft ? l : r;
    const cold = goLeft ? r : l;
    const c = cover[node] as number;
    const hotZero = (cover[hot] as number) / c;
    const coldZero = (cover[cold] as number) / c;

    // A feature already on the path: undo its entry and redo it with both splits combined.
    let inZero = 1;
    let inOne = 1;
    let k = 0;
    for (; k <= d; k++) if (pathFeature[p + k] === split) break;
    let depth = d;
    if (k !== d + 1) {
      inZero = pathZero[p + k] as number;
      inOne = pathOne[p + k] as number;
      unwind(p, d, k);
      depth -= 1;
    }
    recurse(hot, depth + 1, p, hotZero * inZero, inOne, split);
    recurse(cold, depth + 1, p, coldZero * inZero, 0, split);
  };

  return (row, offset, out) => {
    x = row;
    xo = offset;
    phi = out;
    out.fill(0, 0, columnCount);
    for (let t = 0; t < roots.length; t++) recurse(roots[t] as number, 0, 0, 1, 1, -1);
    out[columnCount] = base;
    x = new Float32Array(0);
    phi = new Float64Array(0);
  };
}
