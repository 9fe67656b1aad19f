/**
 * The browser page (GET /) end to end, in a real browser: start the app on a free loopback port, open
 * it in Debian's Chromium (driven by playwright-core) under a strict Content-Security-Policy, and use
 * it as a person would:
 *
 *   1. desktop (1280 px): change some loan fields, score → four PD bars, each with its model name,
 *      version and PD as POST /predict answers them, each compared with its cut-off ("above the
 *      cut-off (x%)" / "below …", never "predicts default"); what the PD means (the event, the horizon,
 *      the scenario, SYNTHETIC training data, a model card link that opens); the explanation chart and
 *      reason codes (borrower and loan fields only); the scenario selector lists GET /scenarios,
 *      starts on baseline and its choice is sent with the next prediction;
 *   2. type 900 as the credit score and press Enter → no request, the API's own message next to the
 *      field, the field marked invalid and focused; the same for a month 13 first payment date;
 *   3. upload the sample tape → the pool summary shows what POST /pools/score answers for it, and four
 *      charts; a tape with a bad row → the row, field and message listed, then "score the valid rows";
 *   4. an API key is sent as a bearer token, and a 401 answer is shown;
 *   3b. the same sample tape's lifetime loss under baseline and severely_adverse (the scenarios checked
 *      at first, as GET /scenarios names them): the table and four charts (one line a scenario, as many
 *      points as the API's months, the last cumulative loss the API's), the vectors CSV, the per-loan
 *      lifetime CSV and the per-loan CSV saved by the browser equal to the API's, byte for byte; the state
 *      and vintage charts; then with a JSON file of one's own path (the sample state-level path) beside the
 *      checked presets: a broken file refused next to it with no request, an invalid path refused by the
 *      API with its message next to it, the sample sent as a multipart body (no scenario in the query),
 *      its rows as the API answers the same body;
 *   3c. the sample backtest tape: light, AUC and interval, KS, PSI, calibration points and band lights
 *      as POST /pools/backtest answers them; SYNTHETIC said next to every figure;
 *   5. phone (390 px): score a loan, the sample tape, its lifetime loss and the sample backtest, one
 *      column, nothing wider than the screen;
 *   6. with API keys on (API_KEYS): the page loads without a key, says a key is needed, works with one.
 *
 *   node --import tsx scripts/ci/ui-e2e.ts
 *
 * Needs /usr/bin/chromium (override with CHROMIUM=/path). Screenshots (not committed) in $SCREENSHOTS
 * or test-results/: ui-desktop.png, ui-validation.png, ui-pool-errors.png, ui-lifetime.png,
 * ui-backtest.png, ui-phone.png. Bounded:
 * E2E_TIMEOUT seconds (default 120) for the whole run, 30 s per browser step.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Locator, Page } from 'playwright-core';
import { BACKTEST_TAPE, SAMPLE_SCENARIO, SAMPLE_TAPE } from '../../plugins/routes/ui.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { keyLine, newToken } from '../../src/security/keys.js';
import { CHROMIUM, launchChromium } from './chromium.js';

const OUT = resolve(process.env.SCREENSHOTS ?? 'test-results');
const TOTAL_TIMEOUT_S = Number(process.env.E2E_TIMEOUT ?? 120);
const STEP_TIMEOUT_MS = 30_000;
/**
 * Stricter than the service's own policy (helmet's defaults also allow inline styles): the page must
 * work without any inline script or style.
 */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'; " +
  "script-src-attr 'none'";

class E2EError extends Error {}
function fail(message: string): never {
  throw new E2EError(message);
}
function check(condition: boolean, message: string): void {
  if (!condition) fail(message);
}

if (!existsSync(CHROMIUM)) {
  console.error(
    `ui-e2e: FAIL: ${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM=/path/to/chromium`,
  );
  process.exit(1);
}

let app: FastifyInstance | undefined;
let securedApp: FastifyInstance | undefined;
let browser: Browser | undefined;

async function closeAll(): Promise<void> {
  await browser?.close().catch(() => {});
  await app?.close().catch(() => {});
  await securedApp?.close().catch(() => {});
}

const watchdog = setTimeout(() => {
  console.error(`ui-e2e: FAIL: did not finish within ${TOTAL_TIMEOUT_S} s`);
  void closeAll().finally(() => process.exit(1));
}, TOTAL_TIMEOUT_S * 1000);
watchdog.unref();

// The page's formats (public/format.js), to compare what it shows with what the API answers.
const pct = (p: number) => `${(p * 100).toFixed(2)}%`;
const usd = (x: number) =>
  new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 }).format(x);
const count = (n: number) => new Intl.NumberFormat('en-US').format(n);

interface Prediction {
  model: string;
  version: string;
  probability_of_default: number;
  above_cutoff: boolean;
  cutoff: number;
  explanation?: {
    contributions: Record<string, number>;
    kinds: Record<string, string>;
    reasons: { code: string; field: string; text: string }[];
  };
}
interface Pool {
  loan_count: number;
  total_original_upb: number;
  upb_weighted_pd: number;
  expected_loss: number;
  pd_bands: unknown[];
  by_fico: unknown[];
  by_ltv: unknown[];
  by_state: { band: string; original_upb: number }[];
  by_vintage: unknown[];
  rejected: { count: number };
}
interface Vector {
  month: number;
  balance: number;
  cdr: number;
  cpr: number;
  cumulative_loss_rate: number;
}
interface Lifetime {
  scenarios: {
    scenario: string;
    expected_loss_12m: number;
    expected_loss_36m: number;
    expected_loss_lifetime: number;
    lifetime_pd: number;
    wal_years: number;
    vectors: Vector[];
  }[];
}
interface Backtest {
  light: string;
  auc: { value: number; lower: number; upper: number };
  ks: { value: number };
  psi: number | null;
  calibration: { light: string; pd_bands: { rows: { group: string; light: string }[] } };
  drift: { fields: Record<string, { psi: number; band: string }> } | null;
}

