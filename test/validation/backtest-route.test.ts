import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { groupKey } from '../../src/pool/backtest.js';
import { checkScenario, type Scenario, scenarioRecord } from '../../src/scenario/index.js';
import { Backtest, BinCounter, quantileEdges, stability } from '../../src/validation/index.js';
import { build, exampleLoan } from '../helpers/app.js';
import { runScript } from '../helpers/net.js';
import { seededRandom } from '../helpers/random.js';
import { housePricesMargin, scenarioModelDir } from '../helpers/scenario-model.js';
import { tempDir } from '../helpers/temp.js';

/** POST /pools/backtest and the CLI's backtest mode (issue 23), on hand-written scenario models whose PD is known. */

const dir = scenarioModelDir();
const app = () => build({ MODEL_DIR: dir, DEFAULT_MODEL: 'house_prices' });
const historical = checkScenario('historical').scenario as Scenario;
const pdOf = (loan: Record<string, unknown>) =>
  1 / (1 + Math.exp(-housePricesMargin(scenarioRecord(loan, historical))));

type Loan = Record<string, unknown>;

/** n loans across vintages, states, channels and scores, and outcomes drawn at `scale` × the PD. */
function tape(n: number, seed: number, scale = 1): { loans: Loan[]; outcomes: number[]; pds: number[] } {
  const rnd = seededRandom(seed);
  const states = ['CA', 'FL', 'TX', 'NY', 'AZ'];
  const loans: Loan[] = [];
  const outcomes: number[] = [];
  const pds: number[] = [];
  for (let i = 0; i < n; i++) {
    const year = 2000 + Math.floor(rnd() * 9);
    const ltv = 60 + Math.floor(rnd() * 36);
    const loan: Loan = {
      ...exampleLoan,
      loan_sequence_number: `L${i}`,
      credit_score: 560 + Math.floor(rnd() * 260),
      first_payment_date: year * 100 + 1 + Math.floor(rnd() * 12),
      property_state: states[Math.floor(rnd() * states.length)],
      channel: ['R', 'B', 'C'][Math.floor(rnd() * 3)],
      ltv,
      cltv: ltv,
    };
    const pd = pdOf(loan);
    loans.push(loan);
    pds.push(pd);
    outcomes.push(rnd() < Math.min(1, scale * pd) ? 1 : 0);
  }
  return { loans, outcomes, pds };
}

const NAMES = [...LOAN_FIELDS.map((f) => f.name), 'default_36m'];
const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
function csv(loans: readonly Loan[], outcomes: readonly (number | string | null)[]): string {
  const lines = [NAMES.join(',')];
  loans.forEach((loan, i) => {
    lines.push(NAMES.map((n) => cell(n === 'default_36m' ? outcomes[i] : loan[n])).join(','));
  });
  return `${lines.join('\n')}\n`;
}

const post = async (url: string, payload: string, type = 'text/csv') => {
  const a = await app();
  const res = await a.inject({ method: 'POST', url, payload, headers: { 'content-type': type } });
  return { status: res.statusCode, body: res.json(), app: a };
};

