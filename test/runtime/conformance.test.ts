/**
 * Conformance of every tree executor to the reference walker (src/runtime/trees.ts), which decides
 * each split by the one rule of src/runtime/split.ts. The generated code (codegen.ts) and the packed
 * layout (packed.ts) are accelerators: for every row and every tree they must reach the same LEAF
 * (node id), not only the same margin, so a wrong turn that happens to land on an equal leaf value
 * is still caught. Rows are built to sit on the edges of the rule: NaN (the default direction),
 * ±Infinity, ±0, every threshold exactly, and one float32 step either side of it (for scikit-learn,
 * whose thresholds are doubles, the threshold rounded to float32 and its neighbours). In the `le-float64`
 * mode (HistGradientBoostingClassifier: double rows) also the threshold itself as a double and one double
 * step either side: values that differ from the threshold only beyond float32 precision.
 *
 * Ensembles: 300 random ones per split mode (test/helpers/ensembles.ts) and the shipped tree models.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DocumentReader } from '../../src/runtime/check.js';
import { type CompiledEnsemble, compileEnsemble } from '../../src/runtime/codegen.js';
import { loadGradientBoosting } from '../../src/runtime/gbm.js';
import { type PackedEnsemble, packEnsemble } from '../../src/runtime/packed.js';
import { goesLeft, SPLIT_SEMANTICS, type SplitMode } from '../../src/runtime/split.js';
import { leafIndex, leafIndices, type Rows, type TreeEnsemble, walkMargin } from '../../src/runtime/trees.js';
import { loadXGBoost } from '../../src/runtime/xgboost.js';
import { randomEnsemble } from '../helpers/ensembles.js';
import { seededRandom } from '../helpers/random.js';

const f32 = new Float32Array(1);
const bits = new Int32Array(f32.buffer);

/** The float32 next to float32 `x` towards +Infinity (dir 1) or -Infinity (dir -1). */
function float32Step(x: number, dir: 1 | -1): number {
  if (!Number.isFinite(x)) return x;
  if (x === 0) return dir * 1.401298464324817e-45; // the smallest subnormal
  f32[0] = x;
  bits[0] = (bits[0] as number) + (x > 0 === dir > 0 ? 1 : -1);
  return f32[0] as number;
}

const f64 = new Float64Array(1);
const bits64 = new BigInt64Array(f64.buffer);

/** The double next to finite, non-zero double `x` towards +Infinity (dir 1) or -Infinity (dir -1). */
function float64Step(x: number, dir: 1 | -1): number {
  if (!Number.isFinite(x)) return x;
  if (x === 0) return dir * Number.MIN_VALUE;
  f64[0] = x;
  bits64[0] = (bits64[0] as bigint) + (x > 0 === dir > 0 ? 1n : -1n);
  return f64[0] as number;
}

/**
 * Per column: NaN, ±Infinity, ±0, and every threshold of the column as float32 with a step either side;
 * for double rows also the threshold itself with one double step either side.
 */
function edgeValues(e: TreeEnsemble): number[][] {
  const values = Array.from({ length: e.columnCount }, () => new Set<number>([Number.NaN, -Infinity, Infinity, 0, -0]));
  for (let k = 0; k < e.left.length; k++) {
    if (e.left[k] === -1) continue;
    const t = Math.fround(e.threshold[k] as number);
    const set = values[e.feature[k] as number] as Set<number>;
    set.add(t).add(float32Step(t, 1)).add(float32Step(t, -1));
    if (e.rowType === 'float64') {
      const d = e.threshold[k] as number;
      set.add(d).add(float64Step(d, 1)).add(float64Step(d, -1));
    }
  }
  return values.map((s) => [...s]);
}

/** Rows of the ensemble's row type. */
const newRows = (e: TreeEnsemble, n: number): Rows =>
  e.rowType === 'float64' ? new Float64Array(n) : new Float32Array(n);

interface Executor {
  readonly name: string;
  leafIndices(x: Rows, offset: number, out: Int32Array): Int32Array;
  margin(x: Rows, offset: number): number;
}

function executors(e: TreeEnsemble): Executor[] {
  const list: Executor[] = [];
  const packed: PackedEnsemble | undefined = packEnsemble(e);
  if (packed) list.push({ name: 'packed', leafIndices: packed.leafIndices, margin: packed.margin });
  const compiled: CompiledEnsemble = compileEnsemble(e);
  list.push({ name: 'generated code', leafIndices: compiled.leafIndices, margin: compiled.margin });
  // Small groups too: a tree per function, as a large ensemble is split.
  const small = compileEnsemble(e, { rowGroupSource: 1, blockGroupSource: 1 });
  list.push({ name: 'generated code (one tree per function)', leafIndices: small.leafIndices, margin: small.margin });
  return list;
}

