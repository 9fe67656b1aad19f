import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { build } from '../helpers/app.js';
import { runScript } from '../helpers/net.js';
import { tempDir } from '../helpers/temp.js';

/**
 * Issue 23 item 5, the reference checks of the backtest on the product's own data (docs/VALIDATION.md
 * "Reference checks"): tapes written by the training process (scripts/loanmodel/backtest_tape.py: history.py's
 * simulation with fresh seeds, labelled by the Freddie Mac loader as `npm run train` labels them) go through
 * the product — POST /pools/backtest and `npm run score -- backtest` — with the shipped models under
 * `historical` (and, for the card's out-of-time table, the out-of-time models `npm run train` exports under
 * model-artifacts/reference/out-of-time/), never through the statistics directly.
 */

const ROOT = new URL('../..', import.meta.url).pathname;
const work = tempDir('reference-checks-');
const run = promisify(execFile);
const writer = (...args: string[]) =>
  run('/usr/bin/python3', ['-m', 'scripts.loanmodel.backtest_tape', ...args], { cwd: ROOT });

const N = 5000; // loans a tape; history.py simulates 10,000-loan batches, so about 0.7 s of CPU a tape
const SEEDS = Array.from({ length: 20 }, (_, i) => 101 + i); // training uses seed 21
const tapePath = (seed: number) => join(work, `fresh-${seed}.csv`);

beforeAll(async () => {
  // One Python process per kind of tape, side by side; about 30 s of CPU in all.
  await Promise.all([
    writer('--n', String(N), '--seed', `${SEEDS[0]}-${SEEDS.at(-1)}`, '--out', join(work, 'fresh-{seed}.csv')),
    writer('--n', String(N), '--seed', '102', '--vintages', '2006,2007', '--out', join(work, 'mix.csv')).then(() =>
      writer('--n', String(N), '--seed', '103', '--hazard-factor', '2', '--out', join(work, 'hazard.csv')),
    ),
    writer('--holdout', '--out', join(work, 'holdout.csv'), '--out-of-time', join(work, 'out-of-time.csv')),
  ]);
}, 180_000);

type Answer = {
  light: string;
  loans: number;
  defaults: number;
  auc: { value: number };
  gini: { value: number };
  ks: { value: number };
  brier: number;
  psi: number | null;
  calibration: { light: string; slope: { slope: { value: number; lower: number; upper: number } } };
  drift: { score: { band: string }; fields: Record<string, { psi: number; band: string }> };
  by: Record<string, CalibrationRow[]>;
};
type CalibrationRow = {
  group: string;
  loans: number;
  defaults: number;
  mean_pd: number;
  observed_rate: number;
  observed_rate_lower: number;
  observed_rate_upper: number;
};

async function backtest(app: Awaited<ReturnType<typeof build>>, path: string, query = ''): Promise<Answer> {
  const res = await app.inject({
    method: 'POST',
    url: `/pools/backtest?${query}`,
    payload: readFileSync(path),
    headers: { 'content-type': 'text/csv' },
  });
  expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
  return res.json() as Answer;
}