describe('POST /pools/backtest', () => {
  const { loans, outcomes, pds } = tape(3000, 7);

  it('answers the Backtest report of the same PDs and outcomes, with the counts, model, version and scenario', async () => {
    const { status, body } = await post('/pools/backtest?by=vintage,state', csv(loans, outcomes));
    expect(status, JSON.stringify(body).slice(0, 500)).toBe(200);
    const direct = new Backtest({ by: ['vintage', 'state'] });
    for (const [i, loan] of loans.entries()) {
      direct.add(pds[i] as number, outcomes[i] as number, [groupKey('vintage', loan), groupKey('state', loan)]);
    }
    const expected = JSON.parse(JSON.stringify(direct.report()));
    const answered = Object.fromEntries(Object.keys(expected).map((k) => [k, body[k]]));
    // The PDs are computed the same way (scenarioRecord + the same linear model) up to rounding in the encoder.
    expect(answered.loans).toBe(expected.loans);
    expect(answered.defaults).toBe(expected.defaults);
    expect(answered.auc.value).toBeCloseTo(expected.auc.value, 12);
    expect(answered.brier).toBeCloseTo(expected.brier, 12);
    expect(answered.calibration.light).toBe(expected.calibration.light);
    expect(answered.calibration.pd_bands.rows.map((r: { loans: number }) => r.loans)).toEqual(
      expected.calibration.pd_bands.rows.map((r: { loans: number }) => r.loans),
    );
    expect(Object.keys(answered.by)).toEqual(['vintage', 'state']);
    expect(body).toMatchObject({
      model: 'house_prices',
      version: '1.0.0',
      scenario: 'historical',
      counts: { rows: 3000, labelled: 3000, unlabelled: 0, refused: 0 },
      psi: null,
      drift: null,
      drift_unavailable: 'the artifact has no training.stability_baseline',
    });
    expect(typeof body.ks.value).toBe('number');
  });

  it('equals the Backtest report exactly when given the PDs the route computes (JSON tape, challenger)', async () => {
    const some = loans.slice(0, 800);
    const labels = outcomes.slice(0, 800);
    const payload = JSON.stringify({
      loans: some.map((l, i) => ({ ...l, default_36m: i % 50 === 0 ? null : labels[i] })),
    });
    const { status, body, app: a } = await post('/pools/backtest?challenger=plain', payload, 'application/json');
    expect(status, JSON.stringify(body).slice(0, 500)).toBe(200);
    const hp = a.models.get('house_prices');
    const plain = a.models.get('plain');
    if (!hp || !plain) throw new Error('models');
    const direct = new Backtest({ challenger: true });
    some.forEach((loan, i) => {
      if (i % 50 === 0) return;
      const record = scenarioRecord(loan, historical) as never;
      const pd = hp.scoreMany([record]).probability[0] as number;
      const challenger = plain.scoreMany([record]).probability[0] as number;
      direct.add(pd, labels[i] as number, [], challenger);
    });
    const { challenger, ...expected } = JSON.parse(JSON.stringify(direct.report()));
    for (const [k, v] of Object.entries(expected)) expect(body[k], k).toEqual(v);
    expect(body.challenger).toEqual({ model: 'plain', version: '1.0.0', ...challenger });
    expect(body.counts).toEqual({ rows: 800, labelled: 784, unlabelled: 16, refused: 0, outcomes: 'default_36m' });
  });

  it('turns calibration red on a tape whose outcomes are drawn at 3× the PDs', async () => {
    const shifted = tape(3000, 11, 3);
    const { status, body } = await post('/pools/backtest', csv(shifted.loans, shifted.outcomes));
    expect(status).toBe(200);
    expect(body.calibration.light).toBe('red');
    expect(body.light).toBe('red');
    expect(body.calibration.in_the_large.intercept.value).toBeGreaterThan(0.5);
  });

  it('refuses bad outcomes, a missing outcome column and loans outside the historical market, naming the field', async () => {
    const few = loans.slice(0, 5);
    const bad = await post('/pools/backtest', csv(few, [0, 1, 2, 'yes', 0]));
    expect(bad.status).toBe(400);
    const fields = bad.body.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(['line 4, default_36m', 'line 5, default_36m']);
    expect(bad.body.details[0].message).toMatch(/must be 0 or 1/);

    const noColumn = await post('/pools/backtest', csv(few, []).replace(',default_36m', '').replaceAll(/,\n/g, '\n'));
    expect(noColumn.status).toBe(400);
    expect(JSON.stringify(noColumn.body.details)).toMatch(/the required column \\"default_36m\\" is missing/);

    const json = await post(
      '/pools/backtest',
      JSON.stringify({ loans: [{ ...few[0] }, { ...few[1], default_36m: 'x' }] }),
      'application/json',
    );
    expect(json.status).toBe(400);
    expect(json.body.details.map((d: { field: string }) => d.field)).toEqual([
      'loans[0].default_36m',
      'loans[1].default_36m',
    ]);

    const outside = await post(
      '/pools/backtest?on_error=skip',
      csv([...few, { ...few[0], first_payment_date: 202401 }], [0, 1, 0, 0, 1, 1]),
    );
    expect(outside.status).toBe(200);
    expect(outside.body.counts).toEqual({ rows: 6, labelled: 5, unlabelled: 0, refused: 1, outcomes: 'default_36m' });
    expect(outside.body.rejected.rows[0].problems[0].field).toBe('first_payment_date');

    const none = await post('/pools/backtest', csv(few, ['', '', '', '', '']));
    expect(none.status).toBe(400);
    expect(none.body.details[0].field).toBe('default_36m');

    const freddie = await post('/pools/backtest', `${'x|'.repeat(30)}x\n`);
    expect(freddie.status).toBe(400);
    expect(freddie.body.details[0].field).toBe('default_36m');
  });

  it('accepts the outcome column on this route only: /pools/score refuses it as an unknown column or field', async () => {
    const few = loans.slice(0, 3);
    const asCsv = await post('/pools/score', csv(few, [0, 1, 0]));
    expect(asCsv.status).toBe(400);
    expect(JSON.stringify(asCsv.body.details)).toMatch(/default_36m/);
    const asJson = await post(
      '/pools/score',
      JSON.stringify({ loans: [{ ...few[0], default_36m: 1 }] }),
      'application/json',
    );
    expect(asJson.status).toBe(400);
    expect(JSON.stringify(asJson.body.details)).toMatch(/default_36m/);
  });

  it.each([
    ['by', 'by=vintage,colour'],
    ['bands', 'bands=0,0.5,0.2,1'],
    ['bands', 'bands=0,a,1'],
    ['policy', 'policy=lenient'],
    ['green', 'green=2'],
    ['red', 'red=0.5&green=0.1'],
    ['rho', 'rho=1'],
    ['scenario', 'scenario=boom'],
    ['challenger', 'challenger=nosuch'],
    ['challenger', 'challenger=plain@9.9.9'],
    ['on_error', 'on_error=ignore'],
    ['format', 'format=freddie'],
    ['alpha', 'alpha=0'],
    ['alpha', 'alpha=1.5'],
    ['psi_bands', 'psi_bands=0.25,0.1'],
    ['psi_bands', 'psi_bands=0.1'],
    ['psi_bands', 'psi_bands=-1,0.2'],
    ['epsilon', 'epsilon=0'],
    ['epsilon', 'epsilon=x'],
    ['drift_by', 'drift_by=state'],
  ])('refuses a bad query.%s with a 400 naming it', async (field, query) => {
    const { status, body } = await post(`/pools/backtest?${query}`, csv(loans.slice(0, 5), [0, 1, 0, 0, 1]));
    expect(status).toBe(400);
    expect(body.details.map((d: { field: string }) => d.field)).toContain(`query.${field}`);
  });

  it('sets the backtest gauges of the model version on /metrics', async () => {
    const { app: a } = await post('/pools/backtest', csv(loans, outcomes));
    const text = (await a.inject({ method: 'GET', url: '/metrics' })).body;
    for (const name of ['auc', 'ks', 'brier', 'calibration_light', 'score_psi', 'loans', 'timestamp_seconds']) {
      expect(text).toMatch(
        new RegExp(`^model_backtest_${name}\\{model="house_prices",version="1\\.0\\.0"\\} \\S+$`, 'm'),
      );
    }
    expect(text).toMatch(/^model_backtest_loans\{model="house_prices",version="1\.0\.0"\} 3000$/m);
    expect(text).toMatch(/^model_backtest_score_psi\{model="house_prices",version="1\.0\.0"\} NaN$/im);
  });
});