let base = '';
/** Asks the service directly (not through the page), for the figures the page must show. */
async function api<T>(path: string, body: string, type = 'application/json'): Promise<{ status: number; json: T }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: res.status, json: (await res.json()) as T };
}
/** The same, for a CSV answer (Accept: text/csv). */
async function apiCsv(path: string, body: string): Promise<string> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', accept: 'text/csv' },
    body,
  });
  check(res.status === 200, `${path} as CSV answered ${res.status}`);
  return res.text();
}
/** Clicks a download button and answers what the browser saved. */
async function downloaded(page: Page, button: string): Promise<string> {
  const saving = page.waitForEvent('download');
  await page.getByRole('button', { name: button }).click();
  const file = await (await saving).path();
  return readFileSync(file, 'utf8');
}

const text = async (locator: Locator) => ((await locator.textContent()) ?? '').trim();

/** Opens the page in a new context and collects what goes wrong in it. */
async function open(viewport: { width: number; height: number }, mobile: boolean, at = base) {
  if (!browser) fail('no browser');
  const context = await browser.newContext({ viewport, isMobile: mobile, hasTouch: mobile, locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // The browser logs every 4xx answer; those the test provokes are expected.
    if (
      msg.type() === 'error' &&
      !/Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())
    )
      problems.push(`console: ${msg.text()}`);
  });
  const origin = new URL(at).origin;
  await page.route(
    (url) => url.origin !== origin,
    (route) => {
      problems.push(`request outside the service: ${route.request().url()}`);
      return route.abort();
    },
  );
  const response = await page.goto(`${at}/`, { waitUntil: 'domcontentloaded' });
  check(response?.status() === 200, `GET / answered ${response?.status()}`);
  await page.locator('body[data-ready="true"]').waitFor();
  return { page, problems, close: () => context.close() };
}

/** The four PD bars: model name, version and PD as shown, in order. */
async function pdBars(page: Page) {
  const rows = page.locator('#pd-chart svg g.row');
  const shown = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const row = rows.nth(i);
    const version = await text(row.locator('.sublabel'));
    shown.push({
      // A phone draws the version inside the label's line (a tspan), a desktop under it.
      model: (await text(row.locator('text.label'))).replace(version, '').trim(),
      version,
      pd: await text(row.locator('text.value')),
      width: Number(await row.locator('rect.bar').getAttribute('width')),
    });
  }
  return shown;
}

async function summary(page: Page): Promise<Record<string, string>> {
  const figures = page.locator('#pool-summary .figure');
  const out: Record<string, string> = {};
  for (let i = 0; i < (await figures.count()); i++) {
    out[await text(figures.nth(i).locator('dt'))] = await text(figures.nth(i).locator('dd'));
  }
  return out;
}

async function expectSummary(page: Page, pool: Pool, what: string) {
  await page.locator('#pool-results').waitFor();
  const shown = await summary(page);
  const expected = {
    'Loans scored': count(pool.loan_count),
    'Total original balance': usd(pool.total_original_upb),
    'Balance-weighted PD': pct(pool.upb_weighted_pd),
    'Expected loss': usd(pool.expected_loss),
  };
  for (const [term, value] of Object.entries(expected)) {
    check(shown[term] === value, `${what}: "${term}" shows ${JSON.stringify(shown[term])}, the API answers ${value}`);
  }
  const charts: [string, unknown[]][] = [
    ['#fig-pd-hist', pool.pd_bands],
    ['#fig-upb-pd', pool.pd_bands],
    ['#fig-fico', pool.by_fico],
    ['#fig-ltv', pool.by_ltv],
    ['#fig-vintage-share', pool.by_vintage],
    ['#fig-vintage-pd', pool.by_vintage],
  ];
  for (const [id, bands] of charts) {
    const columns = await page.locator(`${id} svg[role="img"] g.column`).count();
    check(columns === bands.length, `${what}: ${id} draws ${columns} columns for ${bands.length} bands`);
    const label = (await page.locator(`${id} svg`).getAttribute('aria-label')) ?? '';
    check(label.length > 20, `${what}: ${id} has no text alternative`);
  }
  // States: the 15 largest balances as bars, in that order; every state in the table.
  const largest = [...pool.by_state].sort((a, b) => b.original_upb - a.original_upb).slice(0, 15);
  for (const id of ['#fig-state-share', '#fig-state-pd']) {
    const labels = await page.locator(`${id} svg[role="img"] g.row text.label`).allTextContents();
    check(
      JSON.stringify(labels) === JSON.stringify(largest.map((b) => b.band)),
      `${what}: ${id} draws ${labels.join(',')}, the 15 largest states are ${largest.map((b) => b.band).join(',')}`,
    );
    const rows = await page.locator(`${id} details tbody tr`).count();
    check(rows === pool.by_state.length, `${what}: ${id} tables ${rows} states of ${pool.by_state.length}`);
  }
  console.log(
    `${what}: summary ${Object.values(expected).join(' | ')}; 8 charts (PD bands, FICO, LTV, state, vintage)`,
  );
}