/**
 * Every executor against the walker on `rows` rows of `x`: leaf ids per tree, the margin bit for bit,
 * and the generated code's batch margins. Returns the disagreements, each naming executor, row, tree.
 */
function disagreements(label: string, e: TreeEnsemble, x: Rows, rows: number): string[] {
  const stride = e.columnCount;
  const want = new Int32Array(e.treeCount);
  const got = new Int32Array(e.treeCount);
  const found: string[] = [];
  const list = executors(e);
  for (let r = 0; r < rows && found.length < 10; r++) {
    const o = r * stride;
    leafIndices(e, x, o, want);
    const wantMargin = walkMargin(e, x, o);
    for (const ex of list) {
      got.fill(-2);
      ex.leafIndices(x, o, got);
      for (let t = 0; t < e.treeCount; t++) {
        if (got[t] !== want[t]) {
          const row = Array.from(x.subarray(o, o + stride));
          found.push(
            `${label}, ${ex.name}, row ${r} [${row.join(', ')}], tree ${t}: leaf ${got[t]}, walker ${want[t]}`,
          );
          break;
        }
      }
      const m = ex.margin(x, o);
      if (!Object.is(m, wantMargin)) found.push(`${label}, ${ex.name}, row ${r}: margin ${m}, walker ${wantMargin}`);
    }
  }
  const batch = new Float64Array(rows);
  compileEnsemble(e).margins(x, rows, stride, batch);
  for (let r = 0; r < rows; r++) {
    const w = walkMargin(e, x, r * stride);
    if (!Object.is(batch[r], w)) {
      found.push(`${label}, generated code (batch), row ${r}: margin ${batch[r]}, walker ${w}`);
      break;
    }
  }
  return found;
}

/** `rows` rows whose every column takes one of its edge values at random. */
function edgeRows(e: TreeEnsemble, seed: number, rows: number): Rows {
  const rnd = seededRandom(seed);
  const values = edgeValues(e);
  const x = newRows(e, rows * e.columnCount);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < e.columnCount; c++) {
      const v = values[c] as number[];
      x[r * e.columnCount + c] = v[Math.floor(rnd() * v.length)] as number;
    }
  }
  return x;
}

describe('the split rule (split.ts)', () => {
  it('sends NaN the default way, compares ±Infinity as numbers, and differs between lt and le only on the threshold', () => {
    for (const dl of [true, false]) {
      expect(goesLeft(Number.NaN, 0, dl, true)).toBe(dl);
      expect(goesLeft(Number.NaN, 0, dl, false)).toBe(dl);
    }
    for (const lt of [true, false]) {
      expect(goesLeft(Number.NEGATIVE_INFINITY, -3.4e38, false, lt)).toBe(true);
      expect(goesLeft(Number.POSITIVE_INFINITY, 3.4e38, true, lt)).toBe(false);
      expect(goesLeft(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, false, lt)).toBe(!lt);
      expect(goesLeft(-0, 0, false, lt)).toBe(!lt);
      expect(goesLeft(float32Step(1, -1), 1, false, lt)).toBe(true);
      expect(goesLeft(float32Step(1, 1), 1, true, lt)).toBe(false);
    }
    expect(goesLeft(1, 1, false, true)).toBe(false); // XGBoost: x < t
    expect(goesLeft(1, 1, false, false)).toBe(true); // scikit-learn: x <= t
    expect(SPLIT_SEMANTICS.lt.left).toBe('<');
    expect(SPLIT_SEMANTICS.le.left).toBe('<=');
  });

  it('is what the walker follows, node by node', () => {
    const e = randomEnsemble(11, 'lt', 5);
    const x = edgeRows(e, 5, 200);
    for (let r = 0; r < 200; r++) {
      for (let t = 0; t < e.treeCount; t++) {
        let node = e.roots[t] as number;
        while (e.left[node] !== -1) {
          const v = x[r * e.columnCount + (e.feature[node] as number)] as number;
          node = goesLeft(v, e.threshold[node] as number, e.defaultLeft[node] === 1, true)
            ? (e.left[node] as number)
            : (e.right[node] as number);
        }
        expect(leafIndex(e, t, x, r * e.columnCount)).toBe(node);
      }
    }
  });
});

