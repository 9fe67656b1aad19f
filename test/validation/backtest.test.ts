/**
 * The backtest report (src/validation/backtest.ts) composes the statistics of src/validation: on the cases of
 * test/fixtures/validation.json its figures equal scikit-learn's, SciPy's and statsmodels' (the fixture's), and
 * each `by` group's figures equal those of its loans taken alone.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/runtime/random.js';
import { auc, Backtest, calibrationRow } from '../../src/validation/index.js';

// biome-ignore lint/suspicious/noExplicitAny: the fixture's JSON
type Json = any;
const fixture: Json = JSON.parse(readFileSync(new URL('../fixtures/validation.json', import.meta.url), 'utf8'));
const { policy } = fixture;

const close = (actual: number, expected: number, what: string) => {
  if (!(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected) + 1e-15))
    expect.fail(`${what}: ${actual} vs ${expected}`);
};

describe.each(fixture.cases as Json[])('backtest of $name', (c) => {
  const bt = new Backtest({ rho: policy.rho, alpha: policy.alpha, bands: policy.bands, challenger: true });
  for (const [i, p] of (c.pd as number[]).entries()) bt.add(p, c.outcomes[i], [], c.challenger[i]);
  const r = bt.report();

  it('reports the reference libraries’ AUC (DeLong interval), Gini, KS, Brier and the challenger comparison', () => {
    if ('unavailable' in r.auc || 'unavailable' in r.ks || 'unavailable' in r.gini) return expect.fail('unavailable');
    close(r.auc.value, c.auc.auc, 'auc');
    close(r.auc.lower, c.auc.lower, 'auc.lower');
    close(r.auc.upper, c.auc.upper, 'auc.upper');
    close(r.gini.value, c.auc.gini, 'gini');
    close(r.ks.value, c.ks, 'ks');
    close(r.brier, c.brier, 'brier');
    const cmp = r.challenger?.comparison as Json;
    close(cmp.difference, c.compare.aucA - c.compare.aucB, 'difference');
    close(cmp.z, c.compare.z, 'compare.z');
    close(cmp.p, c.compare.p, 'compare.p');
  });

  it('reports calibration in the large, the slope, Hosmer–Lemeshow and the band and decile rows of the references', () => {
    const cal = r.calibration as Json;
    close(cal.in_the_large.observed_rate_lower, c.inTheLarge.rateLower, 'rateLower');
    close(cal.in_the_large.intercept.value, c.inTheLarge.intercept.value, 'intercept');
    close(cal.slope.slope.value, c.slope.slope.value, 'slope');
    close(cal.slope.p, c.slope.p, 'slope.p');
    close(cal.hosmer_lemeshow.statistic, c.hosmerLemeshow.statistic, 'HL');
    close(cal.hosmer_lemeshow.p, c.hosmerLemeshow.p, 'HL p');
    for (const [name, mine] of [
      ['bands', cal.pd_bands],
      ['deciles', cal.deciles],
    ] as const) {
      const ref = c[name];
      expect(mine.light).toBe(ref.light);
      expect(mine.rows.map((x: Json) => x.group)).toEqual(ref.rows.map((x: Json) => x.label));
      ref.rows.forEach((x: Json, i: number) => {
        close(mine.rows[i].binomial_p, x.binomialP, `${name}[${i}].binomialP`);
        close(mine.rows[i].jeffreys_p, x.jeffreys.p, `${name}[${i}].jeffreys`);
        close(mine.rows[i].vasicek_p, x.vasicek.p, `${name}[${i}].vasicek`);
        expect(mine.rows[i].light).toBe(x.light);
      });
    }
  });
});

describe('backtest groups', () => {
  const random = seededRandom(23);
  const loans = Array.from({ length: 3000 }, () => {
    const pd = 0.005 + 0.2 * random() ** 2;
    return {
      pd,
      outcome: random() < pd ? 1 : 0,
      vintage: String(2001 + Math.floor(random() * 5)),
      state: ['CA', 'FL', 'TX'][Math.floor(random() * 3)] as string,
    };
  });
  const bt = new Backtest({ by: ['vintage', 'state'] });
  for (const l of loans) bt.add(l.pd, l.outcome, [l.vintage, l.state]);
  const r = bt.report();

  it.each(['vintage', 'state'] as const)('gives each %s the figures of its loans alone, sorted by key', (dim) => {
    const keys = [...new Set(loans.map((l) => l[dim]))].sort();
    expect(r.by[dim]?.map((g) => g.group)).toEqual(keys);
    for (const g of r.by[dim] ?? []) {
      const own = loans.filter((l) => l[dim] === g.group);
      const counts = {
        n: own.length,
        defaults: own.reduce((s, l) => s + l.outcome, 0),
        sumPd: own.reduce((s, l) => s + l.pd, 0),
        sumVar: own.reduce((s, l) => s + l.pd * (1 - l.pd), 0),
      };
      const row = calibrationRow(g.group, counts);
      expect(g.loans).toBe(own.length);
      expect(g.defaults).toBe(counts.defaults);
      close(g.mean_pd, row.meanPd, 'mean_pd');
      close(g.binomial_p, row.binomialP, 'binomial');
      expect(g.light).toBe(row.light);
      close(
        g.auc as number,
        auc(
          own.map((l) => l.pd),
          own.map((l) => l.outcome),
        ),
        'auc',
      );
    }
  });

  it('says why a statistic is unavailable instead of answering NaN or refusing the report', () => {
    const few = new Backtest({ by: ['vintage'] });
    few.add(0.1, 1, ['2001']);
    for (let i = 0; i < 30; i++) few.add(0.05, 0, [i < 15 ? '2001' : '2002']);
    const f = few.report();
    expect(f.auc).toEqual({ unavailable: expect.stringMatching(/at least 2/) });
    expect(typeof (f.ks as Json).value).toBe('number');
    expect(f.by.vintage?.find((g) => g.group === '2002')?.auc).toBeNull();
    expect(JSON.stringify(f)).not.toMatch(/NaN|null,"loans"/);
  });

  it('refuses an empty backtest and wrong group keys, naming the field', () => {
    expect(() => new Backtest().report()).toThrow(/outcomes are empty/);
    expect(() => new Backtest({ by: ['state'] }).add(0.1, 0, [])).toThrow(/groups expected 1 group keys/);
  });
});
