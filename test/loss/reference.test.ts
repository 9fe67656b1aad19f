/**
 * The TypeScript lifetime-loss engine (src/loss) against its Python reference (scripts/loanmodel/lifetime.py)
 * on test/fixtures/lifetime.json (scripts/lifetime_fixture.py): the generated tape under presets, `historical`
 * and a custom path, each timing curve, hazard and prepayment kind (the scenario's
 * prepayment process included), prescribed SDA and CDR defaults, recovery lags 0–24; every per-loan figure and every
 * month of the pool's vectors to 1e-10 relative.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type Defaults,
  type Hazard,
  type LoanTerms,
  type LossOptions,
  loanTerms,
  MAX_TERM,
  monthlyHpi,
  monthlyMarketRate,
  PoolLoss,
  type Prepayment,
  plan,
  seasonedInputs,
  type Timing,
} from '../../src/loss/index.js';
import { checkScenario, type Scenario } from '../../src/scenario/index.js';

interface Case {
  scenario: unknown;
  timing: Timing;
  hazard?: Hazard;
  prepayment: Prepayment;
  recovery_lag: number;
  defaults?: Defaults;
  loans: number[][];
  vectors: number[][];
}
interface Fixture {
  result_keys: string[];
  vector_keys: string[];
  loans: { record: Record<string, unknown>; pd: number; age: number }[];
  cases: Case[];
}

const read = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const fixture = read('lifetime.json') as Fixture;
/** Seasoned records (loan_age 0–120, current_upb on the schedule and below it): scripts/lifetime_seasoned_fixture.py. */
const seasoned = read('lifetime-seasoned.json') as Omit<Fixture, 'loans'> & {
  loans: { record: Record<string, unknown>; pd: number }[];
};

const RESULT_FIELDS = {
  expected_loss_12m: 'expectedLoss12m',
  expected_loss_36m: 'expectedLoss36m',
  expected_loss_lifetime: 'expectedLossLifetime',
  discounted_loss_12m: 'discountedLoss12m',
  discounted_loss_36m: 'discountedLoss36m',
  discounted_loss_lifetime: 'discountedLossLifetime',
  lifetime_pd: 'lifetimePd',
  pd36: 'pd36',
  wal: 'wal',
  scale: 'scale',
} as const;

function close(actual: number, expected: number, what: string): void {
  const tol = 1e-10 * Math.max(1, Math.abs(expected));
  if (!(Math.abs(actual - expected) <= tol)) expect.fail(`${what}: ${actual} ≠ ${expected}`);
}

function lossOptions(c: Case): LossOptions {
  return {
    timing: c.timing,
    ...(c.hazard === undefined ? {} : { hazard: c.hazard }),
    prepayment: c.prepayment,
    recoveryLag: c.recovery_lag,
    ...(c.defaults === undefined ? {} : { defaults: c.defaults }),
  };
}

/** Adds the loans to a pool and compares each loan's figures and the pool's vectors with the case's. */
function compare(
  c: Case,
  keys: Pick<Fixture, 'result_keys' | 'vector_keys'>,
  inputs: readonly { terms: LoanTerms; hpi: ArrayLike<number>; market: ArrayLike<number> | undefined }[],
): void {
  const months = Math.max(...inputs.map((l) => l.terms.term)) + c.recovery_lag;
  const pool = new PoolLoss(plan(lossOptions(c)), months);
  inputs.forEach(({ terms, hpi, market }, i) => {
    const r = pool.add(terms, hpi, market);
    const expected = c.loans[i] as number[];
    keys.result_keys.forEach((key, k) => {
      const field = RESULT_FIELDS[key as keyof typeof RESULT_FIELDS];
      close(r[field], expected[k] as number, `loan ${i} ${key}`);
    });
  });
  const vectors = pool.answer().vectors;
  expect(vectors.length).toBe(c.vectors.length);
  c.vectors.forEach((row, m) => {
    const v = vectors[m] as unknown as Record<string, number>;
    keys.vector_keys.forEach((key, k) => {
      close(v[key] as number, row[k] as number, `month ${m + 1} ${key}`);
    });
  });
}

