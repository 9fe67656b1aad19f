import { checkScored } from './discrimination.js';
import { checkOpenUnit, fail, lowerBound } from './problems.js';
import { betaInc, betaIncInv, binomTestTwoSided, chi2Sf, erfc, normCdf, normPpf } from './special.js';

/**
 * Calibration: is the PD right on average, per PD band and per decile? Brier score, observed against expected
 * with three tests per group (exact binomial, Jeffreys, correlated binomial after Vasicek), a traffic light per
 * group and overall under a policy the caller can change, Hosmer–Lemeshow, calibration-in-the-large and the
 * calibration slope. docs/VALIDATION.md explains each; test/validation/calibration.test.ts checks them against
 * SciPy and statsmodels.
 */

export type Light = 'green' | 'amber' | 'red';
export type CalibrationTest = 'binomial' | 'jeffreys' | 'vasicek';

/** The traffic-light policy: which test's p-value, and its thresholds. */
export interface LightPolicy {
  /** 'binomial': exact two-sided; 'jeffreys' and 'vasicek': one-sided against underestimation. */
  readonly test: CalibrationTest;
  /** green when p ≥ green, red when p < red, amber between. */
  readonly green: number;
  readonly red: number;
  /** 'pool': the overall light is the whole pool's test; 'worst': the worst of the pool's and every group's. */
  readonly overall: 'pool' | 'worst';
}

/** The default policy: exact two-sided binomial test, green p ≥ 0.05, red p < 0.01, overall from the pool. */
export const DEFAULT_POLICY: LightPolicy = { test: 'binomial', green: 0.05, red: 0.01, overall: 'pool' };

/**
 * Basel's three zones (BCBS 1996, the backtesting framework for internal models) read as p-values: green
 * while the cumulative probability stays below 95 % (p ≥ 0.05), red from 99.99 % (p < 0.0001).
 */
export const BASEL_ZONES: LightPolicy = { test: 'jeffreys', green: 0.05, red: 0.0001, overall: 'pool' };

export interface CalibrationOptions {
  /** Asset correlation ρ of the Vasicek test, 0 < ρ < 1; Basel's residential-mortgage value 0.15 by default. */
  readonly rho?: number;
  /** Significance level of the intervals (Jeffreys, calibration-in-the-large, slope); 0.05 by default. */
  readonly alpha?: number;
  readonly policy?: LightPolicy;
}

function options(o: CalibrationOptions) {
  const rho = o.rho ?? 0.15;
  const alpha = o.alpha ?? 0.05;
  const policy = o.policy ?? DEFAULT_POLICY;
  if (!(rho > 0 && rho < 1)) fail('rho', `must be an asset correlation strictly between 0 and 1, got ${rho}`);
  checkOpenUnit('alpha', alpha);
  if (!['binomial', 'jeffreys', 'vasicek'].includes(policy.test)) {
    fail('policy.test', `must be binomial, jeffreys or vasicek, got ${String(policy.test)}`);
  }
  if (!(policy.red >= 0 && policy.red <= policy.green && policy.green <= 1)) {
    fail('policy', `thresholds must satisfy 0 ≤ red ≤ green ≤ 1, got red ${policy.red}, green ${policy.green}`);
  }
  if (policy.overall !== 'pool' && policy.overall !== 'worst') fail('policy.overall', 'must be pool or worst');
  return { rho, alpha, policy };
}

/** Mean squared error of the PD against the outcome. */
export function brier(pds: ArrayLike<number>, outcomes: ArrayLike<number>): number {
  checkScored(pds, outcomes, { scoreField: 'pd', probability: true });
  let s = 0;
  for (let i = 0; i < pds.length; i++) {
    const e = (pds[i] as number) - (outcomes[i] as number);
    s += e * e;
  }
  return s / pds.length;
}

/** A group's counts: loans, defaults, ΣPD and ΣPD(1 − PD). */
export interface GroupCounts {
  readonly n: number;
  readonly defaults: number;
  readonly sumPd: number;
  readonly sumVar: number;
}

/** The Jeffreys test (ECB instructions for reporting the validation of IRB models, 2019, section 2.5.3.1). */
export interface Jeffreys {
  /** Beta(d + ½, n − d + ½) CDF at the PD: small when the PD is too low for the observed defaults. */
  readonly p: number;
  /** The equal-tailed (1 − α) Jeffreys interval of the default rate. */
  readonly lower: number;
  readonly upper: number;
}

