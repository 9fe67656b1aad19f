/**
 * src/validation against the reference libraries on test/fixtures/validation.json (scripts/validation_fixture.py):
 * scikit-learn's AUC, a direct numpy DeLong, SciPy's KS, binomtest, beta, norm, chi2 and special functions,
 * statsmodels' Logit. Every figure to 1e-9 relative (absolute 1e-15 below, for p-values of order 1e-6 and
 * smaller, whose complement is computed), every light and band exactly.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  aucDeLong,
  BandAccumulator,
  BinCounter,
  betaInc,
  betaIncInv,
  binomTestTwoSided,
  brier,
  calibrationInTheLarge,
  calibrationSlope,
  calibrationTable,
  chi2Ppf,
  compareAuc,
  gammaPQ,
  hosmerLemeshow,
  ks,
  normCdf,
  normPpf,
  normSf,
  quantileEdges,
  quantileGroups,
  stability,
  ValidationInputError,
} from '../../src/validation/index.js';

// biome-ignore lint/suspicious/noExplicitAny: the fixture's JSON
type Json = any;
const fixture: Json = JSON.parse(readFileSync(new URL('../fixtures/validation.json', import.meta.url), 'utf8'));

const TOL = 1e-9;

/** |actual − expected| ≤ 1e-9·|expected| + 1e-15. */
function close(actual: number, expected: number, what: string): void {
  const ok = Math.abs(actual - expected) <= TOL * Math.abs(expected) + 1e-15;
  if (!ok) expect.fail(`${what}: ${actual} vs ${expected} (rel ${Math.abs(actual - expected) / Math.abs(expected)})`);
}

/** Every number of `expected` (recursively) equals the same path of `actual`; strings exactly. */
function same(actual: Json, expected: Json, what: string): void {
  if (typeof expected === 'number') close(actual, expected, what);
  else if (typeof expected === 'string') expect(actual, what).toBe(expected);
  else if (Array.isArray(expected)) {
    for (const [i, e] of expected.entries()) same(actual[i], e, `${what}[${i}]`);
  } else for (const [k, v] of Object.entries(expected)) same(actual?.[k], v, `${what}.${k}`);
}

const { policy } = fixture;
const options = { rho: policy.rho, alpha: policy.alpha };

describe.each(fixture.cases as Json[])('$name', (c) => {
  const pd = Float64Array.from(c.pd);
  const y = Uint8Array.from(c.outcomes);

  it('AUC, Gini and the DeLong interval equal scikit-learn and the numpy DeLong', () => {
    same(aucDeLong(pd, y, policy.alpha), c.auc, 'auc');
  });

  it('the DeLong test of champion against challenger equals the numpy DeLong', () => {
    same(compareAuc(pd, Float64Array.from(c.challenger), y), c.compare, 'compare');
  });

  it('KS equals scipy.stats.ks_2samp', () => {
    close(ks(pd, y).ks, c.ks, 'ks');
  });

  it('Brier, calibration-in-the-large and the calibration slope equal numpy, SciPy and statsmodels', () => {
    close(brier(pd, y), c.brier, 'brier');
    same(calibrationInTheLarge(pd, y, policy.alpha), c.inTheLarge, 'inTheLarge');
    same(calibrationSlope(pd, y, policy.alpha), c.slope, 'slope');
  });

  it('PD bands (streamed): binomial, Jeffreys and Vasicek tests and lights equal SciPy', () => {
    const bands = new BandAccumulator(policy.bands);
    for (let i = 0; i < pd.length; i++) bands.add(pd[i] as number, y[i] as number);
    same(calibrationTable(bands.groups(), options), c.bands, 'bands');
  });

  it('deciles and Hosmer–Lemeshow equal SciPy', () => {
    const groups = quantileGroups(pd, y);
    same(calibrationTable(groups, options), c.deciles, 'deciles');
    same(hosmerLemeshow(groups), c.hosmerLemeshow, 'hosmerLemeshow');
  });
});