const HISTORICAL = checkScenario('historical').scenario as Scenario;

function caseName(c: Case): string {
  const label = typeof c.scenario === 'string' ? c.scenario : 'custom';
  const timing =
    c.defaults === undefined ? `${c.timing} ${c.hazard ?? 'timing_only'}` : `${c.defaults.kind} prescribed`;
  return `${label}, ${timing}, ${c.prepayment.kind}, lag ${c.recovery_lag}`;
}

describe('seasoned loans: TypeScript engine = Python reference (test/fixtures/lifetime-seasoned.json)', () => {
  it('the tape holds ages 0–120 and balances on the schedule and below it', () => {
    const ages = new Set(seasoned.loans.map((l) => l.record.loan_age));
    expect(ages).toEqual(new Set([0, 1, 12, 35, 36, 37, 60, 120]));
    expect(new Set(seasoned.cases.map((c) => c.hazard ?? 'timing_only'))).toEqual(
      new Set(['timing_only', 'house_prices']),
    );
  });
  for (const c of seasoned.cases) {
    it(`${caseName(c)}: per loan and per month to 1e-10`, () => {
      const scenario = checkScenario(c.scenario).scenario as Scenario;
      const inputs = seasoned.loans.map(({ record, pd }) => {
        const terms = loanTerms(record, pd) as LoanTerms;
        const path = monthlyHpi(record, scenario, MAX_TERM).ratio;
        const marked =
          scenario.kind === 'historical'
            ? seasonedInputs(terms, path)
            : seasonedInputs(terms, monthlyHpi(record, HISTORICAL, MAX_TERM).ratio, path);
        const market = monthlyMarketRate(record, scenario, marked.terms.term, terms.age);
        return { ...marked, market };
      });
      expect(inputs.some((l) => l.terms.origin !== undefined && l.terms.age > 0)).toBe(true);
      compare(c, seasoned, inputs);
    });
  }
});

describe('lifetime loss: TypeScript engine = Python reference (test/fixtures/lifetime.json)', () => {
  it('the fixture covers every timing, prepayment kind and several scenarios', () => {
    expect(new Set(fixture.cases.map((c) => c.timing))).toEqual(new Set(['seasoning', 'sda', 'flat']));
    expect(new Set(fixture.cases.map((c) => c.prepayment.kind))).toEqual(new Set(['none', 'psa', 'cpr', 'scenario']));
    expect(new Set(fixture.cases.map((c) => c.hazard ?? 'timing_only'))).toEqual(
      new Set(['timing_only', 'house_prices']),
    );
    expect(new Set(fixture.cases.map((c) => c.defaults?.kind ?? 'model'))).toEqual(new Set(['model', 'sda', 'cdr']));
    expect(fixture.loans.length).toBeGreaterThan(30);
    // The scenario prepayment on a preset's market-rate path and on a custom one.
    const onRates = fixture.cases.filter(
      (c) =>
        c.prepayment.kind === 'scenario' &&
        (checkScenario(c.scenario).scenario as Scenario & { rates?: unknown }).rates,
    );
    expect(onRates.map((c) => (typeof c.scenario === 'string' ? c.scenario : 'custom'))).toEqual(
      expect.arrayContaining(['severely_adverse', 'custom']),
    );
  });
  for (const c of fixture.cases) {
    it(`${caseName(c)}: per loan and per month to 1e-10`, () => {
      const scenario = checkScenario(c.scenario).scenario as Scenario;
      const inputs = fixture.loans.map((l) => {
        const t = loanTerms(l.record, l.pd);
        if (!t) throw new Error('fixture loan without terms');
        const terms = { ...t, age: l.age, term: t.term - l.age };
        const record = l.record;
        return {
          terms,
          hpi: monthlyHpi(record, scenario, terms.term).ratio,
          market: monthlyMarketRate(record, scenario, terms.term),
        };
      });
      compare(c, fixture, inputs);
    });
  }
});
