/**
 * Swagger UI end to end, in a real browser: start the app on a free loopback port, open /docs in
 * Debian's Chromium (driven by playwright-core), expand POST /predict, "Try it out", "Execute", and
 * check that the live response is a 200 with probabilities of default. Saves a screenshot.
 *
 *   node --import tsx scripts/ci/swagger-ui-e2e.ts
 *
 * Needs /usr/bin/chromium (Debian package `chromium`; override with CHROMIUM=/path). Screenshot:
 * $SCREENSHOT or test-results/swagger-ui-predict.png (not committed). Bounded: E2E_TIMEOUT seconds
 * (default 90) for the whole run, 30 s per browser step.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { CHROMIUM, launchChromium } from './chromium.js';

const SCREENSHOT = resolve(process.env.SCREENSHOT ?? 'test-results/swagger-ui-predict.png');
const TOTAL_TIMEOUT_S = Number(process.env.E2E_TIMEOUT ?? 90);
const STEP_TIMEOUT_MS = 30_000;

class E2EError extends Error {}
/** Stops the run: main's handler closes the browser and the app, then exits 1 with the message. */
function fail(message: string): never {
  throw new E2EError(message);
}

if (!existsSync(CHROMIUM)) {
  console.error(
    `swagger-ui-e2e: FAIL: ${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM=/path/to/chromium`,
  );
  process.exit(1);
}

let app: FastifyInstance | undefined;
let browser: Browser | undefined;

async function closeAll(): Promise<void> {
  await browser?.close().catch(() => {});
  await app?.close().catch(() => {});
}

const watchdog = setTimeout(() => {
  console.error(`swagger-ui-e2e: FAIL: did not finish within ${TOTAL_TIMEOUT_S} s`);
  void closeAll().finally(() => process.exit(1));
}, TOTAL_TIMEOUT_S * 1000);
watchdog.unref();

async function main(): Promise<void> {
  app = buildApp(loadConfig({ ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0' }));
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  console.log(`app listening on ${base}`);

  browser = await launchChromium(STEP_TIMEOUT_MS);
  console.log(`browser: Chromium ${browser.version()}`);
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // Swagger UI loads everything from the service; any request elsewhere would make the test flaky.
  await page.route(
    (url) => url.origin !== new URL(base).origin,
    (route) => route.abort(),
  );

  const response = await page.goto(`${base}/docs`, { waitUntil: 'domcontentloaded' });
  if (response?.status() !== 200) fail(`GET /docs answered ${response?.status()}`);
  await page.locator('.swagger-ui .info .title').filter({ hasText: 'Loan default service' }).waitFor();
  console.log('Swagger UI loaded: "Loan default service"');

  const operation = page.locator('.opblock.opblock-post').filter({
    has: page.locator('.opblock-summary-path', { hasText: /^\/predict$/ }),
  });
  if ((await operation.count()) !== 1) fail(`expected one POST /predict operation, found ${await operation.count()}`);
  await operation.locator('.opblock-summary').first().click();
  // The service sets uiConfig.tryItOutEnabled, so an expanded operation may already be in "Try it out"
  // mode (its button then reads "Cancel"): click "Try it out" only when it is offered.
  const tryOut = operation.locator('button.try-out__btn');
  await tryOut.waitFor();
  const tryOutLabel = ((await tryOut.textContent()) ?? '').trim();
  if (/try it out/i.test(tryOutLabel)) await tryOut.click();
  else if (!/cancel/i.test(tryOutLabel)) fail(`unexpected "Try it out" button label ${JSON.stringify(tryOutLabel)}`);
  console.log(`"Try it out": ${/cancel/i.test(tryOutLabel) ? 'already enabled (tryItOutEnabled)' : 'clicked'}`);
  const execute = operation.locator('button.execute');
  await execute.waitFor();
  const body = await operation.locator('textarea.body-param__text').inputValue();
  if (!body.includes('credit_score')) fail(`the request body editor holds no example loan: ${body.slice(0, 200)}`);
  console.log(`POST /predict: "Try it out" with the example body (${body.length} characters)`);

  const answered = page.waitForResponse(
    (r) => new URL(r.url()).pathname === '/predict' && r.request().method() === 'POST',
  );
  await execute.click();
  const http = await answered;
  console.log(`POST ${new URL(http.url()).pathname}${new URL(http.url()).search}: HTTP ${http.status()}`);

  const live = operation.locator('.live-responses-table');
  await live.waitFor();
  const status = ((await live.locator('.response .response-col_status').first().textContent()) ?? '').trim();
  const shown = live.locator('.response-col_description .highlight-code, .response-col_description pre').first();
  await shown.waitFor();
  const text = (await shown.textContent()) ?? '';
  await operation.scrollIntoViewIfNeeded();
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  console.log(`screenshot: ${SCREENSHOT}`);

  if (status !== '200')
    fail(`the live response shows code ${JSON.stringify(status)}, expected 200: ${text.slice(0, 300)}`);
  if (!text.includes('probability_of_default'))
    fail(`the live response body has no probability_of_default: ${text.slice(0, 300)}`);
  if (pageErrors.length > 0) fail(`errors in the page: ${pageErrors.join('; ')}`);
  const pds = [...text.matchAll(/"probability_of_default":\s*([\d.eE+-]+)/g)].map((m) => Number(m[1]));
  if (pds.length === 0 || pds.some((p) => !(p >= 0 && p <= 1)))
    fail(`bad probabilities in the response: ${pds.join(', ')}`);
  console.log(`live response: code ${status}, probability_of_default ${pds.map((p) => p.toFixed(5)).join(' ')}`);
}

main().then(
  async () => {
    await closeAll();
    console.log('swagger-ui-e2e: OK');
    process.exit(0);
  },
  async (err: unknown) => {
    await closeAll();
    console.error(
      `swagger-ui-e2e: FAIL: ${err instanceof E2EError ? err.message : ((err as Error).stack ?? String(err))}`,
    );
    process.exit(1);
  },
);
