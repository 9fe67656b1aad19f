/**
 * The special functions the tests need, in double precision: log-gamma, the regularised incomplete gamma and
 * beta functions (series and Lentz continued fractions, Numerical Recipes ch. 6), their inverses (safeguarded
 * Newton/Halley), the normal distribution (through the incomplete gamma, so the far tails keep their relative
 * precision) and the binomial probability (Loader's saddle-point form, as R's dbinom). Checked against SciPy in
 * test/validation/special.test.ts (test/fixtures/validation.json).
 */

const EPS = 1e-16;
const FPMIN = 1e-300;
const MAX_ITER = 100_000;

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; about 1e-15 relative). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let s = LANCZOS[0] as number;
  for (let i = 1; i < 9; i++) s += (LANCZOS[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

function notConverged(what: string): never {
  throw new Error(`${what} did not converge`);
}

/** The regularised lower incomplete gamma P(a, x) and its complement Q(a, x) = 1 − P, both accurately. */
export function gammaPQ(a: number, x: number): { p: number; q: number } {
  if (!(a > 0) || !(x >= 0)) throw new RangeError(`gammaPQ needs a > 0 and x ≥ 0, got a=${a}, x=${x}`);
  if (x === 0) return { p: 0, q: 1 };
  if (x === Number.POSITIVE_INFINITY) return { p: 1, q: 0 };
  const front = Math.exp(-x + a * Math.log(x) - lnGamma(a));
  // far in a tail the prefactor underflows: the series and the fraction are bounded, so the tail is 0
  if (front === 0) return x < a + 1 ? { p: 0, q: 1 } : { p: 1, q: 0 };
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < MAX_ITER; i++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) {
        const p = sum * front;
        return { p, q: 1 - p };
      }
    }
    notConverged('incomplete gamma series');
  }
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) {
      const q = front * h;
      return { p: 1 - q, q };
    }
  }
  return notConverged('incomplete gamma continued fraction');
}

/** χ² survival function: P(X > x) for k degrees of freedom (scipy.stats.chi2.sf). */
export function chi2Sf(x: number, k: number): number {
  if (x <= 0) return 1;
  return gammaPQ(k / 2, x / 2).q;
}

/** χ² cumulative distribution function (scipy.stats.chi2.cdf). */
export function chi2Cdf(x: number, k: number): number {
  if (x <= 0) return 0;
  return gammaPQ(k / 2, x / 2).p;
}

/** χ² quantile (scipy.stats.chi2.ppf) for 0 < q < 1: Newton on P(k/2, x/2), kept inside a bisection bracket. */
export function chi2Ppf(q: number, k: number): number {
  if (!(q > 0 && q < 1) || !(k > 0)) throw new RangeError(`chi2Ppf needs 0 < q < 1 and k > 0, got q=${q}, k=${k}`);
  const a = k / 2;
  // Wilson–Hilferty start
  const z = normPpf(q);
  const w = 1 - 2 / (9 * k) + z * Math.sqrt(2 / (9 * k));
  let x = Math.max(k * w * w * w, 1e-8);
  let lo = 0;
  let hi = Number.POSITIVE_INFINITY;
  const lnDen = lnGamma(a) + a * Math.LN2;
  for (let i = 0; i < 200; i++) {
    const { p, q: upper } = gammaPQ(a, x / 2);
    // compare on the side with the better relative precision
    const f = q < 0.5 ? p - q : 1 - q - upper;
    if (f > 0) hi = x;
    else lo = x;
    const density = Math.exp((a - 1) * Math.log(x) - x / 2 - lnDen);
    let next = x - f / density;
    if (!(next > lo && next < hi)) next = hi === Number.POSITIVE_INFINITY ? Math.max(2 * x, 1) : (lo + hi) / 2;
    if (Math.abs(next - x) <= 1e-15 * x) return next;
    x = next;
  }
  return x;
}

/** erfc(x), through Q(½, x²) so the tail keeps its relative precision. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) throw new RangeError('erfc of NaN');
  if (x === 0) return 1;
  const { p, q } = gammaPQ(0.5, x * x);
  return x > 0 ? q : 1 + p;
}

/** Standard normal CDF Φ(z) (scipy.stats.norm.cdf). */
export function normCdf(z: number): number {
  if (z === Number.NEGATIVE_INFINITY) return 0;
  if (z === Number.POSITIVE_INFINITY) return 1;
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Standard normal survival function 1 − Φ(z) (scipy.stats.norm.sf). */
export function normSf(z: number): number {
  return normCdf(-z);
}

const A = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
];
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
const C = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];

