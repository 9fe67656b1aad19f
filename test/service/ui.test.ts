import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { BACKTEST_TAPE, PUBLIC_DIR, SAMPLE_SCENARIO, SAMPLE_TAPE } from '../../plugins/routes/ui.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { checkScenario } from '../../src/scenario/index.js';
import { build, exampleLoan, MODEL_NAMES } from '../helpers/app.js';
import { scenarioModelDir } from '../helpers/scenario-model.js';

const CONTENT_TYPES: Record<string, RegExp> = {
  '.html': /^text\/html; charset=utf-8$/,
  '.js': /^(text|application)\/javascript; charset=utf-8$/,
  '.css': /^text\/css; charset=utf-8$/,
  '.svg': /^image\/svg\+xml/,
  '.csv': /^text\/csv; charset=utf-8$/,
  '.json': /^application\/json; charset=utf-8$/,
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const indexHtml = readFileSync(join(PUBLIC_DIR, 'index.html'), 'utf8');

/** Local URLs the page loads or links to (src=, href=), relative to "/", without in-page anchors. */
function referencedAssets(html: string): string[] {
  return [...html.matchAll(/\s(?:src|href)="([^"#][^"]*)"/g)].map((m) => m[1] as string);
}

/** Every module reachable from public/app.js through relative imports. */
function moduleGraph(entry: string, seen = new Set<string>()): Set<string> {
  if (seen.has(entry)) return seen;
  seen.add(entry);
  const source = readFileSync(join(PUBLIC_DIR, entry), 'utf8');
  for (const m of source.matchAll(/^import [^;]*? from '\.\/([^']+)';$/gm)) moduleGraph(m[1] as string, seen);
  return seen;
}

describe('the browser page', () => {
  it('serves / as HTML that loads only external same-origin scripts and styles (CSP: self)', async () => {
    const app = await build();
    const res = await app.inject('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(CONTENT_TYPES['.html'] as RegExp);
    expect(res.body).toBe(indexHtml);
    expect(res.body).toContain('<script type="module" src="ui/app.js"></script>');
    // What a Content-Security-Policy of script-src 'self'; style-src 'self' would block.
    expect(res.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // inline script
    expect(res.body).not.toMatch(/<style/i);
    expect(res.body).not.toMatch(/\sstyle=/i);
    expect(res.body).not.toMatch(/\son[a-z]+=/i);
  });

  it('serves every asset index.html references, with its content type', async () => {
    const app = await build();
    const assets = referencedAssets(indexHtml).filter((url) => url.startsWith('ui/'));
    expect(assets).toEqual(
      expect.arrayContaining([
        'ui/favicon.svg',
        'ui/styles.css',
        'ui/app.js',
        'ui/sample-tape.csv',
        'ui/backtest-tape.csv',
        'ui/bust-replay-scenario.json',
      ]),
    );
    for (const url of assets) {
      const res = await app.inject(`/${url}`);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(CONTENT_TYPES[extname(url)] as RegExp);
    }
    // The other links lead to the service's own pages.
    const others = referencedAssets(indexHtml).filter((url) => !url.startsWith('ui/'));
    expect(others.length).toBeGreaterThan(0);
    for (const url of others) expect((await app.inject(`/${url}`)).statusCode, url).toBe(200);
  });

  it('serves every module the page imports, and each imported module exists', async () => {
    const app = await build();
    const modules = [...moduleGraph('app.js')];
    expect(modules).toEqual(
      expect.arrayContaining([
        'app.js',
        'api.js',
        'form.js',
        'loan.js',
        'pool.js',
        'lifetime.js',
        'backtest.js',
        'charts.js',
      ]),
    );
    for (const m of modules) {
      const res = await app.inject(`/ui/${m}`);
      expect(res.statusCode, m).toBe(200);
      expect(res.headers['content-type'], m).toMatch(CONTENT_TYPES['.js'] as RegExp);
      expect(res.body).toBe(readFileSync(join(PUBLIC_DIR, m), 'utf8'));
    }
  });

  it('loads nothing from elsewhere: no external URL anywhere in public/, no eval', () => {
    const files = filesUnder(PUBLIC_DIR);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const name = relative(PUBLIC_DIR, file);
      // The SVG namespace is an identifier (never fetched); it is the only URL allowed.
      const text = readFileSync(file, 'utf8').replaceAll('http://www.w3.org/2000/svg', 'SVG_NS');
      expect(text, name).not.toMatch(/\b(?:https?|ftp|wss?):/i);
      expect(text, name).not.toMatch(/["'(=]\s*\/\/[^\s"')]/); // protocol-relative //host/...
      expect(text, name).not.toMatch(/@import/);
      if (name.endsWith('.js')) {
        expect(text, name).not.toMatch(/\beval\(|new Function|setAttribute\('style'|innerHTML/);
      }
    }
  });

  it('refuses paths outside public/ and unknown assets with the service error body', async () => {
    const app = await build();
    for (const url of ['/ui/nope.js', '/ui/../package.json', '/ui/%2e%2e/package.json']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toMatchObject({ statusCode: 404, code: 'ROUTE_NOT_FOUND' });
    }
  });

  it('keeps its routes out of the API docs and marks them public for the auth plugin', async () => {
    const app: FastifyInstance = buildApp(loadConfig({ LOG_LEVEL: 'silent', MODEL_WARMUP_MS: '0' }), { logger: false });
    const auth = new Map<string, unknown>();
    app.addHook('onRequest', async (request) => {
      auth.set(request.url, (request.routeOptions.config as { auth?: unknown }).auth);
    });
    try {
      await app.ready();
      const doc = (await app.inject('/openapi.json')).json() as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths).filter((p) => p === '/' || p.startsWith('/ui'))).toEqual([]);
      for (const url of ['/', '/ui/app.js', '/ui/form.json', '/ui/sample-tape.csv', '/ui/backtest-tape.csv']) {
        expect((await app.inject(url)).statusCode, url).toBe(200);
        expect(auth.get(url), url).toBe('public');
      }
    } finally {
      await app.close();
    }
  });
});

describe('GET /ui/form.json', () => {
  interface FormField {
    name: string;
    label: string;
    kind: string;
    required: boolean;
    example: unknown;
    expects: string;
    required_message: string;
    min?: number;
    max?: number;
    integer?: boolean;
    sentinel?: number | string | null;
    codes?: { code: string; meaning: string }[];
  }

  it('describes every loan field, in the order of LOAN_FIELDS, with its range, unit, codes and default', async () => {
    const app = await build();
    const res = await app.inject('/ui/form.json');
    expect(res.statusCode).toBe(200);
    const { fields, pool, backtest, lifetime } = res.json() as {
      fields: FormField[];
      pool: Record<string, unknown>;
      backtest: Record<string, unknown>;
      lifetime: Record<string, unknown>;
    };
    expect(fields.map((f) => f.name)).toEqual(LOAN_FIELDS.map((f) => f.name));
    LOAN_FIELDS.forEach((f, i) => {
      const shown = fields[i] as FormField;
      expect(shown).toMatchObject({ kind: f.kind, required: f.required, example: f.example });
      expect(shown.label.length).toBeGreaterThan(1);
      if (f.kind === 'numeric') {
        expect(shown).toMatchObject({ min: f.min, max: f.max, integer: f.integer, unit: f.unit });
        expect(shown.sentinel).toBe(f.sentinel ?? null);
      }
      if (f.kind === 'code') {
        expect(shown.codes?.map((c) => c.code)).toEqual(Object.keys(f.codes));
        expect(shown.sentinel).toBe(f.sentinel ?? null);
      }
    });
    expect(pool).toEqual({
      default_lgd: 0.35,
      max_bytes: expect.any(Number),
      max_rows: expect.any(Number),
      sample_tape: 'ui/sample-tape.csv',
    });
    expect(backtest).toEqual({ sample_tape: 'ui/backtest-tape.csv' });
    expect(lifetime).toEqual({ sample_scenario: 'ui/bust-replay-scenario.json' });
    // The sample path the lifetime view offers is the file in samples/, a valid scenario.
    const path = await app.inject('/ui/bust-replay-scenario.json');
    expect(path.body).toBe(readFileSync(SAMPLE_SCENARIO, 'utf8'));
    expect(checkScenario(path.json()).scenario?.name).toBe('bust_2006_replay');
  });

  it("gives the API's own words: the page's messages are what POST /predict answers", async () => {
    const app = await build();
    const { fields } = (await app.inject('/ui/form.json')).json() as { fields: FormField[] };
    const refusal = async (loan: Record<string, unknown>, field: string) => {
      const res = await app.inject({ method: 'POST', url: '/predict', payload: loan });
      expect(res.statusCode, field).toBe(400);
      return (res.json().details as { field: string; message: string }[]).find((d) => d.field === field)?.message;
    };
    for (const f of fields) {
      if (f.kind === 'numeric') {
        const above = (f.max as number) + 1;
        expect(await refusal({ ...exampleLoan, [f.name]: above }, f.name)).toBe(
          `must be ${f.expects}, got the number ${above}`,
        );
        expect(await refusal({ ...exampleLoan, [f.name]: 'abc' }, f.name)).toBe(
          `must be ${f.expects}, got the string "abc"`,
        );
        if (f.integer) {
          const half = (f.min as number) + 0.5;
          expect(await refusal({ ...exampleLoan, [f.name]: half }, f.name)).toBe(
            `must be ${f.expects}, got the number ${half}`,
          );
        }
      } else if (f.kind === 'code') {
        expect(await refusal({ ...exampleLoan, [f.name]: 'ZZZ' }, f.name)).toBe(
          `must be ${f.expects}, got the string "ZZZ"`,
        );
      } else {
        const long = 'x'.repeat(60);
        expect(await refusal({ ...exampleLoan, [f.name]: long }, f.name)).toBe(
          `must be ${f.expects}, got the string ${JSON.stringify(long.slice(0, 40))}`,
        );
      }
      if (f.required) {
        const { [f.name]: _, ...without } = exampleLoan as Record<string, unknown>;
        expect(await refusal(without, f.name)).toBe(f.required_message);
      }
    }
  });
});

describe('the sample tape', () => {
  const tape = readFileSync(SAMPLE_TAPE, 'utf8');
  const rows = tape.trimEnd().split('\n').length - 1;

  it('is small, has a header of loan-record fields and is served as CSV', async () => {
    expect(Buffer.byteLength(tape)).toBeLessThan(300 * 1024);
    expect(rows).toBeGreaterThanOrEqual(500);
    const header = tape.slice(0, tape.indexOf('\n')).split(',');
    expect([...header].sort()).toEqual(LOAN_FIELDS.map((f) => f.name).sort());
    const app = await build();
    const res = await app.inject('/ui/sample-tape.csv');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(CONTENT_TYPES['.csv'] as RegExp);
    expect(res.body).toBe(tape);
  });

  it('scores through POST /pools/score, every row, with every loan model', async () => {
    const app = await build();
    const models = (await app.inject('/models')).json().models as { name: string }[];
    expect(models.map((m) => m.name).sort()).toEqual(MODEL_NAMES);
    for (const { name } of models) {
      const res = await app.inject({
        method: 'POST',
        url: `/pools/score?model=${name}`,
        headers: { 'content-type': 'text/csv' },
        payload: tape,
      });
      expect(res.statusCode, name).toBe(200);
      const pool = res.json();
      expect(pool).toMatchObject({ model: name, format: 'csv', rows, loan_count: rows, rejected: { count: 0 } });
      expect(pool.upb_weighted_pd).toBeGreaterThan(0);
      expect(pool.pd_bands.reduce((n: number, b: { loans: number }) => n + b.loans, 0)).toBe(rows);
    }
  });
});

describe('what the page says about a PD (issue 21 items 5 and 6)', () => {
  const sources = filesUnder(PUBLIC_DIR)
    .filter((f) => /\.(js|html)$/.test(f))
    .map((f) => [relative(PUBLIC_DIR, f), readFileSync(f, 'utf8')] as const);
  const loanJs = readFileSync(join(PUBLIC_DIR, 'loan.js'), 'utf8');

  it('never calls a PD a predicted default: it compares with a cut-off', () => {
    for (const [file, text] of sources) {
      expect(text, file).not.toMatch(/predicts? (a )?default|default_predicted|decision_threshold/i);
    }
    expect(loanJs).toContain('above_cutoff');
    expect(loanJs).toMatch(/above the cut-off/);
    expect(loanJs).toMatch(/below the cut-off/);
  });

  it('has a scenario selector, filled from GET /scenarios and sent with each prediction', () => {
    expect(indexHtml).toMatch(/<label for="scenario">[^<]*scenario/i);
    expect(indexHtml).toMatch(/<select id="scenario" name="scenario"/);
    expect(loanJs).toMatch(/call\('scenarios'\)/);
    expect(loanJs).toMatch(/scenario=\$\{encodeURIComponent\(/);
  });

  it('says what the PD means: label, horizon, scenario, synthetic training data, the model card', () => {
    expect(indexHtml).toMatch(/id="pd-meaning"/);
    expect(loanJs).toMatch(/\.label\b/);
    expect(loanJs).toMatch(/horizon_quarters/);
    expect(loanJs).toMatch(/SYNTHETIC/);
    expect(loanJs).toMatch(/model_card/);
  });

  it('serves the model card of MODEL_DIR at /ui/model-card.md, and form.json links it', async () => {
    const app = await build();
    const form = (await app.inject('/ui/form.json')).json();
    expect(form.model_card).toBe('ui/model-card.md');
    const card = await app.inject('/ui/model-card.md');
    expect(card.statusCode).toBe(200);
    expect(card.headers['content-type']).toMatch(/^text\/(markdown|plain); charset=utf-8$/);
    expect(card.body).toBe(readFileSync('model-artifacts/MODEL_CARD.md', 'utf8'));
  });

  it('links no model card when MODEL_DIR has none', async () => {
    const app = await build({ MODEL_DIR: scenarioModelDir(), DEFAULT_MODEL: 'house_prices' });
    expect((await app.inject('/ui/form.json')).json().model_card).toBeNull();
    expect((await app.inject('/ui/model-card.md')).statusCode).toBe(404);
  });
});

describe('the pool views of issues 22 and 23: lifetime loss, state and vintage, backtest', () => {
  const source = (name: string) => readFileSync(join(PUBLIC_DIR, name), 'utf8');
  const [lifetimeJs, backtestJs, poolJs, apiJs, chartsJs] = [
    'lifetime.js',
    'backtest.js',
    'pool.js',
    'api.js',
    'charts.js',
  ].map(source) as [string, string, string, string, string];
  const tape = readFileSync(SAMPLE_TAPE, 'utf8');

  it('has the sections, controls and charts the scripts draw into', () => {
    const ids = [...indexHtml.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length); // no id twice
    for (const id of [
      'fig-state-share',
      'fig-state-pd',
      'fig-vintage-share',
      'fig-vintage-pd',
      'download-loans',
      'lifetime-form',
      'lifetime-scenario-list',
      'psa',
      'fig-balance',
      'fig-cdr',
      'fig-cpr',
      'fig-cumloss',
      'lifetime-table',
      'download-vectors',
      'download-lifetime-loans',
      'backtest-form',
      'backtest-tape',
      'use-backtest-sample',
      'backtest-summary',
      'fig-calibration',
      'backtest-bands',
      'backtest-drift',
    ]) {
      expect(ids, id).toContain(id);
    }
    // Every element a script looks up by $('…') is in the page.
    for (const [name, text] of [
      ['lifetime.js', lifetimeJs],
      ['backtest.js', backtestJs],
      ['pool.js', poolJs],
    ]) {
      for (const m of (text as string).matchAll(/\$\('([a-z0-9-]+)'\)/g))
        expect(ids, `${name}: ${m[1]}`).toContain(m[1]);
    }
    expect(indexHtml).toMatch(/<label for="psa">/);
    expect(indexHtml).toMatch(/<legend>House-price scenarios<\/legend>/);
  });

  it('calls the routes as docs/API.md documents them', () => {
    expect(lifetimeJs).toMatch(/call\(`pools\/lifetime\?\$\{query\}`/);
    expect(lifetimeJs).toMatch(/scenario: scenarios\.join\(','\)/);
    expect(lifetimeJs).toMatch(/download\(\s*`pools\/lifetime\?/);
    expect(lifetimeJs).toMatch(/\{ loans: 'csv' \}/);
    expect(lifetimeJs).toMatch(/'baseline', 'severely_adverse'/);
    expect(poolJs).toMatch(/query\.set\('loans', 'true'\)/);
    expect(poolJs).toMatch(/download\(\s*`pools\/score\?/);
    expect(poolJs).toMatch(/p\.by_state/);
    expect(poolJs).toMatch(/p\.by_vintage/);
    expect(backtestJs).toMatch(/call\(`pools\/backtest\?/);
    expect(backtestJs).toMatch(/observed_rate_lower/);
    expect(backtestJs).toMatch(/diagonal: true/);
    // a CSV download asks for CSV and sends the API key, as every call does
    expect(apiJs).toMatch(/export async function download\(/);
    expect(apiJs).toMatch(/send\(url, init, 'text\/csv'\)/);
    expect(chartsJs).toMatch(/export function plotChart\(/);
  });

  it('says every figure comes from SYNTHETIC data, as it does for a PD', () => {
    for (const [name, text] of [
      ['lifetime.js', lifetimeJs],
      ['backtest.js', backtestJs],
      ['pool.js', poolJs],
    ]) {
      expect(text, name).toMatch(/'The models were trained on SYNTHETIC data'/);
    }
  });

  it('serves the sample backtest tape, which the backtest route takes as the page sends it', async () => {
    const app = await build();
    const sample = readFileSync(BACKTEST_TAPE, 'utf8');
    const res = await app.inject('/ui/backtest-tape.csv');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(CONTENT_TYPES['.csv'] as RegExp);
    expect(res.headers['content-disposition']).toBe('inline; filename="backtest-tape.csv"');
    expect(res.body).toBe(sample);
    const report = await app.inject({
      method: 'POST',
      url: '/pools/backtest?model=xgboost',
      headers: { 'content-type': 'text/csv' },
      payload: sample,
    });
    expect(report.statusCode).toBe(200);
    const r = report.json();
    expect(r.light).toMatch(/^(green|amber|red)$/);
    expect(r.auc).toMatchObject({ value: expect.any(Number), lower: expect.any(Number), upper: expect.any(Number) });
    for (const row of r.calibration.pd_bands.rows) {
      expect(row).toMatchObject({
        group: expect.any(String),
        mean_pd: expect.any(Number),
        observed_rate: expect.any(Number),
        observed_rate_lower: expect.any(Number),
        observed_rate_upper: expect.any(Number),
        light: expect.stringMatching(/^(green|amber|red)$/),
      });
    }
  });

  it('gets what the lifetime view draws from the sample tape, and its CSV downloads', async () => {
    const app = await build();
    const scenarios = (await app.inject('/scenarios')).json().scenarios.map((s: { name: string }) => s.name);
    expect(scenarios).toEqual(expect.arrayContaining(['baseline', 'severely_adverse']));
    const url = '/pools/lifetime?model=xgboost&scenario=baseline%2Cseverely_adverse&psa=1';
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'text/csv' }, payload: tape });
    expect(res.statusCode).toBe(200);
    const answer = res.json();
    expect(answer.scenarios.map((s: { scenario: string }) => s.scenario)).toEqual(['baseline', 'severely_adverse']);
    for (const s of answer.scenarios) {
      expect(s.vectors.length).toBeGreaterThan(300);
      expect(Object.keys(s.vectors[0])).toEqual(
        expect.arrayContaining(['month', 'balance', 'cdr', 'cpr', 'cumulative_loss_rate']),
      );
    }
    const csv = await app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'text/csv', accept: 'text/csv' },
      payload: tape,
    });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body.startsWith('scenario,period,')).toBe(true);
    const lifetimeLoans = await app.inject({
      method: 'POST',
      url: `${url}&loans=csv`,
      headers: { 'content-type': 'text/csv', accept: 'text/csv' },
      payload: tape,
    });
    expect(lifetimeLoans.statusCode).toBe(200);
    expect(lifetimeLoans.body.startsWith('row,loan_sequence_number,scenario,probability_of_default,')).toBe(true);
    const loans = await app.inject({
      method: 'POST',
      url: '/pools/score?lgd=0.35&model=xgboost&loans=true',
      headers: { 'content-type': 'text/csv', accept: 'text/csv' },
      payload: tape,
    });
    expect(loans.statusCode).toBe(200);
    expect(loans.body.split('\n')[0]).toBe(
      'row,loan_sequence_number,probability_of_default,log_odds,above_cutoff,expected_loss',
    );
  });
});
