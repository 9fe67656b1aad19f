import { checkOpenUnit, fail, lowerBound } from './problems.js';
import { chi2Ppf, chi2Sf } from './special.js';

/**
 * Drift: the population stability index of the score (PSI) and of each field (CSI, the same formula on a
 * field's bins) against a baseline, with streaming counters (bounded memory: one count per bin) so a tape of
 * any length is compared without holding it.
 *
 * PSI = Σ (aᵢ − eᵢ)·ln(aᵢ/eᵢ) over bins, eᵢ the baseline's share, aᵢ the sample's. A bin empty on one side
 * takes the share ε (EPSILON, 1e-4) on that side; bins empty on both sides are dropped. Bands (the industry's
 * rule of thumb, e.g. Siddiqi, "Credit Risk Scorecards", 2006): below 0.1 stable, 0.1 to 0.25 a moderate shift,
 * 0.25 and above a significant shift. The statistical reading (Yurdakul, "Statistical properties of population
 * stability index", PhD thesis, Western Michigan University, 2018): under no shift, PSI is approximately
 * (1/M + 1/N)·χ² with B − 1 degrees of freedom, M and N the baseline's and the sample's sizes, B the bins; so the
 * critical value at level α is χ²_{B−1, 1−α}·(1/M + 1/N), and p = P(χ²_{B−1} > PSI/(1/M + 1/N)).
 */

export const EPSILON = 1e-4;

export type Bins =
  /** Numeric bins by interior edges c₁ < … < c_K: (−∞, c₁], (c₁, c₂], …, (c_K, ∞), then a missing bin. */
  | { readonly kind: 'numeric'; readonly edges: readonly number[] }
  /** Categorical bins: the levels, then "other" (a level the baseline did not have), then missing. */
  | { readonly kind: 'levels'; readonly levels: readonly string[] };

/** Bin labels, in the order of the counts. */
export function binLabels(bins: Bins): string[] {
  if (bins.kind === 'levels') return [...bins.levels, 'other', 'missing'];
  const e = bins.edges;
  const labels = [`(-inf, ${e[0] ?? 'inf'}]`];
  for (let i = 1; i < e.length; i++) labels.push(`(${e[i - 1]}, ${e[i]}]`);
  if (e.length > 0) labels.push(`(${e[e.length - 1]}, inf)`);
  labels.push('missing');
  return labels;
}

function checkBins(field: string, bins: Bins): void {
  if (bins.kind === 'numeric') {
    for (let i = 0; i < bins.edges.length; i++) {
      const e = bins.edges[i] as number;
      if (!Number.isFinite(e)) fail(`${field}.edges`, `must be finite numbers, got ${e}`);
      if (i > 0 && !(e > (bins.edges[i - 1] as number))) fail(`${field}.edges`, 'must be strictly increasing');
    }
  } else if (bins.kind === 'levels') {
    if (new Set(bins.levels).size !== bins.levels.length) fail(`${field}.levels`, 'must not repeat a level');
  } else fail(field, 'bins must be numeric edges or levels');
}

/**
 * Edges of quantile bins from a baseline sample (score deciles for k = 10): the distinct values of numpy's
 * default (linear) quantiles at 1/k, …, (k−1)/k. Non-finite values are left out.
 */
export function quantileEdges(values: ArrayLike<number>, k = 10): number[] {
  const v = Float64Array.from(Array.from({ length: values.length }, (_, i) => values[i] as number)).filter((x) =>
    Number.isFinite(x),
  );
  if (v.length === 0) fail('baseline', 'has no finite values to take quantiles of');
  v.sort();
  const edges: number[] = [];
  for (let j = 1; j < k; j++) {
    const h = ((v.length - 1) * j) / k;
    const lo = Math.floor(h);
    const a = v[lo] as number;
    const b = v[Math.min(lo + 1, v.length - 1)] as number;
    const q = a + (h - lo) * (b - a);
    if (edges.length === 0 || q > (edges[edges.length - 1] as number)) edges.push(q);
  }
  return edges;
}

/** Streaming counts of one field's values in fixed bins: memory is one number per bin. */
export class BinCounter {
  readonly bins: Bins;
  readonly field: string;
  readonly counts: Float64Array;
  private readonly index: Map<string, number> | null;

  constructor(bins: Bins, field = 'score') {
    checkBins(field, bins);
    this.bins = bins;
    this.field = field;
    const k = bins.kind === 'numeric' ? bins.edges.length + 2 : bins.levels.length + 2;
    this.counts = new Float64Array(k);
    this.index = bins.kind === 'levels' ? new Map(bins.levels.map((l, i) => [l, i])) : null;
  }

  /** The bin of a value: null, undefined, NaN and '' are missing. */
  binOf(value: number | string | null | undefined): number {
    const missing = this.counts.length - 1;
    if (value === null || value === undefined || value === '' || (typeof value === 'number' && Number.isNaN(value))) {
      return missing;
    }
    if (this.index) return this.index.get(String(value)) ?? missing - 1;
    const x = typeof value === 'number' ? value : Number(value);
    if (Number.isNaN(x)) fail(this.field, `must be a number or missing, got ${JSON.stringify(value)}`);
    return lowerBound((this.bins as { edges: readonly number[] }).edges, x);
  }

