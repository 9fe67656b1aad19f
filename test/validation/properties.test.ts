/**
 * Properties of src/validation beyond the reference fixture: the AUC and KS ignore monotone transforms, PSI is 0
 * for identical distributions, DeLong's interval covers the true AUC about 95 % of the time, the accumulators
 * stream with bounded memory, and no statistic answers NaN: on any input it either answers finite numbers or
 * refuses with a ValidationInputError naming a field.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/runtime/random.js';
import {
  auc,
  aucDeLong,
  BandAccumulator,
  BinCounter,
  brier,
  calibrationInTheLarge,
  calibrationSlope,
  calibrationTable,
  chi2Sf,
  compareAuc,
  DriftAccumulator,
  gammaPQ,
  hosmerLemeshow,
  ks,
  normCdf,
  OutcomeSample,
  quantileEdges,
  quantileGroups,
  stability,
  ValidationInputError,
} from '../../src/validation/index.js';

const rng = seededRandom;

function normal(u: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

describe('invariances', () => {
  const u = rng(7);
  const n = 500;
  const y = Uint8Array.from({ length: n }, () => (u() < 0.2 ? 1 : 0));
  const s = Float64Array.from(y, (v) => Math.round((normal(u) + v) * 20) / 20); // with ties

  it('AUC and KS are unchanged by strictly increasing transforms', () => {
    const base = auc(s, y);
    const k = ks(s, y).ks;
    for (const f of [(x: number) => Math.exp(x), (x: number) => 3 * x - 7, (x: number) => x ** 3, Math.atan]) {
      const t = s.map(f);
      expect(auc(t, y)).toBe(base);
      expect(ks(t, y).ks).toBe(k);
    }
  });

  it('a decreasing transform turns the AUC into 1 − AUC', () => {
    expect(
      auc(
        s.map((x) => -x),
        y,
      ),
    ).toBeCloseTo(1 - auc(s, y), 14);
  });

  it('the DeLong test of a score against itself has z = 0 and p = 1', () => {
    const c = compareAuc(s, s, y);
    expect(c.difference).toBe(0);
    expect(c.z).toBe(0);
    expect(c.p).toBe(1);
  });

  it('PSI is 0 for identical distributions, also for samples of different sizes', () => {
    const counts = [5, 0, 17, 40, 2, 0];
    expect(stability(counts, counts).psi).toBe(0);
    expect(
      stability(
        counts,
        counts.map((c) => 3 * c),
      ).psi,
    ).toBeCloseTo(0, 15);
    const edges = quantileEdges(s);
    const a = new BinCounter({ kind: 'numeric', edges });
    for (const x of s) a.add(x);
    const r = stability(a.counts, a.counts);
    expect(r.psi).toBe(0);
    expect(r.band).toBe('stable');
    expect(r.p).toBe(1);
  });

  it('PSI grows with the shift and crosses the 0.25 band for a large one', () => {
    const edges = quantileEdges(s);
    const base = new BinCounter({ kind: 'numeric', edges });
    for (const x of s) base.add(x);
    let last = -1;
    for (const shift of [0, 0.2, 0.5, 1.5]) {
      const b = new BinCounter({ kind: 'numeric', edges });
      for (const x of s) b.add(x + shift);
      const r = stability(base.counts, b.counts);
      expect(r.psi).toBeGreaterThanOrEqual(last);
      last = r.psi;
    }
    expect(last).toBeGreaterThan(0.25);
  });
});

describe('deciles', () => {
  /** The definition: loans sorted by PD, ties in input order, group g the ranks ⌊g·n/k⌋ … ⌊(g+1)·n/k⌋ − 1. */
  function byDefinition(pds: Float64Array, outcomes: Uint8Array, k: number) {
    const order = Array.from({ length: pds.length }, (_, i) => i).sort(
      (a, b) => (pds[a] as number) - (pds[b] as number) || a - b,
    );
    return Array.from({ length: k }, (_, g) => {
      const ranks = order.slice(Math.floor((g * pds.length) / k), Math.floor(((g + 1) * pds.length) / k));
      let sumPd = 0;
      let sumVar = 0;
      for (const i of ranks) {
        sumPd += pds[i] as number;
        sumVar += (pds[i] as number) * (1 - (pds[i] as number));
      }
      const defaults = ranks.reduce((d, i) => d + (outcomes[i] as number), 0);
      return { label: `${g + 1}`, counts: { n: ranks.length, defaults, sumPd, sumVar } };
    });
  }

  it('quantileGroups equals the definition exactly, with runs of equal PDs cut by the group boundaries', () => {
    const r = rng(23);
    for (let t = 0; t < 200; t++) {
      const n = 10 + Math.floor(r() * 400);
      const digits = [1, 2, 3, 17][t % 4] as number;
      const pds = Float64Array.from({ length: n }, () => Math.round(r() ** 3 * 10 ** digits) / 10 ** digits);
      const outcomes = Uint8Array.from(pds, (p) => (r() < Math.max(0.05, p) ? 1 : 0));
      for (const k of [1, 3, 10])
        expect(quantileGroups(pds, outcomes, k), `${t} ${k}`).toEqual(byDefinition(pds, outcomes, k));
    }
  });
});