/** One group's observed against expected with its tests and light. */
export interface CalibrationRow {
  readonly label: string;
  readonly n: number;
  readonly defaults: number;
  readonly meanPd: number;
  readonly observedRate: number;
  readonly expectedDefaults: number;
  /** Exact two-sided binomial p-value at the group's mean PD (scipy.stats.binomtest). */
  readonly binomialP: number;
  readonly jeffreys: Jeffreys;
  /** One-factor (Vasicek) test: P(default rate ≥ observed) and the (1 − α) critical default rate. */
  readonly vasicek: { readonly p: number; readonly criticalRate: number };
  readonly light: Light;
}

export function jeffreys(defaults: number, n: number, pd: number, alpha = 0.05): Jeffreys {
  const a = defaults + 0.5;
  const b = n - defaults + 0.5;
  return { p: betaInc(a, b, pd), lower: betaIncInv(a, b, alpha / 2), upper: betaIncInv(a, b, 1 - alpha / 2) };
}

/**
 * The correlated binomial test in the infinitely granular one-factor model (Basel Committee, "Studies on the
 * validation of internal rating systems", WP 14, 2005, section 4): the default rate's CDF is
 * Φ((√(1−ρ)·Φ⁻¹(x) − Φ⁻¹(PD))/√ρ); p = P(rate ≥ observed), critical rate = Φ((Φ⁻¹(PD) + √ρ·Φ⁻¹(1−α))/√(1−ρ)).
 */
export function vasicek(observedRate: number, pd: number, rho: number, alpha = 0.05) {
  const g = normPpf(pd);
  const criticalRate = normCdf((g + Math.sqrt(rho) * normPpf(1 - alpha)) / Math.sqrt(1 - rho));
  let p: number;
  if (observedRate <= 0 || pd >= 1) p = 1;
  else if (observedRate >= 1 || pd <= 0) p = 0;
  else p = normCdf((g - Math.sqrt(1 - rho) * normPpf(observedRate)) / Math.sqrt(rho));
  return { p, criticalRate };
}

export function lightOf(p: number, policy: LightPolicy): Light {
  return p >= policy.green ? 'green' : p >= policy.red ? 'amber' : 'red';
}

const RANK: Record<Light, number> = { green: 0, amber: 1, red: 2 };

/** Observed against expected for one group. */
export function calibrationRow(label: string, g: GroupCounts, o: CalibrationOptions = {}): CalibrationRow {
  const { rho, alpha, policy } = options(o);
  if (g.n <= 0) fail(label, 'holds no loans: a calibration test needs at least one');
  const meanPd = g.sumPd / g.n;
  const observedRate = g.defaults / g.n;
  const binomialP = binomTestTwoSided(g.defaults, g.n, meanPd);
  const j = jeffreys(g.defaults, g.n, meanPd, alpha);
  const v = vasicek(observedRate, meanPd, rho, alpha);
  const p = policy.test === 'binomial' ? binomialP : policy.test === 'jeffreys' ? j.p : v.p;
  return {
    label,
    n: g.n,
    defaults: g.defaults,
    meanPd,
    observedRate,
    expectedDefaults: g.sumPd,
    binomialP,
    jeffreys: j,
    vasicek: v,
    light: lightOf(p, policy),
  };
}

/** Streaming counts per PD band (bounded memory: four numbers per band), for any number of loans. */
export class BandAccumulator {
  readonly edges: readonly number[];
  private readonly n: Float64Array;
  private readonly d: Float64Array;
  private readonly sum: Float64Array;
  private readonly sumVar: Float64Array;
  private rows = 0;

  /** `edges` from 0 to 1 increasing: band i holds edges[i] ≤ PD < edges[i + 1] (the last band includes 1). */
  constructor(edges: readonly number[] = DEFAULT_BANDS) {
    if (edges.length < 2 || edges[0] !== 0 || edges[edges.length - 1] !== 1) {
      fail('bands', 'must be at least two edges starting at 0 and ending at 1');
    }
    for (let i = 1; i < edges.length; i++) {
      if (!((edges[i] as number) > (edges[i - 1] as number))) fail('bands', 'must be strictly increasing');
    }
    this.edges = [...edges];
    const k = edges.length - 1;
    this.n = new Float64Array(k);
    this.d = new Float64Array(k);
    this.sum = new Float64Array(k);
    this.sumVar = new Float64Array(k);
  }