function acklam(p: number): number {
  const [a0, a1, a2, a3, a4, a5] = A as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = B as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = C as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = D as [number, number, number, number];
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}

/** Standard normal quantile Φ⁻¹(p) (scipy.stats.norm.ppf): Acklam's start, then Newton on the lower tail. */
export function normPpf(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normPpf needs 0 ≤ p ≤ 1, got ${p}`);
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  if (p > 0.5) return -normPpf(1 - p); // 1 − p is exact for p ≥ ½
  let x = acklam(p);
  for (let i = 0; i < 50; i++) {
    const density = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
    const step = (normCdf(x) - p) / density;
    x -= step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return x;
}

function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < MAX_ITER; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h;
  }
  return notConverged('incomplete beta continued fraction');
}

function lnBeta(a: number, b: number): number {
  return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
}

/** The regularised incomplete beta I_x(a, b) (scipy.special.betainc), a, b > 0, 0 ≤ x ≤ 1. */
export function betaInc(a: number, b: number, x: number): number {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) {
    throw new RangeError(`betaInc needs a, b > 0 and 0 ≤ x ≤ 1, got a=${a}, b=${b}, x=${x}`);
  }
  if (x === 0) return 0;
  if (x === 1) return 1;
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - lnBeta(a, b));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/**
 * The inverse of I_x(a, b) in x (scipy.special.betaincinv, = scipy.stats.beta.ppf): the start of Numerical
 * Recipes' invbetai, then Halley steps on I_x(a, b) − p kept inside a bisection bracket of [0, 1].
 */
export function betaIncInv(a: number, b: number, p: number): number {
  if (!(a > 0 && b > 0) || !(p >= 0 && p <= 1)) {
    throw new RangeError(`betaIncInv needs a, b > 0 and 0 ≤ p ≤ 1, got a=${a}, b=${b}, p=${p}`);
  }
  if (p === 0) return 0;
  if (p === 1) return 1;
  let x: number;
  if (a >= 1 && b >= 1) {
    const pp = p < 0.5 ? p : 1 - p;
    const t = Math.sqrt(-2 * Math.log(pp));
    let z = (2.30753 + t * 0.27061) / (1 + t * (0.99229 + t * 0.04481)) - t;
    if (p < 0.5) z = -z;
    const al = (z * z - 3) / 6;
    const h = 2 / (1 / (2 * a - 1) + 1 / (2 * b - 1));
    const w = (z * Math.sqrt(al + h)) / h - (1 / (2 * b - 1) - 1 / (2 * a - 1)) * (al + 5 / 6 - 2 / (3 * h));
    x = a / (a + b * Math.exp(2 * w));
  } else {
    const lna = Math.log(a / (a + b));
    const lnb = Math.log(b / (a + b));
    const t = Math.exp(a * lna) / a;
    const u = Math.exp(b * lnb) / b;
    const w = t + u;
    x = p < t / w ? (a * w * p) ** (1 / a) : 1 - (b * w * (1 - p)) ** (1 / b);
  }
  if (!(x > 0 && x < 1)) x = 0.5;
  const afac = -lnBeta(a, b);
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 300; i++) {
    const err = betaInc(a, b, x) - p;
    if (err === 0) return x;
    if (err > 0) hi = x;
    else lo = x;
    const density = Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) + afac);
    const u = err / density;
    const step = u / (1 - 0.5 * Math.min(1, u * ((a - 1) / x - (b - 1) / (1 - x))));
    let next = x - step;
    if (!(next > lo && next < hi) || !Number.isFinite(next)) next = (lo + hi) / 2;
    if (Math.abs(next - x) <= 1e-16 * x || hi - lo <= 1e-16 * x) return next;
    x = next;
  }
  return x;
}

const LN_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** Stirling's error ln(n!) − [(n + ½) ln n − n + ln √(2π)], for n ≥ 1 (as R's stirlerr). */
function stirlerr(n: number): number {
  if (n <= 15) return lnGamma(n + 1) - (n + 0.5) * Math.log(n) + n - LN_SQRT_2PI;
  const nn = n * n;
  const S0 = 1 / 12;
  const S1 = 1 / 360;
  const S2 = 1 / 1260;
  const S3 = 1 / 1680;
  const S4 = 1 / 1188;
  if (n > 500) return (S0 - S1 / nn) / n;
  if (n > 80) return (S0 - (S1 - S2 / nn) / nn) / n;
  if (n > 35) return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n;
  return (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n;
}

/** x ln(x/np) + np − x, without cancellation (Loader's bd0). */
function bd0(x: number, np: number): number {
  if (Math.abs(x - np) < 0.1 * (x + np)) {
    let v = (x - np) / (x + np);
    let s = (x - np) * v;
    let ej = 2 * x * v;
    v *= v;
    for (let j = 1; j < 1000; j++) {
      ej *= v;
      const s1 = s + ej / (2 * j + 1);
      if (s1 === s) return s1;
      s = s1;
    }
  }
  return x * Math.log(x / np) + np - x;
}

/** Binomial probability P(X = k), X ~ Bin(n, p) (scipy.stats.binom.pmf), Loader's algorithm. */
export function binomPmf(k: number, n: number, p: number): number {
  const q = 1 - p;
  if (k < 0 || k > n) return 0;
  if (p === 0) return k === 0 ? 1 : 0;
  if (q === 0) return k === n ? 1 : 0;
  if (k === 0) {
    if (n === 0) return 1;
    return Math.exp(p < 0.1 ? -bd0(n, n * q) - n * p : n * Math.log(q));
  }
  if (k === n) return Math.exp(q < 0.1 ? -bd0(n, n * p) - n * q : n * Math.log(p));
  const lc = stirlerr(n) - stirlerr(k) - stirlerr(n - k) - bd0(k, n * p) - bd0(n - k, n * q);
  const lf = Math.log(2 * Math.PI) + Math.log(k) + Math.log1p(-k / n);
  return Math.exp(lc - 0.5 * lf);
}

/** Σ pmf(x) from `from` stepping by `step` (±1) while inside [0, n], the terms shrinking away from the mode. */
function tail(from: number, step: 1 | -1, n: number, p: number): number {
  let sum = 0;
  for (let x = from; x >= 0 && x <= n; x += step) {
    const term = binomPmf(x, n, p);
    sum += term;
    if (term <= sum * 1e-18) break;
  }
  return sum;
}

/** P(X ≤ k) for k at or below the mean (summed downwards). */
function lowerTail(k: number, n: number, p: number): number {
  return k < 0 ? 0 : tail(k, -1, n, p);
}

/** P(X ≥ k) for k at or above the mode (summed upwards). */
function upperTail(k: number, n: number, p: number): number {
  return k > n ? 0 : tail(Math.max(k, 0), 1, n, p);
}

/** scipy.stats._binomtest._binary_search_for_binom_tst: i with a(i) ≤ d < a(i + 1). */
function binarySearch(a: (x: number) => number, d: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const v = a(mid);
    if (v < d) lo = mid + 1;
    else if (v > d) hi = mid - 1;
    else return mid;
  }
  return a(lo) <= d ? lo : lo - 1;
}

/**
 * The exact two-sided binomial test's p-value, as scipy.stats.binomtest(k, n, p).pvalue computes it: the
 * probability of every outcome no more likely than k (with SciPy's relative tolerance 1e-7 on "no more likely").
 */
export function binomTestTwoSided(k: number, n: number, p: number): number {
  const d = binomPmf(k, n, p);
  const rerr = 1 + 1e-7;
  if (k === p * n) return 1;
  let pval: number;
  if (k < p * n) {
    const ix = binarySearch((x) => -binomPmf(x, n, p), -d * rerr, Math.ceil(p * n), n);
    const y = n - ix + (d * rerr === binomPmf(ix, n, p) ? 1 : 0);
    pval = lowerTail(k, n, p) + upperTail(n - y + 1, n, p);
  } else {
    const ix = binarySearch((x) => binomPmf(x, n, p), d * rerr, 0, Math.floor(p * n));
    const y = ix + 1;
    pval = lowerTail(y - 1, n, p) + upperTail(k, n, p);
  }
  return Math.min(1, pval);
}