describe('drift against the stability baseline', () => {
  const { loans, outcomes, pds } = tape(3000, 7);
  const edges = quantileEdges(pds);
  const counter = new BinCounter({ kind: 'numeric', edges });
  for (const pd of pds) counter.add(pd);
  const credit = new BinCounter({ kind: 'numeric', edges: [620, 680, 740] }, 'credit_score');
  for (const loan of loans) credit.add(loan.credit_score as number);
  const channel: Record<string, number> = {};
  for (const loan of loans) channel[loan.channel as string] = (channel[loan.channel as string] ?? 0) + 1;
  const baseline = {
    score: { edges, counts: [...counter.counts].slice(0, -1) },
    fields: {
      credit_score: { edges: [620, 680, 740], counts: [...credit.counts] }, // the missing bin last, no `missing`
      channel: { levels: channel, missing: 0 },
      ltv: { edges: [80, 70], counts: [1, 2, 3] }, // not increasing: skipped with the reason
    },
  };
  const driftDir = scenarioModelDir();
  const file = join(driftDir, 'house_prices', '1.0.0.json');
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  doc.training.stability_baseline = baseline;
  writeFileSync(file, JSON.stringify(doc));
  const driftPost = async (payload: string, query = '') => {
    const a = await build({ MODEL_DIR: driftDir, DEFAULT_MODEL: 'house_prices' });
    const res = await a.inject({
      method: 'POST',
      url: `/pools/backtest${query}`,
      payload,
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    return { a, body: res.json() };
  };

  it('answers the score PSI and per-field CSI, stable on the development sample itself', async () => {
    const { body } = await driftPost(csv(loans, outcomes));
    const expected = stability([...counter.counts], [...counter.counts]);
    expect(body.psi).toBeCloseTo(expected.psi, 12);
    expect(body.drift.score.band).toBe('stable');
    expect(body.drift.score.critical).toBeCloseTo(expected.critical, 12);
    expect(Object.keys(body.drift.fields).sort()).toEqual(['channel', 'credit_score']);
    expect(body.drift.fields.credit_score.psi).toBeCloseTo(0, 12);
    expect(body.drift.skipped).toEqual([{ field: 'ltv', reason: 'edges must be strictly increasing' }]);
    expect(body.drift_unavailable).toBeUndefined();
  });

  it('answers the score PSI per month of origination (drift_by) and reads the PSI policy from the query', async () => {
    const policy = { moderate: 0.001, significant: 0.002, epsilon: 0.01, alpha: 0.01 };
    const { body } = await driftPost(
      csv(loans, outcomes),
      '?drift_by=first_payment_month&psi_bands=0.001,0.002&epsilon=0.01&alpha=0.01',
    );
    expect(body.drift.policy).toEqual(policy);
    const months = new Map<string, BinCounter>();
    for (const [i, loan] of loans.entries()) {
      const fpd = loan.first_payment_date as number;
      const key = `${Math.floor(fpd / 100)}-${String(fpd % 100).padStart(2, '0')}`;
      if (!months.has(key)) months.set(key, new BinCounter({ kind: 'numeric', edges }));
      months.get(key)?.add(pds[i] as number);
    }
    const keys = [...months.keys()].sort();
    expect(body.drift.by.map((g: { group: string }) => g.group)).toEqual(keys);
    for (const [i, key] of keys.entries()) {
      const expected = stability([...counter.counts], [...(months.get(key) as BinCounter).counts], policy);
      const got = body.drift.by[i];
      expect(got.psi, key).toBeCloseTo(expected.psi, 12);
      expect(got.critical, key).toBeCloseTo(expected.critical, 12);
      expect(got.band, key).toBe(expected.band);
      expect(got.sample_size, key).toBe(expected.sampleSize);
    }
    // The whole tape is the baseline's own sample: its PSI is 0, stable under any bands; a month alone, with
    // about 30 loans, moves past these tight bands.
    expect(body.drift.score.psi).toBeCloseTo(0, 12);
    expect(body.drift.by.some((g: { band: string }) => g.band === 'significant')).toBe(true);
    const byVintage = await driftPost(csv(loans, outcomes), '?drift_by=vintage');
    expect(byVintage.body.drift.by.map((g: { group: string }) => g.group)).toEqual(
      [...new Set(loans.map((l) => groupKey('vintage', l)))].sort(),
    );
    expect(byVintage.body.drift.policy).toEqual({ moderate: 0.1, significant: 0.25, epsilon: 1e-4, alpha: 0.05 });
    // Tighter bands turn a small shift significant: half the tape (every other loan) is not the development sample.
    const half = await driftPost(
      csv(
        loans.filter((_, i) => i % 2 === 0),
        outcomes.filter((_, i) => i % 2 === 0),
      ),
      '?psi_bands=0.0001,0.0002',
    );
    expect(half.body.drift.score.band).toBe('significant');
    expect(half.body.light).toBe('red');
  });

  it('turns the PSI significant (and the light red) on a shifted mix: 2006–07 originations only', async () => {
    const shifted = tape(6000, 13).loans.filter((l) => ['2006', '2007'].includes(groupKey('vintage', l)));
    const labels = shifted.map((_, i) => (i % 20 === 0 ? 1 : 0));
    const { a, body } = await driftPost(csv(shifted, labels));
    expect(body.psi).toBeGreaterThanOrEqual(0.25);
    expect(body.drift.score.band).toBe('significant');
    expect(body.light).toBe('red');
    const text = (await a.inject({ method: 'GET', url: '/metrics' })).body;
    const gauge = /^model_backtest_score_psi\{model="house_prices",version="1\.0\.0"\} (\S+)$/m.exec(text);
    expect(Number(gauge?.[1])).toBeCloseTo(body.psi, 9);
    // Per-field CSI: one series per field of the baseline the run could read (ltv was skipped), nothing else.
    const series = (name: string) =>
      [
        ...text.matchAll(
          new RegExp(`^${name}\\{model="house_prices",version="1\\.0\\.0",(\\w+)="(\\w+)"\\} (\\S+)$`, 'gm'),
        ),
      ].map((m) => [m[2], Number(m[3])] as const);
    const csi = Object.fromEntries(series('model_backtest_field_csi'));
    expect(Object.keys(csi).sort()).toEqual(['channel', 'credit_score']);
    for (const f of ['channel', 'credit_score']) expect(csi[f]).toBeCloseTo(body.drift.fields[f].psi, 9);
    const lights = Object.fromEntries(series('model_backtest_pd_bands'));
    for (const light of ['green', 'amber', 'red']) {
      expect(lights[light], light).toBe(
        body.calibration.pd_bands.rows.filter((r: { light: string }) => r.light === light).length,
      );
    }
    const bands = Object.fromEntries(series('model_backtest_drift_fields'));
    expect(bands.stable + bands.moderate + bands.significant).toBe(2);
  });
});

describe('score backtest (CLI)', () => {
  const work = tempDir('backtest-cli-');
  it('exits 0 on a green tape, 4 on a red one, 1 on a refused one, 2 on a usage error; --json writes the report', async () => {
    const green = tape(3000, 7);
    const red = tape(3000, 11, 3);
    writeFileSync(join(work, 'green.csv'), csv(green.loans, green.outcomes));
    writeFileSync(join(work, 'red.csv'), csv(red.loans, red.outcomes));
    writeFileSync(join(work, 'bad.csv'), csv(green.loans.slice(0, 3), [0, 7, 1]));
    const cli = (...args: string[]) =>
      runScript('src/cli/score.ts', ['backtest', ...args, '--model-dir', dir, '--model', 'house_prices']);
    const [ok, bad, refused, usage] = await Promise.all([
      cli(join(work, 'green.csv'), '--json', join(work, 'green.json')),
      cli(join(work, 'red.csv')),
      cli(join(work, 'bad.csv')),
      cli(join(work, 'green.csv'), '--rho', '2'),
    ]);
    const badPsi = await cli(join(work, 'green.csv'), '--psi-bands', '0.3,0.2', '--drift-by', 'state');
    expect(badPsi.code).toBe(2);
    expect(badPsi.stderr).toMatch(/--psi-bands must be two PSI thresholds/);
    expect(badPsi.stderr).toMatch(/--drift-by must be first_payment_month or vintage/);
    const report = JSON.parse(readFileSync(join(work, 'green.json'), 'utf8'));
    expect(ok.code, ok.stderr).toBe(report.light === 'green' ? 0 : 3);
    expect(report.calibration.light).toBe('green');
    expect(ok.stdout).toMatch(/AUC 0\.\d{4}/);
    expect(ok.stdout).toMatch(/drift: n\/a/);
    expect(bad.code, bad.stderr).toBe(4);
    expect(bad.stdout).toMatch(/overall: red/);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/line 3, default_36m must be 0 or 1/);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--rho must be an asset correlation/);
  }, 60_000);
});