  add(pd: number, outcome: number): void {
    if (!(pd >= 0 && pd <= 1)) fail('pd', `must be a probability from 0 to 1, got ${pd} (row ${this.rows})`);
    if (outcome !== 0 && outcome !== 1) fail('outcomes', `must be 0 or 1, got ${outcome} (row ${this.rows})`);
    let lo = 0;
    let hi = this.n.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (pd >= (this.edges[mid] as number)) lo = mid;
      else hi = mid - 1;
    }
    this.n[lo] = (this.n[lo] as number) + 1;
    this.d[lo] = (this.d[lo] as number) + outcome;
    this.sum[lo] = (this.sum[lo] as number) + pd;
    this.sumVar[lo] = (this.sumVar[lo] as number) + pd * (1 - pd);
    this.rows++;
  }

  /** The bands' counts, labelled "[lo, hi)". */
  groups(): { label: string; counts: GroupCounts }[] {
    return Array.from(this.n, (n, i) => ({
      label: `[${this.edges[i]}, ${this.edges[i + 1]}${i === this.n.length - 1 ? ']' : ')'}`,
      counts: { n, defaults: this.d[i] as number, sumPd: this.sum[i] as number, sumVar: this.sumVar[i] as number },
    }));
  }
}

/** Default PD bands (edges): a master scale for mortgages' 36-month PDs. */
export const DEFAULT_BANDS: readonly number[] = [0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];

/**
 * Equal-count groups by PD: loans sorted by PD (ties by their order), group g holding ranks
 * ⌊g·n/k⌋ to ⌊(g+1)·n/k⌋ − 1 (deciles for k = 10; as the fixture's numpy does).
 */
export function quantileGroups(pds: ArrayLike<number>, outcomes: ArrayLike<number>, k = 10) {
  checkScored(pds, outcomes, { scoreField: 'pd', probability: true });
  const n = pds.length;
  if (!(Number.isInteger(k) && k >= 1)) fail('groups', `must be a whole number of groups, got ${k}`);
  if (n < k) fail('outcomes', `hold ${n} loans, fewer than the ${k} groups`);
  // The loans in PD order, ties in input order, without sorting them: the PDs sorted (a typed-array sort) give
  // each group's PDs in that order, and the defaults before a rank R are those with a lower PD plus, when R
  // cuts a run of equal PDs, the defaults among the first loans (in input order) of that run.
  const sorted = Float64Array.from(pds).sort();
  let total = 0;
  for (let i = 0; i < n; i++) total += outcomes[i] as number;
  const defaultPds = new Float64Array(total);
  for (let i = 0, j = 0; i < n; i++) if (outcomes[i] === 1) defaultPds[j++] = pds[i] as number;
  defaultPds.sort();
  const defaultsBefore = (rank: number): number => {
    if (rank === 0 || rank === n) return rank === 0 ? 0 : total;
    const v = sorted[rank] as number;
    let d = lowerBound(defaultPds, v);
    let cut = rank - lowerBound(sorted, v);
    for (let i = 0; cut > 0; i++) {
      if (pds[i] === v) {
        cut--;
        d += outcomes[i] as number;
      }
    }
    return d;
  };
  const groups: { label: string; counts: GroupCounts }[] = [];
  let before = 0;
  for (let g = 0; g < k; g++) {
    const from = Math.floor((g * n) / k);
    const to = Math.floor(((g + 1) * n) / k);
    let sum = 0;
    let sumVar = 0;
    for (let r = from; r < to; r++) {
      const p = sorted[r] as number;
      sum += p;
      sumVar += p * (1 - p);
    }
    const upTo = defaultsBefore(to);
    groups.push({ label: `${g + 1}`, counts: { n: to - from, defaults: upTo - before, sumPd: sum, sumVar } });
    before = upTo;
  }
  return groups;
}

export interface CalibrationTable {
  readonly rows: readonly CalibrationRow[];
  readonly pool: CalibrationRow;
  readonly light: Light;
  /** The label of the worst group (the first among equals), or null when all are green. */
  readonly worst: string | null;
  readonly policy: LightPolicy;
  readonly rho: number;
}

/** Rows for groups (empty groups are skipped), the pool's row and the overall light under the policy. */
export function calibrationTable(
  groups: readonly { label: string; counts: GroupCounts }[],
  o: CalibrationOptions = {},
): CalibrationTable {
  const { rho, policy } = options(o);
  const rows = groups.filter((g) => g.counts.n > 0).map((g) => calibrationRow(g.label, g.counts, o));
  const total = groups.reduce(
    (t, g) => ({
      n: t.n + g.counts.n,
      defaults: t.defaults + g.counts.defaults,
      sumPd: t.sumPd + g.counts.sumPd,
      sumVar: t.sumVar + g.counts.sumVar,
    }),
    { n: 0, defaults: 0, sumPd: 0, sumVar: 0 },
  );
  if (total.n === 0) fail('outcomes', 'are empty: a calibration table needs at least one loan');
  const pool = calibrationRow('pool', total, o);
  let worst: CalibrationRow | null = null;
  for (const r of rows) if (r.light !== 'green' && (!worst || RANK[r.light] > RANK[worst.light])) worst = r;
  const light = policy.overall === 'worst' && worst && RANK[worst.light] > RANK[pool.light] ? worst.light : pool.light;
  return { rows, pool, light, worst: worst?.label ?? null, policy, rho };
}