describe('DeLong interval coverage', () => {
  it('covers the true AUC in about 95 % of 400 simulated samples', () => {
    // defaults' scores N(1, 1), others' N(0, 1): true AUC = Φ(1/√2)
    const truth = normCdf(1 / Math.SQRT2);
    let covered = 0;
    const seeds = 400;
    for (let seed = 1; seed <= seeds; seed++) {
      const u = rng(seed * 7919);
      const y = Uint8Array.from({ length: 200 }, (_, i) => (i < 60 ? 1 : 0));
      const s = Float64Array.from(y, (v) => normal(u) + v);
      const r = aucDeLong(s, y);
      if (r.lower <= truth && truth <= r.upper) covered++;
    }
    expect(covered / seeds).toBeGreaterThan(0.91);
    expect(covered / seeds).toBeLessThan(0.985);
  });
});

describe('streaming accumulators', () => {
  it('OutcomeSample grows by doubling, keeps every loan and holds 9 bytes a loan (17 with a challenger)', () => {
    const sample = new OutcomeSample(['pd', 'challenger'], true, 4);
    const u = rng(3);
    const rows: [number, number, number][] = [];
    for (let i = 0; i < 10_000; i++) {
      const row: [number, number, number] = [u() < 0.1 ? 1 : 0, u(), u()];
      rows.push(row);
      sample.add(...row);
    }
    expect(sample.size).toBe(10_000);
    expect(Array.from(sample.outcomes)).toEqual(rows.map((r) => r[0]));
    expect(Array.from(sample.scores('challenger'))).toEqual(rows.map((r) => r[2]));
    expect(sample.bytes).toBeLessThanOrEqual(2 * 10_000 * 17);
    sample.trim();
    expect(sample.bytes).toBe(10_000 * 17);
    const one = new OutcomeSample();
    for (let i = 0; i < 1000; i++) one.add(i % 2, 0.5);
    one.trim();
    expect(one.bytes).toBe(9000); // 9 MB per million loans
  });

  it('OutcomeSample refuses a bad outcome or score, naming the field and row', () => {
    const sample = new OutcomeSample(['pd']);
    sample.add(0, 0.1);
    expect(() => sample.add(2, 0.1)).toThrow(/outcomes must be 0 or 1, got 2 \(row 1\)/);
    expect(() => sample.add(1, Number.NaN)).toThrow(/pd must be a finite number, got NaN \(row 1\)/);
    expect(() => sample.add(1, 1.5)).toThrow(/pd must be a probability from 0 to 1, got 1.5/);
    expect(() => sample.add(1)).toThrow(ValidationInputError);
    expect(sample.size).toBe(1);
  });

  it('BandAccumulator counts each PD in its band, 1 in the last, and holds four numbers a band', () => {
    const bands = new BandAccumulator([0, 0.1, 0.5, 1]);
    for (const [pd, y] of [
      [0, 0],
      [0.0999, 1],
      [0.1, 0],
      [0.5, 1],
      [1, 1],
    ] as const)
      bands.add(pd, y);
    const g = bands.groups();
    expect(g.map((b) => b.label)).toEqual(['[0, 0.1)', '[0.1, 0.5)', '[0.5, 1]']);
    expect(g.map((b) => [b.counts.n, b.counts.defaults])).toEqual([
      [2, 1],
      [1, 0],
      [2, 2],
    ]);
    expect(() => bands.add(1.01, 0)).toThrow(/pd must be a probability/);
    expect(() => new BandAccumulator([0, 0.5])).toThrow(
      /bands must be at least two edges starting at 0 and ending at 1/,
    );
    expect(() => new BandAccumulator([0, 0.5, 0.5, 1])).toThrow(/strictly increasing/);
  });

  it('BinCounter puts missing values in their own bin and unknown levels in "other"', () => {
    const c = new BinCounter({ kind: 'levels', levels: ['C', 'R'] }, 'channel');
    for (const v of ['C', 'R', 'R', 'T', null, undefined, '']) c.add(v);
    expect(Array.from(c.counts)).toEqual([1, 2, 1, 3]);
    const n = new BinCounter({ kind: 'numeric', edges: [1, 2] }, 'fico');
    for (const v of [0, 1, 1.5, 2, 3, Number.NaN, null]) n.add(v);
    expect(Array.from(n.counts)).toEqual([2, 2, 1, 2]);
    expect(() => n.add('abc')).toThrow(/fico must be a number or missing/);
    expect(() => new BinCounter({ kind: 'numeric', edges: [2, 1] }, 'fico')).toThrow(/fico.edges must be strictly/);
  });

  it('DriftAccumulator reports CSI per field against baseline counts', () => {
    const drift = new DriftAccumulator({
      channel: { bins: { kind: 'levels', levels: ['C', 'R'] }, baseline: [50, 50, 0, 0] },
      fico: { bins: { kind: 'numeric', edges: [700] }, baseline: [30, 70, 0] },
    });
    for (let i = 0; i < 100; i++) drift.add({ channel: i < 50 ? 'C' : 'R', fico: i < 30 ? 650 : 750 });
    const r = drift.report();
    expect(r.channel?.psi).toBe(0);
    expect(r.fico?.psi).toBe(0);
    expect(r.fico?.labels).toEqual(['(-inf, 700]', '(700, inf)', 'missing']);
    expect(() => new DriftAccumulator({ fico: { bins: { kind: 'numeric', edges: [700] }, baseline: [1, 2] } })).toThrow(
      /fico.baseline needs 3 counts/,
    );
  });
});