describe('le-float64 (HistGradientBoostingClassifier): double rows', () => {
  // One tree per threshold: x <= t goes to leaf -1, else +1; thresholds 1 and 1 + 2^-30 are one float32.
  const stumps = (mode: SplitMode, thresholds: readonly number[]): TreeEnsemble => {
    const n = thresholds.length;
    return {
      comparison: SPLIT_SEMANTICS[mode].comparison,
      rowType: SPLIT_SEMANTICS[mode].rowType,
      accumulation: 'float64',
      baseMargin: 0,
      columnCount: 1,
      treeCount: n,
      roots: Int32Array.from(thresholds, (_, i) => 3 * i),
      left: Int32Array.from({ length: 3 * n }, (_, k) => (k % 3 === 0 ? k + 1 : -1)),
      right: Int32Array.from({ length: 3 * n }, (_, k) => (k % 3 === 0 ? k + 2 : -1)),
      feature: new Int32Array(3 * n),
      threshold: Float64Array.from({ length: 3 * n }, (_, k) => (k % 3 === 0 ? (thresholds[k / 3] as number) : 0)),
      defaultLeft: new Uint8Array(3 * n),
      leafValue: Float64Array.from({ length: 3 * n }, (_, k) => [0, -1, 1][k % 3] as number),
      maxDepth: 1,
    };
  };
  const thresholds = [1, 1 + 2 ** -30, 1 - 2 ** -30, 0.1];

  it('sends values that differ only beyond float32 precision different ways, in every executor', () => {
    const e = stumps('le-float64', thresholds);
    const x = Float64Array.of(1, 1 + 2 ** -31, 1 + 2 ** -30, float64Step(0.1, 1), 0.1);
    // Leaves per tree (thresholds 1, 1 + 2^-30, 1 - 2^-30, 0.1): x = 1 + 2^-31 is right of 1, left of
    // 1 + 2^-30 (float32 would round all three to 1); the double after 0.1 is right of 0.1, 0.1 left of it.
    expect(walkMargin(e, x, 1)).toBe(1 + -1 + 1 + 1);
    expect(walkMargin(e, x, 3)).toBe(-1 + -1 + -1 + 1);
    expect(walkMargin(e, x, 4)).toBe(-1 + -1 + -1 + -1);
    expect(disagreements('le-float64 stumps', e, x, 5)).toEqual([]);
  });

  it('differs from le on float32 rows exactly where float32 rounding joins what doubles separate', () => {
    const e64 = stumps('le-float64', thresholds);
    const e32 = stumps('le', thresholds);
    const doubles = Float64Array.of(1 + 2 ** -31, float64Step(0.1, 1));
    const singles = Float32Array.from(doubles); // what a float32 row holds: 1 and float32(0.1) > 0.1
    expect(walkMargin(e32, singles, 0)).toBe(-1 + -1 + 1 + 1);
    expect(walkMargin(e64, doubles, 0)).toBe(1 + -1 + 1 + 1);
    expect(walkMargin(e32, singles, 1)).toBe(walkMargin(e64, doubles, 1));
  });
});

describe('executor conformance: leaf ids and margins against the walker', () => {
  const MODES: readonly SplitMode[] = ['lt', 'le', 'le-float64'];
  for (const mode of MODES) {
    it(`on 300 random ensembles (${mode}) with NaN, ±Infinity, on-threshold and one-step rows`, () => {
      const found: string[] = [];
      let packedCount = 0;
      for (let seed = 1; seed <= 300 && found.length === 0; seed++) {
        const e = randomEnsemble(seed * 104729 + MODES.indexOf(mode) * 7, mode, 1 + (seed % 7));
        expect(e.rowType).toBe(SPLIT_SEMANTICS[mode].rowType);
        if (packEnsemble(e)) packedCount++;
        found.push(...disagreements(`seed ${seed}`, e, edgeRows(e, seed, 60), 60));
      }
      expect(found).toEqual([]);
      expect(packedCount).toBeGreaterThan(250); // the packed layout takes part in nearly every case
    });
  }

  const shipped = (key: string): { e: TreeEnsemble } => {
    const doc = JSON.parse(readFileSync(new URL(`../../model-artifacts/${key}.json`, import.meta.url), 'utf8')) as {
      family: string;
      columns: unknown[];
      model: Record<string, unknown>;
    };
    const r = new DocumentReader(key);
    const load = doc.family === 'xgboost' ? loadXGBoost : loadGradientBoosting;
    return { e: load(r, doc.model, doc.columns.length) };
  };

  for (const key of ['xgboost/1.0.0', 'xgboost/1.1.0', 'gradient_boosting/1.0.0']) {
    it(`on the shipped ${key}, 1,500 rows of its own thresholds, their float32 (and double) neighbours, NaN and ±Infinity`, () => {
      const { e } = shipped(key);
      expect(packEnsemble(e)).toBeDefined();
      expect(disagreements(key, e, edgeRows(e, 19, 1500), 1500)).toEqual([]);
    });
  }
});