export interface HosmerLemeshow {
  readonly statistic: number;
  readonly df: number;
  readonly p: number;
}

/**
 * Hosmer–Lemeshow over groups (deciles by default): Σ (O − E)² / (E·(1 − E/n)), χ² with groups − 2 degrees of
 * freedom. A group whose PDs are all 0 or all 1 has no variance: it must match exactly or the test is refused.
 */
export function hosmerLemeshow(groups: readonly { label: string; counts: GroupCounts }[]): HosmerLemeshow {
  const used = groups.filter((g) => g.counts.n > 0);
  if (used.length < 3) fail('groups', `Hosmer–Lemeshow needs at least 3 non-empty groups, got ${used.length}`);
  let h = 0;
  for (const { label, counts } of used) {
    const e = counts.sumPd;
    const v = e * (1 - e / counts.n);
    const diff = counts.defaults - e;
    if (v > 0) h += (diff * diff) / v;
    else if (diff !== 0) fail(label, 'has PDs of only 0 or 1 and does not match them: Hosmer–Lemeshow is undefined');
    if (!Number.isFinite(h))
      fail(label, 'expects almost no defaults (ΣPD near 0): the Hosmer–Lemeshow statistic overflows');
  }
  const df = used.length - 2;
  return { statistic: h, df, p: chi2Sf(h, df) };
}

const LOGIT_CLIP = 1e-12;

/** logit of a PD clipped to [1e-12, 1 − 1e-12] (a PD of 0 or 1 has no finite logit). */
export function clippedLogit(p: number): number {
  const q = Math.min(Math.max(p, LOGIT_CLIP), 1 - LOGIT_CLIP);
  return Math.log(q / (1 - q));
}

/**
 * One pass of the logistic model η = a + b·x over the loans: its log-likelihood, the score (g0, g1) and the
 * Fisher information (h00, h01, h11). A Newton step is taken when the candidate's log-likelihood rises, and
 * the next step starts from there, so one pass serves both; sigmoid(η) and log1p(exp(η)) share one exponential.
 */
function logisticPass(x: Float64Array, outcomes: ArrayLike<number>, a: number, b: number) {
  let ll = 0;
  let g0 = 0;
  let g1 = 0;
  let h00 = 0;
  let h01 = 0;
  let h11 = 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i] as number;
    const y = outcomes[i] as number;
    const eta = a + b * xi;
    const e = Math.exp(eta > 0 ? -eta : eta);
    ll += y * eta - (eta > 0 ? eta + Math.log1p(e) : Math.log1p(e));
    const mu = eta >= 0 ? 1 / (1 + e) : e / (1 + e);
    const w = mu * (1 - mu);
    const r = y - mu;
    g0 += r;
    g1 += r * xi;
    h00 += w;
    h01 += w * xi;
    h11 += w * xi * xi;
  }
  return { ll, g0, g1, h00, h01, h11 };
}

export interface Estimate {
  readonly value: number;
  readonly se: number;
  readonly lower: number;
  readonly upper: number;
}

function estimate(value: number, se: number, z: number): Estimate {
  return { value, se, lower: value - z * se, upper: value + z * se };
}

export interface CalibrationInTheLarge {
  readonly meanPd: number;
  readonly observedRate: number;
  /** observedRate − meanPd. */
  readonly difference: number;
  /** Jeffreys (1 − α) interval of the observed default rate. */
  readonly rateLower: number;
  readonly rateUpper: number;
  /** (D − ΣPD) / √ΣPD(1 − PD) and its two-sided normal p-value. */
  readonly z: number;
  readonly p: number;
  /** The intercept a of logit P(default) = a + logit(PD) (PD as offset; 0 when calibrated), by Newton. */
  readonly intercept: Estimate;
}