async function main(): Promise<void> {
  app = buildApp(loadConfig({ ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0' }));
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CSP);
  });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  console.log(`app listening on ${base}`);
  mkdirSync(OUT, { recursive: true });

  browser = await launchChromium(STEP_TIMEOUT_MS);
  console.log(`browser: Chromium ${browser.version()}`);

  // ---- 1. desktop: score a loan ----------------------------------------------------------------
  const desktop = await open({ width: 1280, height: 900 }, false);
  const page = desktop.page;
  for (const f of LOAN_FIELDS) {
    check((await page.getByLabel(new RegExp(`\\b${f.name}\\b`)).count()) === 1, `no labelled control for ${f.name}`);
  }
  console.log(`form: a labelled control for each of the ${LOAN_FIELDS.length} loan fields`);

  await page.getByLabel(/credit_score/).fill('640');
  await page.getByLabel(/\bltv\b/).fill('95');
  await page.getByLabel(/\bcltv\b/).fill('95');
  await page.getByLabel(/\bdti\b/).fill('45');
  await page.getByLabel(/original_interest_rate/).fill('7.25');
  await page.getByLabel(/property_state/).selectOption('FL');
  await page.getByLabel(/number_of_borrowers/).fill(''); // not available → null
  await page.getByLabel(/loan_sequence_number/).fill('E2E-LOAN-1');
  const sent = page.waitForRequest((r) => new URL(r.url()).pathname === '/predict');
  await page.getByRole('button', { name: 'Score the loan' }).click();
  const request = await sent;
  const loan = JSON.parse(request.postData() ?? '{}') as Record<string, unknown>;
  check(
    loan.credit_score === 640 && loan.original_interest_rate === 7.25 && loan.number_of_borrowers === null,
    `the page sent ${request.postData()}`,
  );
  check(
    new URL(request.url()).searchParams.get('scenario') === 'baseline',
    `the page sent scenario ${new URL(request.url()).searchParams.get('scenario')}, expected baseline (the default)`,
  );
  const direct = await api<{ results: Prediction[] }>(
    '/predict?model=all&explain=true&scenario=baseline',
    JSON.stringify(loan),
  );
  check(direct.status === 200, `POST /predict answered ${direct.status}`);
  const expected = direct.json.results;
  check(expected.length === 4, `the service has ${expected.length} models, expected 4`);

  await page.locator('#pd-chart svg g.row').nth(3).waitFor();
  const bars = await pdBars(page);
  check(bars.length === 4, `${bars.length} PD bars, expected 4`);
  expected.forEach((p, i) => {
    const bar = bars[i];
    check(
      bar?.model === p.model && bar.version === `version ${p.version}` && bar.pd === pct(p.probability_of_default),
      `bar ${i + 1} shows ${JSON.stringify(bar)}, the API answers ${p.model} ${p.version} ${pct(p.probability_of_default)}`,
    );
    check((bar?.width ?? 0) > 1, `bar ${i + 1} (${p.model}) has no length`);
  });
  check(
    (await page.locator('#pd-chart svg').getAttribute('aria-label'))?.includes('E2E-LOAN-1') === true,
    'the PD chart has no text alternative naming the loan',
  );
  console.log(`PD chart: ${bars.map((b) => `${b.model} (${b.version}) ${b.pd}`).join(', ')}`);

  // Each PD compared with its model's cut-off, in words that predict nothing.
  const verdicts = page.locator('#pd-table tbody tr td:last-child');
  for (const [i, p] of expected.entries()) {
    const shown = await text(verdicts.nth(i));
    const want = `${p.above_cutoff ? 'above' : 'below'} the cut-off (${pct(p.cutoff)})`;
    check(shown === want, `${p.model}: the page says ${JSON.stringify(shown)}, expected ${JSON.stringify(want)}`);
  }
  const results = await text(page.locator('#loan-results'));
  check(!/predicts? (a )?default/i.test(results), 'the page still says a model predicts a default');
  const meaning = page.locator('#pd-meaning');
  check(await meaning.isVisible(), 'no "What the PD means" block');
  const meaningText = await text(meaning);
  for (const needed of ['36 months', 'baseline', 'SYNTHETIC', '90+ days delinquent']) {
    check(meaningText.includes(needed), `"What the PD means" does not mention ${needed}: ${meaningText}`);
  }
  const cardLink = meaning.getByRole('link', { name: 'Read the model card' });
  const cardHref = (await cardLink.getAttribute('href')) ?? '';
  const card = await fetch(new URL(cardHref, `${base}/`));
  check(card.status === 200 && (await card.text()).startsWith('# Model card'), `the model card link ${cardHref} fails`);
  const offered = await page
    .locator('#scenario option')
    .evaluateAll((o) => o.map((x) => (x as unknown as { value: string }).value));
  const listed = (await (await fetch(`${base}/scenarios`)).json()) as { scenarios: { name: string }[] };
  check(
    JSON.stringify(offered) === JSON.stringify(listed.scenarios.map((s) => s.name)),
    `the scenario selector offers ${offered.join(', ')}, GET /scenarios lists ${listed.scenarios.map((s) => s.name)}`,
  );
  check(
    (await page.locator('#scenario').inputValue()) === 'baseline',
    'the scenario selector does not start on baseline',
  );
  console.log(`cut-off wording, what the PD means and the model card link; scenarios offered: ${offered.join(', ')}`);

  const shownModel = await page.locator('#explain-model').inputValue();
  const explained = expected.find((p) => p.model === shownModel)?.explanation;
  if (!explained) fail(`the explanation shows model ${JSON.stringify(shownModel)}, which the API did not explain`);
  const contributions = await page.locator('#explain-chart svg g.row').count();
  check(
    contributions === Object.keys(explained.contributions).length,
    `explanation chart: ${contributions} bars for ${Object.keys(explained.contributions).length} contributions`,
  );
  const reasons = page.locator('#reasons li');
  check(
    (await reasons.count()) === explained.reasons.length && explained.reasons.length > 0,
    `${await reasons.count()} reason codes shown, the API gives ${explained.reasons.length}`,
  );
  check(
    (await text(reasons.first())).includes(explained.reasons[0]?.code ?? '?'),
    `first reason ${await text(reasons.first())} is not ${explained.reasons[0]?.code}`,
  );
  for (const r of explained.reasons) {
    check(
      explained.kinds[r.field] === 'borrower_or_loan',
      `reason ${r.code} is about ${r.field}, not the borrower or loan`,
    );
  }
  check(
    (await text(page.locator('#explain-groups'))).startsWith('Contributions by kind: borrower and loan'),
    'the explanation does not show the contributions by kind',
  );
  await page.locator('#explain-model').selectOption('logistic_regression');
  check(
    (await text(page.locator('#explain-summary'))).startsWith('logistic_regression'),
    'choosing logistic_regression does not show its explanation',
  );
  console.log(
    `explanation: ${contributions} signed bars, ${explained.reasons.length} reason codes, model switch works`,
  );

  // Another scenario is sent with the next prediction, and named in what the PD means.
  await page.locator('#scenario').selectOption('severely_adverse');
  const again = page.waitForRequest((r) => new URL(r.url()).pathname === '/predict');
  await page.getByRole('button', { name: 'Score the loan' }).click();
  const second = await again;
  check(
    new URL(second.url()).searchParams.get('scenario') === 'severely_adverse',
    `the page sent ${second.url()} after choosing severely_adverse`,
  );
  await page.locator('#pd-scenario', { hasText: 'severely_adverse' }).waitFor();
  console.log('scenario: severely_adverse sent with the next prediction and named on the page');

  // ---- 2. validation at the field, keyboard only ------------------------------------------------
  const credit = page.getByLabel(/credit_score/);
  await credit.fill('900');
  let posted = 0;
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/predict') posted++;
  });
  await credit.press('Enter');
  const creditError = page.locator('#credit_score-error');
  await creditError.waitFor();
  const apiRefusal = await api<{ details: { field: string; message: string }[] }>(
    '/predict',
    JSON.stringify({ ...loan, credit_score: 900 }),
  );
  const apiMessage = apiRefusal.json.details.find((d) => d.field === 'credit_score')?.message ?? '?';
  check(
    (await text(creditError)).endsWith(apiMessage),
    `the credit score error reads ${JSON.stringify(await text(creditError))}, the API says ${JSON.stringify(apiMessage)}`,
  );
  check(posted === 0, 'an invalid loan was sent to the service');
  check((await credit.getAttribute('aria-invalid')) === 'true', 'the credit score field is not aria-invalid');
  check(
    ((await credit.getAttribute('aria-describedby')) ?? '').includes('credit_score-error'),
    'the error is not linked to the field (aria-describedby)',
  );
  check(
    (await page.evaluate<string | undefined>('document.activeElement?.id')) === 'credit_score',
    'the focus did not move to the credit score field',
  );
  const errorBox = await creditError.boundingBox();
  const fieldBox = await credit.boundingBox();
  check(
    errorBox !== null && fieldBox !== null && errorBox.y > fieldBox.y && errorBox.y - fieldBox.y < 120,
    'the error is not next to the field',
  );
  console.log(`validation: "${await text(creditError)}" under the field, focused, aria-invalid, nothing sent`);
  await page.locator('#loan-form').screenshot({ path: `${OUT}/ui-validation.png` });

  await credit.fill('640');
  const date = page.getByLabel(/first_payment_date/);
  await date.fill('200613');
  await date.press('Enter');
  const dateError = page.locator('#first_payment_date-error');
  await dateError.waitFor();
  const dateRefusal = await api<{ details: { field: string; message: string }[] }>(
    '/predict',
    JSON.stringify({ ...loan, first_payment_date: 200613 }),
  );
  const dateMessage = dateRefusal.json.details[0]?.message ?? '?';
  check((await text(dateError)).endsWith(dateMessage), `date error ${await text(dateError)} is not ${dateMessage}`);
  check(await page.locator('#credit_score-error').isHidden(), 'the fixed credit score still shows an error');
  await page.getByRole('button', { name: 'Reset to the example' }).click();
  check(await dateError.isHidden(), 'reset does not clear the errors');
  console.log(
    `validation: "${await text(page.locator('#loan-form-status'))}" after reset; month 13 refused as the API does`,
  );

  // ---- 3. pool: upload the sample tape ----------------------------------------------------------
  const tape = readFileSync(SAMPLE_TAPE, 'utf8');
  const pool = await api<Pool>('/pools/score', tape, 'text/csv');
  check(pool.status === 200, `POST /pools/score of the sample tape answered ${pool.status}`);
  await page.locator('#tape').setInputFiles(SAMPLE_TAPE);
  await page.getByRole('button', { name: 'Score the tape' }).click();
  await page.locator('#pool-form-status.good').waitFor();
  await expectSummary(page, pool.json, 'sample tape uploaded');
  check(
    (await text(page.locator('#pool-about'))).includes('SYNTHETIC'),
    'the pool figures do not say the models were trained on SYNTHETIC data',
  );

  // the per-loan results: what POST /pools/score?loans=true answers as CSV, saved by the browser
  const loansCsv = await downloaded(page, 'Download the per-loan results (CSV)');
  const loansApi = await apiCsv('/pools/score?lgd=0.35&model=xgboost&loans=true', tape);
  check(
    loansCsv === loansApi && loansCsv.startsWith('row,loan_sequence_number,probability_of_default'),
    `the per-loan CSV saved (${loansCsv.length} characters) is not the API's (${loansApi.length})`,
  );
  console.log(`per-loan results: ${loansCsv.trimEnd().split('\n').length - 1} rows saved, the API's CSV byte for byte`);

  // ---- 3b. lifetime loss of the same tape, two scenarios ------------------------------------------
  const scenarioNames = (
    (await (await fetch(`${base}/scenarios`)).json()) as { scenarios: { name: string }[] }
  ).scenarios.map((s) => s.name);
  const boxes = page.locator('#lifetime-scenario-list input[type="checkbox"]');
  const offeredLifetime = await boxes.evaluateAll((b) => b.map((x) => (x as unknown as { value: string }).value));
  check(
    JSON.stringify(offeredLifetime) === JSON.stringify(scenarioNames),
    `the lifetime scenarios offered are ${offeredLifetime.join(', ')}, GET /scenarios lists ${scenarioNames.join(', ')}`,
  );
  const checkedAtFirst = await page
    .locator('#lifetime-scenario-list input:checked')
    .evaluateAll((b) => b.map((x) => (x as unknown as { value: string }).value));
  check(
    JSON.stringify(checkedAtFirst) === JSON.stringify(['baseline', 'severely_adverse']),
    `the lifetime view starts on ${checkedAtFirst.join(', ')}, not baseline and severely_adverse`,
  );
  await page.getByLabel('Prepayment (PSA multiple)').fill('abc');
  let lifetimePosts = 0;
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/pools/lifetime') lifetimePosts++;
  });
  await page.getByRole('button', { name: 'Project lifetime loss' }).click();
  await page.locator('#psa-error').waitFor();
  check(lifetimePosts === 0, 'a PSA multiple of "abc" was sent');
  await page.getByLabel('Prepayment (PSA multiple)').fill('1');
  const projecting = page.waitForRequest((r) => new URL(r.url()).pathname === '/pools/lifetime');
  await page.getByRole('button', { name: 'Project lifetime loss' }).click();
  const lifetimeQuery = new URL((await projecting).url()).search;
  await page.locator('#lifetime-form-status.good').waitFor();
  check(
    new URLSearchParams(lifetimeQuery).get('scenario') === 'baseline,severely_adverse',
    `the page asked ${lifetimeQuery}`,
  );
  const lifetime = await api<Lifetime>(`/pools/lifetime${lifetimeQuery}`, tape, 'text/csv');
  check(lifetime.status === 200, `POST /pools/lifetime${lifetimeQuery} answered ${lifetime.status}`);
  const tableRows = page.locator('#lifetime-table tbody tr');
  check(
    (await tableRows.count()) === lifetime.json.scenarios.length,
    `the lifetime table has ${await tableRows.count()} rows for ${lifetime.json.scenarios.length} scenarios`,
  );
  for (const [i, s] of lifetime.json.scenarios.entries()) {
    const cells = await tableRows.nth(i).locator('td').allTextContents();
    const want = [s.scenario, usd(s.expected_loss_12m), usd(s.expected_loss_36m), usd(s.expected_loss_lifetime)];
    check(
      JSON.stringify(cells.slice(0, 4)) === JSON.stringify(want) &&
        cells[5] === pct(s.lifetime_pd) &&
        cells[6] === `${s.wal_years.toFixed(2)} years`,
      `lifetime row ${i + 1} shows ${JSON.stringify(cells)}, the API answers ${JSON.stringify(want)} ${pct(s.lifetime_pd)}`,
    );
  }
  const lastMonth = (s: Lifetime['scenarios'][number]) => s.vectors[s.vectors.length - 1] as Vector;
  for (const [id, field] of [
    ['#fig-balance', 'balance'],
    ['#fig-cdr', 'cdr'],
    ['#fig-cpr', 'cpr'],
    ['#fig-cumloss', 'cumulative_loss_rate'],
  ] as const) {
    const paths = page.locator(`${id} svg[role="img"] path.line`);
    check(
      (await paths.count()) === lifetime.json.scenarios.length,
      `${id}: ${await paths.count()} lines for ${lifetime.json.scenarios.length} scenarios`,
    );
    for (const [i, s] of lifetime.json.scenarios.entries()) {
      const points = Number(await paths.nth(i).getAttribute('data-points'));
      const drawn = ((await paths.nth(i).getAttribute('d')) ?? '').match(/[ML]/g)?.length;
      check(
        points === s.vectors.length && drawn === s.vectors.length,
        `${id} ${s.scenario}: ${points} points (${drawn} drawn), the API answers ${s.vectors.length} months`,
      );
      if (field === 'cumulative_loss_rate') {
        const end = lastMonth(s);
        const title = await text(paths.nth(i).locator('title'));
        const want = `${s.scenario}: ${pct(end.cumulative_loss_rate)} at ${end.month}`;
        check(title === want, `${id}: the line says ${JSON.stringify(title)}, the API's last month is ${want}`);
      }
    }
    const legend = await page.locator(`${id} .legend .entry`).allTextContents();
    check(
      JSON.stringify(legend) === JSON.stringify(lifetime.json.scenarios.map((s) => s.scenario)),
      `${id}: the legend names ${legend.join(', ')}`,
    );
  }
  check(
    (await text(page.locator('#lifetime-about'))).includes('SYNTHETIC'),
    'the lifetime figures do not say they come from SYNTHETIC data',
  );
  const vectorsCsv = await downloaded(page, 'Download the monthly vectors (CSV)');
  const vectorsApi = await apiCsv(`/pools/lifetime${lifetimeQuery}`, tape);
  check(
    vectorsCsv === vectorsApi && vectorsCsv.startsWith('scenario,period,'),
    `the vectors CSV saved (${vectorsCsv.length} characters) is not the API's (${vectorsApi.length})`,
  );
  const lifetimeLoansCsv = await downloaded(page, 'Download the per-loan lifetime figures (CSV)');
  const lifetimeLoansApi = await apiCsv(`/pools/lifetime${lifetimeQuery}&loans=csv`, tape);
  check(
    lifetimeLoansCsv === lifetimeLoansApi && lifetimeLoansCsv.startsWith('row,loan_sequence_number,scenario,'),
    `the per-loan lifetime CSV saved (${lifetimeLoansCsv.length} characters) is not the API's (${lifetimeLoansApi.length})`,
  );
  await page.locator('#lifetime').screenshot({ path: `${OUT}/ui-lifetime.png` });
  console.log(
    `lifetime: ${lifetime.json.scenarios.map((s) => `${s.scenario} ${s.vectors.length} months, cumulative loss ${pct(lastMonth(s).cumulative_loss_rate)}`).join('; ')}; vectors and per-loan CSV saved as the API's`,
  );

  // ---- 3b'. the lifetime loss under a path of one's own: a JSON file, sent as the scenario part ------
  const sentBefore = lifetimePosts;
  await page.locator('#lifetime-custom').setInputFiles({
    name: 'broken.json',
    mimeType: 'application/json',
    buffer: Buffer.from('{"national": [0.01,'),
  });
  await page.getByRole('button', { name: 'Project lifetime loss' }).click();
  await page.locator('#lifetime-custom-error').waitFor();
  check(
    (await text(page.locator('#lifetime-custom-error'))).includes('is not JSON') && lifetimePosts === sentBefore,
    `a file that is not JSON: ${await text(page.locator('#lifetime-custom-error'))}, ${lifetimePosts - sentBefore} requests sent`,
  );
  // Valid JSON, an invalid path: the API's refusal, named in the list the page sent, next to the field.
  await page.locator('#lifetime-custom').setInputFiles({
    name: 'down.json',
    mimeType: 'application/json',
    buffer: Buffer.from('{"national": "down"}'),
  });
  const refusedOwn = page.waitForResponse((r) => new URL(r.url()).pathname === '/pools/lifetime');
  await page.getByRole('button', { name: 'Project lifetime loss' }).click();
  check((await refusedOwn).status() === 400, 'an invalid path was not refused');
  await page.locator('#lifetime-custom-error').filter({ hasText: 'scenario[2].national' }).waitFor();
  await page.locator('#lifetime-custom').setInputFiles(SAMPLE_SCENARIO);
  const projectingOwn = page.waitForRequest((r) => new URL(r.url()).pathname === '/pools/lifetime');
  await page.getByRole('button', { name: 'Project lifetime loss' }).click();
  const ownRequest = await projectingOwn;
  await page.locator('#lifetime-form-status.good').waitFor();
  const ownType = (await ownRequest.allHeaders())['content-type'] ?? '';
  const ownQuery = new URL(ownRequest.url()).search;
  check(
    ownType.startsWith('multipart/form-data') && !new URLSearchParams(ownQuery).has('scenario'),
    `with a file of one's own the page sent ${ownType} to /pools/lifetime${ownQuery}`,
  );
  const path = JSON.parse(readFileSync(SAMPLE_SCENARIO, 'utf8')) as { name: string };
  const form = new FormData();
  form.append('scenario', JSON.stringify(['baseline', 'severely_adverse', path]));
  form.append('tape', new Blob([tape], { type: 'text/csv' }), 'sample-tape.csv');
  const ownApi = (await (
    await fetch(`${base}/pools/lifetime${ownQuery}`, { method: 'POST', body: form })
  ).json()) as Lifetime;
  const ownNames = ownApi.scenarios.map((s) => s.scenario);
  check(
    JSON.stringify(ownNames) === JSON.stringify(['baseline', 'severely_adverse', path.name]),
    `the API projected ${ownNames.join(', ')}`,
  );
  for (const [i, s] of ownApi.scenarios.entries()) {
    const cells = await tableRows.nth(i).locator('td').allTextContents();
    check(
      cells[0] === s.scenario && cells[3] === usd(s.expected_loss_lifetime),
      `with the file, lifetime row ${i + 1} shows ${JSON.stringify(cells)}, the API ${s.scenario} ${usd(s.expected_loss_lifetime)}`,
    );
  }
  const ownVectors = await downloaded(page, 'Download the monthly vectors (CSV)');
  check(
    ownVectors.startsWith('scenario,period,') && ownVectors.includes(`\n${path.name},`),
    `the vectors saved with the file do not hold ${path.name}`,
  );
  await page.locator('#lifetime-custom').setInputFiles([]);
  console.log(
    `lifetime with a path of one's own (${path.name}, multipart): ${ownApi.scenarios.map((s) => `${s.scenario} ${usd(s.expected_loss_lifetime)}`).join('; ')}, as the API answers`,
  );

  // ---- 3c. backtest of the sample backtest tape ---------------------------------------------------
  const backtest = await api<Backtest>(
    '/pools/backtest?model=xgboost',
    readFileSync(BACKTEST_TAPE, 'utf8'),
    'text/csv',
  );
  check(backtest.status === 200, `POST /pools/backtest of the sample answered ${backtest.status}`);
  // a tape without outcomes: refused, the API's message under the file
  const noOutcomes = await api<{ message: string; details?: { field: string; message: string }[] }>(
    '/pools/backtest?model=xgboost',
    tape,
    'text/csv',
  );
  check(noOutcomes.status === 400, `a tape without default_36m answered ${noOutcomes.status}`);
  await page.locator('#backtest-tape').setInputFiles(SAMPLE_TAPE);
  await page.getByRole('button', { name: 'Backtest the tape' }).click();
  const backtestError = page.locator('#backtest-tape-error');
  await backtestError.waitFor();
  const firstDetail = noOutcomes.json.details?.[0];
  check(
    (await text(backtestError)).includes(noOutcomes.json.message) &&
      (!firstDetail || (await text(backtestError)).includes(firstDetail.message)),
    `the refused backtest shows ${JSON.stringify(await text(backtestError))}, the API says ${JSON.stringify(noOutcomes.json)}`,
  );
  check(await page.locator('#backtest-results').isHidden(), 'a refused backtest still shows figures');
  console.log(`backtest of a tape without outcomes: "${(await text(backtestError)).slice(0, 120)}…"`);
  await page.getByRole('button', { name: 'Use the sample backtest tape' }).click();
  await page.locator('#backtest-form-status.good').waitFor();
  const backtestShown: Record<string, string> = {};
  const backtestFigures = page.locator('#backtest-summary .figure');
  for (let i = 0; i < (await backtestFigures.count()); i++) {
    backtestShown[await text(backtestFigures.nth(i).locator('dt'))] = await text(backtestFigures.nth(i).locator('dd'));
  }
  const report = backtest.json;
  const wantBacktest: Record<string, string> = {
    'Overall light': report.light,
    'AUC (95% interval)': `${report.auc.value.toFixed(3)} (${report.auc.lower.toFixed(3)}–${report.auc.upper.toFixed(3)})`,
    KS: report.ks.value.toFixed(3),
    'Calibration light': report.calibration.light,
  };
  for (const [term, value] of Object.entries(wantBacktest)) {
    check(backtestShown[term] === value, `backtest: "${term}" shows ${backtestShown[term]}, the API answers ${value}`);
  }
  check(
    (backtestShown['Score PSI'] ?? '').startsWith(report.psi === null ? 'not available' : report.psi.toFixed(4)),
    `backtest: the PSI shows ${backtestShown['Score PSI']}, the API answers ${report.psi}`,
  );
  const bandRows = report.calibration.pd_bands.rows;
  const dots = await page.locator('#fig-calibration svg[role="img"] g.point').count();
  check(dots === bandRows.length, `the calibration chart has ${dots} points for ${bandRows.length} PD bands`);
  check(
    (await page.locator('#fig-calibration svg line.diagonal').count()) === 1,
    'the calibration chart has no diagonal',
  );
  const lights = await page.locator('#backtest-bands tbody tr td:last-child').allTextContents();
  check(
    JSON.stringify(lights) === JSON.stringify(bandRows.map((r) => r.light)),
    `the band lights shown are ${lights.join(',')}, the API answers ${bandRows.map((r) => r.light).join(',')}`,
  );
  check(
    (await text(page.locator('#backtest-about'))).includes('SYNTHETIC'),
    'the backtest does not say its figures come from SYNTHETIC data',
  );
  // the per-field CSI table: every baseline field of the answer, most shifted first, with its band
  const driftRows = Object.entries(report.drift?.fields ?? {}).sort(([, a], [, b]) => b.psi - a.psi);
  const driftShown = await page
    .locator('#backtest-drift tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')));
  check(
    JSON.stringify(driftShown.map((r) => [r[0], r[1], r[2]])) ===
      JSON.stringify(driftRows.map(([name, f]) => [name, f.psi.toFixed(4), f.band])),
    `the CSI table shows ${JSON.stringify(driftShown).slice(0, 200)}, the API answers ${JSON.stringify(driftRows.map(([n, f]) => [n, f.psi])).slice(0, 200)}`,
  );
  await page.locator('#backtest').screenshot({ path: `${OUT}/ui-backtest.png` });
  console.log(
    `backtest: light ${report.light}, AUC ${backtestShown['AUC (95% interval)']}, PSI ${backtestShown['Score PSI']}, ${bandRows.length} bands as the API answers`,
  );
  await page.locator('#loan').scrollIntoViewIfNeeded();
  await page.getByRole('button', { name: 'Score the loan' }).click();
  await page.locator('#loan-form-status.good').waitFor();
  await page.screenshot({ path: `${OUT}/ui-desktop.png`, fullPage: true });

  // a loss given default out of range: the API's message next to the field, nothing sent
  await page.getByLabel('Loss given default').fill('1.5');
  await page.getByRole('button', { name: 'Score the tape' }).click();
  const lgdError = page.locator('#lgd-error');
  await lgdError.waitFor();
  const lgdRefusal = await api<{ details: { message: string }[] }>('/pools/score?lgd=1.5', tape, 'text/csv');
  const lgdMessage = lgdRefusal.json.details[0]?.message ?? '?';
  check(
    (await text(lgdError)) === `Loss given default (LGD) ${lgdMessage}`,
    `the LGD error reads ${JSON.stringify(await text(lgdError))}, the API says ${JSON.stringify(lgdMessage)}`,
  );
  check(
    (await page.evaluate<string | undefined>('document.activeElement?.id')) === 'lgd',
    'the focus did not move to the LGD field',
  );
  await page.getByLabel('Loss given default').fill('0.35');
  console.log(`LGD 1.5: "${await text(lgdError)}" next to the field`);

  // a tape with a bad row: refused, the row named; then the valid rows only
  const lines = tape.split('\n');
  lines[2] = lines[2]?.replace(/^\d+,/, '900,') ?? '';
  const bad = lines.join('\n');
  const refused = await api<{ details: { field: string; message: string }[] }>('/pools/score', bad, 'text/csv');
  check(refused.status === 400, `the bad tape answered ${refused.status}`);
  await page.locator('#tape').setInputFiles({ name: 'bad-tape.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await page.getByRole('button', { name: 'Score the tape' }).click();
  const problems = page.locator('#pool-problems');
  await problems.waitFor();
  const cells = await problems.locator('tbody tr').first().locator('td').allTextContents();
  const detail = refused.json.details[0];
  check(
    cells[0] === '3' && cells[1] === 'credit_score' && cells[2] === detail?.message,
    `the refused row shows ${JSON.stringify(cells)}, the API says ${JSON.stringify(detail)}`,
  );
  check(await page.locator('#pool-results').isHidden(), 'figures of a refused tape are still shown');
  await problems.screenshot({ path: `${OUT}/ui-pool-errors.png` });
  await page.getByRole('button', { name: 'Score the valid rows only' }).click();
  await page.locator('#pool-form-status.good').waitFor();
  const skipped = await api<Pool>('/pools/score?on_error=skip', bad, 'text/csv');
  await expectSummary(page, skipped.json, 'bad tape, valid rows');
  check(
    (await text(page.locator('#pool-problems-title'))) === 'Rows skipped' &&
      (await problems.locator('tbody tr').count()) === skipped.json.rejected.count,
    'the skipped row is not listed',
  );
  console.log(
    `bad tape: line 3 credit_score refused with the API's message, then ${count(skipped.json.loan_count)} loans scored`,
  );

  // ---- 4. API key and a 401 ----------------------------------------------------------------------
  await page.getByText('Settings', { exact: true }).click();
  await page.getByLabel('API key').fill('e2e-key');
  let authorization: string | undefined;
  await page.route('**/predict?*', (route) => {
    authorization = route.request().headers().authorization;
    return route.fulfill({
      status: 401,
      contentType: 'application/json',
      body: JSON.stringify({ statusCode: 401, code: 'UNAUTHORIZED', error: 'Unauthorized', message: 'bad key' }),
    });
  });
  await page.getByRole('button', { name: 'Score the loan' }).click();
  const alert = page.locator('#auth-problem');
  await alert.waitFor();
  check(authorization === 'Bearer e2e-key', `the API key was sent as ${JSON.stringify(authorization)}`);
  check(
    /^401 Unauthorized: .*API key/.test(await text(alert)),
    `the 401 shows as ${JSON.stringify(await text(alert))}`,
  );
  console.log(`API key: sent as a bearer token; a 401 shows "${await text(alert)}"`);
  await page.unroute('**/predict?*');
  await page.getByLabel('API key').fill('');
  check(await alert.isHidden(), 'clearing the API key does not clear the 401 message');
  check(desktop.problems.length === 0, `desktop: ${desktop.problems.join('; ')}`);
  await desktop.close();

  // ---- 5. phone ----------------------------------------------------------------------------------
  const phone = await open({ width: 390, height: 844 }, true);
  await phone.page.keyboard.press('Tab');
  check(
    (await phone.page.evaluate<string | undefined>('document.activeElement?.textContent')) === 'Skip to the loan form',
    'the first Tab stop is not the skip link',
  );
  await phone.page.getByRole('button', { name: 'Score the loan' }).click();
  await phone.page.locator('#pd-chart svg g.row').nth(3).waitFor();
  await phone.page.getByRole('button', { name: 'Use the sample tape' }).click();
  await phone.page.locator('#pool-form-status.good').waitFor();
  await expectSummary(phone.page, pool.json, 'phone, sample tape button');
  // no file chosen: the lifetime view projects the sample tape; then the sample backtest
  await phone.page.getByRole('button', { name: 'Project lifetime loss' }).click();
  await phone.page.locator('#lifetime-form-status.good').waitFor();
  check(
    (await text(phone.page.locator('#lifetime-form-status'))).includes('sample-tape.csv'),
    'phone: the lifetime view did not project the sample tape',
  );
  await phone.page.locator('#fig-cumloss svg path.line').nth(1).waitFor();
  await phone.page.getByRole('button', { name: 'Use the sample backtest tape' }).click();
  await phone.page.locator('#backtest-form-status.good').waitFor();
  await phone.page.locator('#fig-calibration svg g.point').first().waitFor();
  const a = await phone.page.getByLabel(/credit_score/).boundingBox();
  const b = await phone.page.getByLabel(/first_payment_date/).boundingBox();
  check(a !== null && b !== null && a.x === b.x && b.y > a.y, 'the phone form is not one column');
  const width = await phone.page.evaluate<number>('document.documentElement.scrollWidth');
  check(width <= 390, `the phone page is ${width} px wide: it scrolls sideways`);
  await phone.page.screenshot({ path: `${OUT}/ui-phone.png`, fullPage: true });
  check(phone.problems.length === 0, `phone: ${phone.problems.join('; ')}`);
  console.log('phone: one column, no sideways scrolling');
  await phone.close();

  // ---- 6. API keys on: the page and its assets are public, scoring needs the key ------------------
  const token = newToken();
  securedApp = buildApp(
    loadConfig({ ...process.env, LOG_LEVEL: 'error', API_KEYS: keyLine('ui-e2e', token, ['predict']) }),
  );
  const securedBase = await securedApp.listen({ host: '127.0.0.1', port: 0 });
  const secured = await open({ width: 1280, height: 900 }, false, securedBase);
  const banner = secured.page.locator('#auth-problem');
  await banner.waitFor(); // GET /models without a key, at load
  check(
    /^401 Unauthorized: the service needs an API key/.test(await text(banner)),
    `without a key the page shows ${JSON.stringify(await text(banner))}`,
  );
  check(
    (await secured.page.locator('#loan-fields input, #loan-fields select').count()) === LOAN_FIELDS.length,
    'the loan form did not load with API keys on',
  );
  await secured.page.getByLabel('API key').fill(token);
  await secured.page.getByLabel('API key').press('Tab'); // "change": the model list is read again
  await secured.page.locator('#pool-model option[value="xgboost"]').waitFor({ state: 'attached' });
  await secured.page.getByRole('button', { name: 'Score the loan' }).click();
  await secured.page.locator('#pd-chart svg g.row').nth(3).waitFor();
  check(await banner.isHidden(), 'the 401 message stays after a successful call');
  check(secured.problems.length === 0, `API keys on: ${secured.problems.join('; ')}`);
  console.log('API keys on: page public, 401 explained without a key, four PDs with it');
  await secured.close();
  console.log(
    `screenshots: ${OUT}/ui-desktop.png, ui-validation.png, ui-pool-errors.png, ui-lifetime.png, ui-backtest.png, ui-phone.png`,
  );
}

main().then(
  async () => {
    await closeAll();
    console.log('ui-e2e: OK');
    process.exit(0);
  },
  async (err: unknown) => {
    await closeAll();
    console.error(`ui-e2e: FAIL: ${err instanceof E2EError ? err.message : ((err as Error).stack ?? String(err))}`);
    process.exit(1);
  },
);