describe('drift', () => {
  it.each(fixture.drift as Json[])('PSI of the score and CSI of a coded field equal numpy and SciPy (%#)', (d) => {
    const edges = quantileEdges(d.baseline);
    same(edges, d.edges, 'edges');
    const base = new BinCounter({ kind: 'numeric', edges });
    const sample = new BinCounter({ kind: 'numeric', edges });
    for (const x of d.baseline) base.add(x);
    for (const x of d.sample) sample.add(x);
    expect(Array.from(base.counts)).toEqual(d.baselineCounts);
    expect(Array.from(sample.counts)).toEqual(d.sampleCounts);
    same(stability(base.counts, sample.counts), d.psi, 'psi');
    const bins = { kind: 'levels' as const, levels: d.levels };
    const lb = new BinCounter(bins, 'channel');
    const ls = new BinCounter(bins, 'channel');
    for (const x of d.baselineLevels) lb.add(x);
    for (const x of d.sampleLevels) ls.add(x);
    expect(Array.from(lb.counts)).toEqual(d.levelBaselineCounts);
    expect(Array.from(ls.counts)).toEqual(d.levelSampleCounts);
    same(stability(lb.counts, ls.counts), d.csi, 'csi');
  });
});

describe('special functions equal SciPy', () => {
  const s = fixture.special;
  it('betaincinv and betainc', () => {
    for (const [a, b, p, x] of s.betaIncInv) close(betaIncInv(a, b, p), x, `betaincinv(${a}, ${b}, ${p})`);
    for (const [a, b, x, p] of s.betaInc) close(betaInc(a, b, x), p, `betainc(${a}, ${b}, ${x})`);
  });
  it('gammainc and gammaincc', () => {
    for (const [a, x, p, q] of s.gamma) {
      const r = gammaPQ(a, x);
      close(r.p, p, `gammainc(${a}, ${x})`);
      close(r.q, q, `gammaincc(${a}, ${x})`);
    }
  });
  it('chi2.ppf', () => {
    for (const [q, k, x] of s.chi2Ppf) close(chi2Ppf(q, k), x, `chi2.ppf(${q}, ${k})`);
  });
  it('norm.cdf, norm.sf and norm.ppf', () => {
    for (const [z, cdf, sf] of s.norm) {
      close(normCdf(z), cdf, `norm.cdf(${z})`);
      close(normSf(z), sf, `norm.sf(${z})`);
    }
    for (const [p, z] of s.normPpf) close(normPpf(p), z, `norm.ppf(${p})`);
  });
  it('binomtest', () => {
    for (const [k, n, p, pv] of s.binomTest) close(binomTestTwoSided(k, n, p), pv, `binomtest(${k}, ${n}, ${p})`);
  });
});

describe('refusals name the field and never answer NaN', () => {
  const run: Record<string, (r: Json) => unknown> = {
    auc: (r) => aucDeLong(r.pd.map(Number), r.outcomes).auc,
    aucDeLong: (r) => aucDeLong(r.pd.map(Number), r.outcomes),
    brier: (r) => brier(r.pd.map(Number), r.outcomes),
    calibrationSlope: (r) => calibrationSlope(r.pd.map(Number), r.outcomes),
    calibrationInTheLarge: (r) => calibrationInTheLarge(r.pd.map(Number), r.outcomes),
    ks: (r) => ks(r.pd.map(Number), r.outcomes),
    deciles: (r) => quantileGroups(r.pd.map(Number), r.outcomes),
    psi: (r) => stability(r.baseline, r.sample),
  };
  it.each(fixture.refusals as Json[])('$statistic refuses with a problem naming $field', (r) => {
    let error: unknown;
    try {
      run[r.statistic]?.(r);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationInputError);
    const problems = (error as ValidationInputError).problems;
    expect(problems[0]?.field).toBe(r.field);
    expect(problems[0]?.message).toMatch(/\w/);
  });
});