export function calibrationInTheLarge(
  pds: ArrayLike<number>,
  outcomes: ArrayLike<number>,
  alpha = 0.05,
): CalibrationInTheLarge {
  checkOpenUnit('alpha', alpha);
  checkScored(pds, outcomes, { scoreField: 'pd', probability: true, minPerClass: 1 });
  const n = pds.length;
  let d = 0;
  let sum = 0;
  let sumVar = 0;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = pds[i] as number;
    d += outcomes[i] as number;
    sum += p;
    sumVar += p * (1 - p);
    x[i] = clippedLogit(p);
  }
  if (!(sumVar > 0)) fail('pd', 'are all 0 or 1: calibration-in-the-large has no variance');
  const z = (d - sum) / Math.sqrt(sumVar);
  let a = 0;
  let info = 0;
  let converged = false;
  let at = logisticPass(x, outcomes, a, 1);
  for (let it = 0; it < 100 && !converged; it++) {
    info = at.h00;
    let step = at.g0 / info;
    let next = logisticPass(x, outcomes, a + step, 1);
    for (let h = 0; h < 60 && !(next.ll >= at.ll); h++) {
      step /= 2;
      next = logisticPass(x, outcomes, a + step, 1);
    }
    a += step;
    at = next;
    converged = Math.abs(step) <= 1e-13 * Math.max(1, Math.abs(a));
  }
  if (!converged || !(info > 0)) fail('outcomes', 'calibration-in-the-large intercept did not converge');
  // the information at the final estimate
  info = at.h00;
  const rate = jeffreys(d, n, 0.5, alpha);
  const zq = normPpf(1 - alpha / 2);
  return {
    meanPd: sum / n,
    observedRate: d / n,
    difference: d / n - sum / n,
    rateLower: rate.lower,
    rateUpper: rate.upper,
    z,
    p: erfc(Math.abs(z) / Math.SQRT2),
    intercept: estimate(a, 1 / Math.sqrt(info), zq),
  };
}

export interface CalibrationSlope {
  /** a and b of logit P(default) = a + b·logit(PD): a = 0, b = 1 when calibrated; b < 1 PDs too extreme. */
  readonly intercept: Estimate;
  readonly slope: Estimate;
  /** Wald test of slope = 1: z and two-sided p. */
  readonly z: number;
  readonly p: number;
  readonly iterations: number;
}

/**
 * Logistic regression of the outcome on logit(PD) by Newton–Raphson (IRLS); standard errors from the inverse
 * Fisher information (statsmodels' Logit bse). Refused when it does not converge (outcomes separated by the PD).
 */
export function calibrationSlope(pds: ArrayLike<number>, outcomes: ArrayLike<number>, alpha = 0.05): CalibrationSlope {
  checkOpenUnit('alpha', alpha);
  checkScored(pds, outcomes, { scoreField: 'pd', probability: true, minPerClass: 1 });
  const n = pds.length;
  const x = new Float64Array(n);
  let distinct = false;
  for (let i = 0; i < n; i++) {
    x[i] = clippedLogit(pds[i] as number);
    if (x[i] !== x[0]) distinct = true;
  }
  if (!distinct) fail('pd', 'are all equal: the calibration slope is not identified');
  // start from the null model: a = logit(default rate), b = 0
  let defaults = 0;
  for (let i = 0; i < n; i++) defaults += outcomes[i] as number;
  let a = Math.log(defaults / (n - defaults));
  let b = 0;
  const at = logisticPass(x, outcomes, a, b);
  let iterations = 0;
  let converged = false;
  let det = at.h00 * at.h11 - at.h01 * at.h01;
  while (iterations < 100 && !converged) {
    if (!(det > 0)) break;
    let da = (at.h11 * at.g0 - at.h01 * at.g1) / det;
    let db = (at.h00 * at.g1 - at.h01 * at.g0) / det;
    // step halving: Newton from far away can overshoot; the log-likelihood is concave, so a short step rises
    let next = logisticPass(x, outcomes, a + da, b + db);
    for (let h = 0; h < 60 && !(next.ll >= at.ll); h++) {
      da /= 2;
      db /= 2;
      next = logisticPass(x, outcomes, a + da, b + db);
    }
    a += da;
    b += db;
    Object.assign(at, next);
    det = at.h00 * at.h11 - at.h01 * at.h01;
    iterations++;
    converged = Math.abs(da) <= 1e-13 * Math.max(1, Math.abs(a)) && Math.abs(db) <= 1e-13 * Math.max(1, Math.abs(b));
  }
  const { h00, h11 } = at;
  if (!converged || !(det > 0) || !Number.isFinite(a) || !Number.isFinite(b)) {
    fail('outcomes', 'are separated by the PD (or nearly): the calibration slope does not converge');
  }
  const zq = normPpf(1 - alpha / 2);
  const slope = estimate(b, Math.sqrt(h00 / det), zq);
  const z = (b - 1) / slope.se;
  return {
    intercept: estimate(a, Math.sqrt(h11 / det), zq),
    slope,
    z,
    p: erfc(Math.abs(z) / Math.SQRT2),
    iterations,
  };
}