describe('policy', () => {
  const groups = [
    { label: 'a', counts: { n: 1000, defaults: 10, sumPd: 10, sumVar: 9.9 } },
    { label: 'b', counts: { n: 1000, defaults: 35, sumPd: 20, sumVar: 19.6 } },
  ];
  it('the thresholds decide the lights; "worst" carries a red band to the overall light', () => {
    const t = calibrationTable(groups);
    expect(t.rows.map((r) => r.light)).toEqual(['green', 'red']);
    expect(t.worst).toBe('b');
    expect(
      calibrationTable(groups, { policy: { test: 'binomial', green: 0.05, red: 0.01, overall: 'worst' } }).light,
    ).toBe('red');
    const lax = calibrationTable(groups, { policy: { test: 'binomial', green: 1e-6, red: 1e-9, overall: 'worst' } });
    expect(lax.light).toBe('green');
    expect(lax.worst).toBeNull();
  });
  it('refuses a policy or correlation it cannot use', () => {
    expect(() => calibrationTable(groups, { rho: 1 })).toThrow(/rho must be an asset correlation/);
    expect(() =>
      calibrationTable(groups, { policy: { test: 'binomial', green: 0.01, red: 0.05, overall: 'pool' } }),
    ).toThrow(/policy thresholds must satisfy/);
    expect(() => aucDeLong([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1], 1.5)).toThrow(/alpha must be/);
  });
});

/** True when every number in `v` (recursively) is finite. */
function allFinite(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (v && typeof v === 'object') return Object.values(v).every(allFinite);
  return true;
}

describe('never NaN', () => {
  it('the χ² tail of an enormous statistic is 0, not a failed continued fraction (found by the fuzz below)', () => {
    expect(chi2Sf(1e300, 8)).toBe(0);
    expect(gammaPQ(4, 5e299)).toEqual({ p: 1, q: 0 });
    expect(gammaPQ(5e299, 4)).toEqual({ p: 0, q: 1 });
    const pd = [0.06, 0.0099, 0.78, 1e-300, 0.03, 0.001, 0.63, 0.12, 1e-300, 0.5];
    const y = [0, 1, 0, 0, 1, 0, 0, 1, 1, 0];
    expect(hosmerLemeshow(quantileGroups(pd, y)).p).toBe(0);
  });

  const statistics: Record<string, (pd: number[], y: number[]) => unknown> = {
    auc: (pd, y) => aucDeLong(pd, y),
    ks: (pd, y) => ks(pd, y),
    compare: (pd, y) =>
      compareAuc(
        pd,
        pd.map((p) => p * p),
        y,
      ),
    brier: (pd, y) => brier(pd, y),
    inTheLarge: (pd, y) => calibrationInTheLarge(pd, y),
    slope: (pd, y) => calibrationSlope(pd, y),
    deciles: (pd, y) => calibrationTable(quantileGroups(pd, y)),
    hosmerLemeshow: (pd, y) => hosmerLemeshow(quantileGroups(pd, y)),
    bands: (pd, y) => {
      const b = new BandAccumulator();
      pd.forEach((p, i) => {
        b.add(p, y[i] as number);
      });
      return calibrationTable(b.groups());
    },
  };
  it('answers finite numbers or refuses naming a field, on 300 awkward inputs each', () => {
    const u = rng(11);
    const values = [0, 1, 1e-300, 0.5, 0.5, 1 - 1e-16, Number.NaN, -0.1, 1.1, Number.POSITIVE_INFINITY];
    for (const [name, statistic] of Object.entries(statistics)) {
      for (let trial = 0; trial < 300; trial++) {
        const n = Math.floor(u() * 14);
        const bad = u() < 0.3;
        const pd = Array.from({ length: n }, () =>
          bad || u() < 0.3 ? (values[Math.floor(u() * values.length)] as number) : u() ** 3,
        );
        const y = Array.from({ length: n }, () => (u() < 0.05 ? 2 : u() < 0.4 ? 1 : 0));
        try {
          const r = statistic(pd, y);
          if (!allFinite(r)) expect.fail(`${name} answered a non-finite number for ${JSON.stringify([pd, y])}`);
        } catch (e) {
          if (!(e instanceof ValidationInputError))
            expect.fail(`${name} threw ${String(e)} for ${JSON.stringify([pd, y])}`);
          expect(e.problems[0]?.field).toMatch(/\w/);
        }
      }
    }
  });
});