describe('tapes from the training process (fresh seeds) backtested with the shipped xgboost under historical', () => {
  it('stay green on calibration with the score PSI below 0.25 for (statistically) at least 95 % of seeds', async () => {
    const app = await build();
    const answers = [];
    for (const seed of SEEDS) answers.push(await backtest(app, tapePath(seed), 'model=xgboost'));
    for (const a of answers) {
      expect(a.loans).toBe(N);
      expect(a.psi).not.toBeNull();
      expect(a.psi as number).toBeLessThan(0.25); // about 0.002 each; its 5 % critical value is 0.0036
    }
    const green = answers.filter((a) => a.calibration.light === 'green' && (a.psi as number) < 0.25).length;
    // The light is the pool's two-sided binomial test at 5 % (green p ≥ 0.05): even a perfectly calibrated
    // model is amber on about 5 % of fresh tapes, so "green for at least 95 % of seeds" is a rate, tested on
    // 20 seeds by the one-sided exact binomial test of H0 "rate ≥ 0.95" at 5 %: it rejects when at most 16
    // are green (P(X ≤ 16 | 20, 0.95) = 0.016, while P(X ≤ 17) = 0.075 > 0.05). A literal "19 of 20" would
    // fail 26 % of seed lists for a perfect model (P(X ≤ 18 | 20, 0.95) = 0.26). The seeds are fixed, so the
    // outcome is deterministic: these 20 give 19 green and 1 amber (seed 119, PD too high: observed 1.48 %
    // against a mean PD of 1.95 %, binomial p 0.014), docs/VALIDATION.md says why.
    expect(green).toBeGreaterThanOrEqual(17);
    expect(answers.filter((a) => a.calibration.light === 'red')).toEqual([]);
  }, 120_000);

  it('pooled (100,000 new loans), are not over-fitted: calibration slope within 0.1 of 1, and 1 in its interval on the holdout', async () => {
    // The slope b of logit P(default) = a + b·logit(PD) (statsmodels' Logit in the validation fixture): below 1
    // when the PDs are too extreme on new loans of the model's own process, the mark of over-fitting. The former
    // xgboost/1.0.0 (300 rounds of depth 6) gave 0.80 [0.76, 0.83] here and 0.86 [0.79, 0.93] on the card's
    // holdout; a slope within 0.1 of 1 is the usual tolerance. docs/VALIDATION.md "Reference checks".
    const [header, ...rest] = SEEDS.map((seed) => readFileSync(tapePath(seed), 'utf8').trimEnd().split('\n'));
    const pooled = join(work, 'fresh-pooled.csv');
    writeFileSync(pooled, `${[...(header ?? []), ...rest.flatMap((lines) => lines.slice(1))].join('\n')}\n`);
    const app = await build();
    const a = await backtest(app, pooled, 'model=xgboost');
    expect(a.loans).toBe(N * SEEDS.length);
    expect(Math.abs(a.calibration.slope.slope.value - 1)).toBeLessThan(0.1);
    const holdout = await backtest(app, join(work, 'holdout.csv'), 'model=xgboost');
    const onHoldout = holdout.calibration.slope.slope;
    expect(onHoldout.lower).toBeLessThanOrEqual(1);
    expect(onHoldout.upper).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

describe('shifted tapes turn the lights', () => {
  const cli = (...args: string[]) => runScript('src/cli/score.ts', ['backtest', ...args]);

  it('only 2006–07 originations: score PSI above 0.25 (the house-price features moved), calibration not red', async () => {
    const json = join(work, 'mix.json');
    const r = await cli(join(work, 'mix.csv'), '--json', json);
    const a = JSON.parse(readFileSync(json, 'utf8')) as Answer;
    expect(r.code, r.stderr).toBe(4); // red: the PSI band
    expect(a.psi as number).toBeGreaterThan(0.25);
    expect(a.drift.score.band).toBe('significant');
    // Why: under `historical` these vintages see the 2007–11 house-price fall, so their scenario features sit
    // in the tail of the training sample (all vintages 1999–2010) and the PDs rise; the note rate follows
    // the 2006–07 market rates. The borrowers' own attributes are drawn as in every vintage and do not move.
    for (const f of ['hpi_change_12m', 'hpi_change_36m', 'hpi_trough_36m', 'mtm_cltv_trough', 'original_interest_rate'])
      expect(a.drift.fields[f]?.band, f).toBe('significant');
    for (const f of ['credit_score', 'ltv', 'cltv', 'dti', 'channel', 'loan_purpose'])
      expect(a.drift.fields[f]?.band, f).toBe('stable');
    // The model reads the scenario, so it is still right in level on these loans: drift, not miscalibration.
    expect(a.calibration.light).not.toBe('red');
  }, 60_000);

  it('every default hazard doubled (intercept + ln 2): calibration red, the loans (and PSI) unchanged', async () => {
    const json = join(work, 'hazard.json');
    const r = await cli(join(work, 'hazard.csv'), '--json', json);
    const a = JSON.parse(readFileSync(json, 'utf8')) as Answer;
    expect(r.code, r.stderr).toBe(4);
    expect(a.calibration.light).toBe('red');
    expect(a.defaults / a.loans).toBeGreaterThan(1.5 * 0.0192); // about 3.4 % against a mean PD of 2 %
    expect(a.drift.score.band).toBe('stable');
  }, 60_000);
});

/** The model card's tables, as printed. */
const card = readFileSync(join(ROOT, 'model-artifacts/MODEL_CARD.md'), 'utf8');
const cells = (line: string) =>
  line
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());
const rowsOf = (heading: string) => {
  const start = card.indexOf(heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const lines = card.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const table = [];
  for (let i = first; i < lines.length && lines[i]?.startsWith('|'); i++) table.push(cells(lines[i] as string));
  return table.slice(2); // header and rule
};
/** A rate as the card prints it: scenario_training._scores rounds it to 6 decimals, the card then prints
 * 100 × that to `digits` (a double rounding: 0.0155502667 prints 1.55, not 1.56). */
const pct = (x: number, digits = 2) => (100 * Number(x.toFixed(6))).toFixed(digits);

describe("the backtest on the training pipeline's holdout reproduces the model card", () => {
  const shipped = rowsOf('## Shipped artifacts').map((r) => ({ key: /`(.+)\/(.+)`/.exec(r[0] as string), r }));
  const calibration = rowsOf('### Calibration per vintage');
  const years = cells(card.slice(card.indexOf('| model | 1999')).split('\n')[0] as string).slice(1);

  it('names five models and twelve vintages (the card parsed)', () => {
    expect(shipped.map((s) => s.key?.[1])).toEqual([
      'logistic_regression',
      'lda',
      'gradient_boosting',
      'xgboost',
      'xgboost',
    ]);
    expect(years).toHaveLength(12);
    expect(card).toContain('random 25 % holdout over vintages 1999-2010 of 25,000 loans (default rate 1.86 %)');
  });

  it('AUC, KS, Gini, Brier and the calibration per vintage (mean PD / observed [Jeffreys 95 %]) to the printed digits', async () => {
    const app = await build();
    for (const { key, r } of shipped) {
      const [, name, version] = key as RegExpExecArray;
      const a = await backtest(app, join(work, 'holdout.csv'), `model=${name}&version=${version}&by=vintage`);
      expect(a.loans).toBe(25_000);
      expect(pct(a.defaults / a.loans)).toBe('1.86');
      const [, , auc, ks, gini, brier] = r;
      expect(
        [a.auc.value.toFixed(4), a.ks.value.toFixed(4), a.gini.value.toFixed(4), a.brier.toFixed(5)],
        name,
      ).toEqual([auc, ks, gini, brier]);
      const row = calibration.find((c) => c[0] === `\`${name}/${version}\``) as string[];
      const byYear = new Map((a.by.vintage ?? []).map((g) => [g.group, g]));
      const got = years.map((y) => {
        const g = byYear.get(y) as CalibrationRow;
        return `${pct(g.mean_pd)} / ${pct(g.observed_rate)} [${pct(g.observed_rate_lower, 1)}, ${pct(g.observed_rate_upper, 1)}]`;
      });
      expect(got, `${name}/${version}`).toEqual(row.slice(1));
    }
  }, 120_000);
});

/** A figure as the card prints it: scenario_training._scores rounds it to 6 decimals, the card prints `digits`. */
const fixed = (x: number, digits: number) => Number(x.toFixed(6)).toFixed(digits);

/** The card's out-of-time row for a backtest answer: the columns after the model's name. */
function outOfTimeRow(group: string, a: Answer): string[] {
  const pool = (a as unknown as { calibration: { pd_bands: { pool: CalibrationRow } } }).calibration.pd_bands.pool;
  return [
    group,
    a.loans.toLocaleString('en-US'),
    a.defaults.toLocaleString('en-US'),
    fixed(a.auc.value, 4),
    fixed(a.ks.value, 4),
    fixed(a.brier, 5),
    `${pct(pool.mean_pd)} %`,
    `${pct(pool.observed_rate)} % [${pct(pool.observed_rate_lower)} %, ${pct(pool.observed_rate_upper)} %]`,
  ];
}

describe("the backtest on the training pipeline's out-of-time test set reproduces the model card's out-of-time table", () => {
  // The models of that table are fitted on vintages <= 2005 only; `npm run train` exports them under
  // model-artifacts/reference/out-of-time/ (scenario_training.export_out_of_time), which the service does not
  // serve (reference/ is not a model folder): an app over that folder (MODEL_DIR) scores with them.
  const OUT_OF_TIME_DIR = join(ROOT, 'model-artifacts/reference/out-of-time');
  const table = () => rowsOf('## Out-of-time validation');
  /** The out-of-time tape, and one tape per vintage (the same loans, split by the year of the first payment). */
  const tapes = () => {
    const [header, ...lines] = readFileSync(join(work, 'out-of-time.csv'), 'utf8').trimEnd().split('\n');
    const column = (header as string).split(',').indexOf('first_payment_date');
    expect(column).toBeGreaterThanOrEqual(0);
    const byYear = new Map<string, string[]>();
    for (const line of lines) {
      const year = (line.split(',')[column] as string).slice(0, 4);
      byYear.set(year, [...(byYear.get(year) ?? []), line]);
    }
    const out: [string, string][] = [['all later vintages', join(work, 'out-of-time.csv')]];
    for (const [year, rows] of [...byYear].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const path = join(work, `out-of-time-${year}.csv`);
      writeFileSync(path, `${header}\n${rows.join('\n')}\n`);
      out.push([year, path]);
    }
    return out;
  };
  const keys = () => [...new Set(table().map((r) => r[0] as string))];

  it('names the five models and six rows each (all later vintages, 2006–2010), each exported out of time', () => {
    expect(keys()).toEqual([
      'logistic_regression/1.0.0',
      'lda/1.0.0',
      'gradient_boosting/1.0.0',
      'xgboost/1.0.0',
      'xgboost/1.1.0',
    ]);
    for (const key of keys()) {
      expect(
        table()
          .filter((r) => r[0] === key)
          .map((r) => r[1]),
      ).toEqual(['all later vintages', '2006', '2007', '2008', '2009', '2010']);
      const doc = JSON.parse(readFileSync(join(OUT_OF_TIME_DIR, `${key}.json`), 'utf8')) as {
        training: { out_of_time: { train_through: number } };
      };
      expect(doc.training.out_of_time.train_through, key).toBe(2005);
    }
  });

  it('AUC, KS, Brier, mean PD and observed [Jeffreys 95 %] per vintage, for every model, to the printed digits', async () => {
    const app = await build({ MODEL_DIR: OUT_OF_TIME_DIR });
    const sets = tapes();
    for (const key of keys()) {
      const [name, version] = key.split('/') as [string, string];
      const got = [];
      for (const [group, path] of sets)
        got.push([key, ...outOfTimeRow(group, await backtest(app, path, `model=${name}&version=${version}`))]);
      expect(got, key).toEqual(table().filter((r) => r[0] === key));
    }
  }, 180_000);

  it('the shipped models (fitted on every vintage, 75 % of these loans among them) do not reproduce it', async () => {
    // The check can fail: the same tape with the shipped artifacts gives other figures (the outcome columns
    // are the tape's and agree, the model columns do not).
    const app = await build();
    const path = join(work, 'out-of-time.csv');
    for (const key of keys()) {
      const [name, version] = key.split('/') as [string, string];
      const got = outOfTimeRow('all later vintages', await backtest(app, path, `model=${name}&version=${version}`));
      const want = (table().find((r) => r[0] === key) as string[]).slice(1);
      expect([got[1], got[2], got[7]], key).toEqual([want[1], want[2], want[7]]);
      expect([got[3], got[4], got[5], got[6]], key).not.toEqual([want[3], want[4], want[5], want[6]]);
      expect(got[3], key).not.toBe(want[3]); // the AUC itself
    }
  }, 120_000);
});