  add(value: number | string | null | undefined): void {
    const b = this.binOf(value);
    this.counts[b] = (this.counts[b] as number) + 1;
  }

  get total(): number {
    let s = 0;
    for (const c of this.counts) s += c;
    return s;
  }
}

export type StabilityBand = 'stable' | 'moderate' | 'significant';

/** The PSI bands as policy: moderate from `moderate`, significant from `significant`. */
export interface StabilityPolicy {
  readonly moderate: number;
  readonly significant: number;
  readonly epsilon: number;
  /** Level of the statistical critical value. */
  readonly alpha: number;
}

export const DEFAULT_STABILITY: StabilityPolicy = { moderate: 0.1, significant: 0.25, epsilon: EPSILON, alpha: 0.05 };

export interface Stability {
  readonly psi: number;
  readonly band: StabilityBand;
  /** Bins with a count on either side, and the degrees of freedom (bins − 1). */
  readonly bins: number;
  readonly df: number;
  /** χ²_{df, 1−α}·(1/M + 1/N) (Yurdakul 2018), and P(PSI this large | no shift). */
  readonly critical: number;
  readonly p: number;
  readonly baselineSize: number;
  readonly sampleSize: number;
  /** Each bin's contribution (aᵢ − eᵢ)·ln(aᵢ/eᵢ), 0 for a bin empty on both sides. */
  readonly contributions: readonly number[];
}

/** PSI (or CSI) of `sample` counts against `baseline` counts of the same bins. */
export function stability(
  baseline: ArrayLike<number>,
  sample: ArrayLike<number>,
  policy: StabilityPolicy = DEFAULT_STABILITY,
): Stability {
  if (baseline.length !== sample.length) {
    fail('baseline', `has ${baseline.length} bins but the sample has ${sample.length}`);
  }
  const { epsilon, alpha } = policy;
  if (!(epsilon > 0 && epsilon < 1)) fail('epsilon', `must be strictly between 0 and 1, got ${epsilon}`);
  checkOpenUnit('alpha', alpha);
  if (!(policy.moderate >= 0 && policy.moderate <= policy.significant)) {
    fail('policy', 'bands must satisfy 0 ≤ moderate ≤ significant');
  }
  let m = 0;
  let n = 0;
  for (let i = 0; i < baseline.length; i++) {
    const e = baseline[i] as number;
    const a = sample[i] as number;
    if (!(Number.isFinite(e) && e >= 0)) fail('baseline', `counts must be non-negative numbers, got ${e} (bin ${i})`);
    if (!(Number.isFinite(a) && a >= 0)) fail('sample', `counts must be non-negative numbers, got ${a} (bin ${i})`);
    m += e;
    n += a;
  }
  if (m === 0) fail('baseline', 'is empty: PSI needs baseline counts');
  if (n === 0) fail('sample', 'is empty: PSI needs at least one loan');
  let psi = 0;
  let bins = 0;
  const contributions: number[] = [];
  for (let i = 0; i < baseline.length; i++) {
    const ec = baseline[i] as number;
    const ac = sample[i] as number;
    if (ec === 0 && ac === 0) {
      contributions.push(0);
      continue;
    }
    bins++;
    const e = ec === 0 ? epsilon : ec / m;
    const a = ac === 0 ? epsilon : ac / n;
    const c = (a - e) * Math.log(a / e);
    contributions.push(c);
    psi += c;
  }
  const df = Math.max(bins - 1, 1);
  const scale = 1 / m + 1 / n;
  return {
    psi,
    band: psi >= policy.significant ? 'significant' : psi >= policy.moderate ? 'moderate' : 'stable',
    bins,
    df,
    critical: chi2Ppf(1 - alpha, df) * scale,
    p: chi2Sf(psi / scale, df),
    baselineSize: m,
    sampleSize: n,
    contributions,
  };
}

/** Streaming drift of several fields (CSI) and the score (PSI) against baseline counts. */
export class DriftAccumulator {
  private readonly counters = new Map<string, { counter: BinCounter; baseline: readonly number[] }>();

  /** `baseline` counts per bin, in binLabels(bins) order. */
  constructor(fields: Record<string, { bins: Bins; baseline: readonly number[] }>) {
    for (const [name, { bins, baseline }] of Object.entries(fields)) {
      const counter = new BinCounter(bins, name);
      if (baseline.length !== counter.counts.length) {
        fail(`${name}.baseline`, `needs ${counter.counts.length} counts (${binLabels(bins).join(', ')})`);
      }
      this.counters.set(name, { counter, baseline });
    }
  }

  /** The counter of a field, to feed it directly (a column at a time). */
  counter(name: string): BinCounter | undefined {
    return this.counters.get(name)?.counter;
  }

  /** One loan's values by field name (absent fields count as missing). */
  add(values: Record<string, number | string | null | undefined>): void {
    for (const [name, { counter }] of this.counters) counter.add(values[name]);
  }

  report(policy: StabilityPolicy = DEFAULT_STABILITY): Record<string, Stability & { labels: string[] }> {
    const out: Record<string, Stability & { labels: string[] }> = {};
    for (const [name, { counter, baseline }] of this.counters) {
      out[name] = { ...stability(baseline, counter.counts, policy), labels: binLabels(counter.bins) };
    }
    return out;
  }
}
