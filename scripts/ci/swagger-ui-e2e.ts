/**
 * Swagger UI end to end, in a real browser: start the app on a free loopback port, open /docs in
 * Debian's Chromium (driven by playwright-core) and, for EVERY operation of the OpenAPI document and
 * EVERY named example of its request body (each content type), do what a first-time user does:
 * expand it, "Try it out", pick the example, "Execute". Each call must answer 2xx with what the
 * route promises (a probability of default, a pool, ...), and must go out as Swagger UI leaves it:
 * no optional query parameter filled in for the user. Last, POST /predict with explain=true picked in
 * its select. Saves a screenshot of POST /predict.
 *
 *   node --import tsx scripts/ci/swagger-ui-e2e.ts
 *
 * Needs /usr/bin/chromium (Debian package `chromium`; override with CHROMIUM=/path). Screenshot:
 * $SCREENSHOT or test-results/swagger-ui-predict.png (not committed). Bounded: E2E_TIMEOUT seconds
 * (default 180) for the whole run, 30 s per browser step.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Locator, Page } from 'playwright-core';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { CHROMIUM, launchChromium } from './chromium.js';

const SCREENSHOT = resolve(process.env.SCREENSHOT ?? 'test-results/swagger-ui-predict.png');
const TOTAL_TIMEOUT_S = Number(process.env.E2E_TIMEOUT ?? 180);
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

interface Operation {
  method: string;
  path: string;
  parameters?: { name: string; in: string; required?: boolean; example?: unknown }[];
  requestBody?: { content: Record<string, { examples?: Record<string, { summary?: string; value: unknown }> }> };
}

/** One "Execute": an operation, and the content type and example of its body when it has one. */
interface Call {
  op: Operation;
  body?: { type: string; name: string; summary: string; value: unknown };
  /** Parameters to pick in their select before executing (name → value). */
  pick?: Record<string, string>;
}

function callsOf(doc: { paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>> }): Call[] {
  const calls: Call[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, spec] of Object.entries(ops)) {
      const op: Operation = { ...spec, method, path };
      const bodies = Object.entries(op.requestBody?.content ?? {}).flatMap(([type, media]) =>
        Object.entries(media.examples ?? {}).map(([name, e]) => ({
          type,
          name,
          summary: e.summary ?? name,
          value: e.value,
        })),
      );
      if (op.requestBody && bodies.length === 0)
        fail(`${method.toUpperCase()} ${path}: a request body without examples`);
      if (bodies.length === 0) calls.push({ op });
      for (const body of bodies) calls.push({ op, body });
    }
  }
  return calls;
}

/** The URL path Swagger UI calls: path parameters from their examples. */
function urlPath(op: Operation): string {
  return op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const example = op.parameters?.find((p) => p.in === 'path' && p.name === name)?.example;
    if (example === undefined) fail(`${op.method.toUpperCase()} ${op.path}: path parameter ${name} has no example`);
    return encodeURIComponent(String(example));
  });
}

/** What the answer must hold beyond a 2xx, by route. */
function checkAnswer(what: string, path: string, text: string): string {
  if (path === '/predict') {
    const pds = [...text.matchAll(/"probability_of_default":\s*([\d.eE+-]+)/g)].map((m) => Number(m[1]));
    if (pds.length === 0 || pds.some((p) => !(p >= 0 && p <= 1)))
      fail(`${what}: bad probabilities in the answer: ${text.slice(0, 300)}`);
    return `probability_of_default ${pds.map((p) => p.toFixed(5)).join(' ')}`;
  }
  if (path.endsWith('/infer')) {
    const proba = (JSON.parse(text) as { outputs?: { name: string; data: number[] }[] }).outputs?.find(
      (o) => o.name === 'predict_proba',
    );
    if (!proba || proba.data.length === 0 || proba.data.some((p) => !(p >= 0 && p <= 1)))
      fail(`${what}: no predict_proba in the answer: ${text.slice(0, 300)}`);
    return `predict_proba ${proba.data.map((p) => p.toFixed(5)).join(' ')}`;
  }
  if (path === '/pools/score') {
    const pool = JSON.parse(text) as { loan_count?: number; average_pd?: number };
    if (!(Number(pool.loan_count) > 0)) fail(`${what}: no loans scored: ${text.slice(0, 300)}`);
    return `${pool.loan_count} loans, average PD ${pool.average_pd?.toFixed(5)}`;
  }
  return text.replace(/\s+/g, ' ').slice(0, 60);
}

/** Expands an operation and puts it in "Try it out" mode (already on when tryItOutEnabled is set). */
async function open(page: Page, op: Operation): Promise<Locator> {
  const block = page.locator(`.opblock.opblock-${op.method}`).filter({
    has: page.locator(`.opblock-summary-path[data-path="${op.path}"]`),
  });
  if ((await block.count()) !== 1)
    fail(`expected one ${op.method.toUpperCase()} ${op.path} operation, found ${await block.count()}`);
  await block.locator('.opblock-summary').first().click();
  const tryOut = block.locator('button.try-out__btn');
  await tryOut.waitFor();
  const label = ((await tryOut.textContent()) ?? '').trim();
  if (/try it out/i.test(label)) await tryOut.click();
  else if (!/cancel/i.test(label)) fail(`unexpected "Try it out" button label ${JSON.stringify(label)}`);
  await block.locator('button.execute').waitFor();
  return block;
}

/** Picks the body's content type and example in the UI and checks the editor then holds that example. */
async function pickExample(block: Locator, call: Call): Promise<void> {
  const body = call.body;
  if (!body) return;
  const what = `${call.op.method.toUpperCase()} ${call.op.path} "${body.summary}"`;
  const types = block.locator('.body-param-content-type select');
  if ((await types.count()) > 0) await types.first().selectOption(body.type);
  if (body.type === 'multipart/form-data') {
    // A form, one field a part (no example menu): a text field filled in, a file chosen, as a person does.
    for (const [name, value] of Object.entries(body.value as Record<string, string>)) {
      const row = block.locator(`.opblock-section-request-body tr[data-property-name="${name}"]`);
      await row.waitFor();
      const file = row.locator('input[type="file"]');
      if ((await file.count()) > 0) {
        await file.setInputFiles({ name: `${name}.csv`, mimeType: 'text/csv', buffer: Buffer.from(value) });
      } else {
        const field = row.locator('input[type="text"], textarea').first();
        const shown = await field.inputValue();
        if (shown !== value) fail(`${what}: the form's ${name} field starts as ${JSON.stringify(shown.slice(0, 80))}`);
        await field.fill(value);
      }
    }
    return;
  }
  const examples = block.locator('.opblock-section-request-body select.examples-select-element');
  await examples.waitFor();
  const offered = await examples.locator('option').allTextContents();
  if (!offered.includes(body.summary))
    fail(`${what}: the examples offered are ${JSON.stringify(offered)}, not this summary`);
  await examples.selectOption(body.name);
  const editor = block.locator('textarea.body-param__text');
  const expected = typeof body.value === 'string' ? body.value : JSON.stringify(body.value);
  // The editor holds the example once React has re-rendered: bounded polling, by count.
  for (let i = 0; ; i++) {
    const text = await editor.inputValue();
    let same = text === expected;
    if (!same && typeof body.value !== 'string') {
      try {
        same = JSON.stringify(JSON.parse(text)) === expected;
      } catch {}
    }
    if (same) return;
    if (i === 50) fail(`${what}: the body editor does not hold the example: ${text.slice(0, 200)}`);
    await block.page().waitForTimeout(100);
  }
}

/** Execute, and check the HTTP answer and what the page shows of it. */
async function execute(page: Page, block: Locator, call: Call): Promise<string> {
  const { op } = call;
  const path = urlPath(op);
  const what = `${op.method.toUpperCase()} ${path}${call.body ? ` ${call.body.type} "${call.body.summary}"` : ''}`;
  const answered = page.waitForResponse(
    (r) => new URL(r.url()).pathname === path && r.request().method() === op.method.toUpperCase(),
  );
  await block.locator('button.execute').click();
  const http = await answered;
  const url = new URL(http.url());
  const expectedQuery = new URLSearchParams(call.pick ?? {}).toString();
  if (url.searchParams.toString() !== expectedQuery)
    fail(`${what}: Swagger UI sent the query ${JSON.stringify(url.search)}, expected ${JSON.stringify(expectedQuery)}`);
  const text = await http.text();
  if (http.status() < 200 || http.status() >= 300) fail(`${what}: HTTP ${http.status()}: ${text.slice(0, 300)}`);
  const shown = block.locator('.live-responses-table .response .response-col_status').first();
  await shown.waitFor();
  for (let i = 0; ((await shown.textContent()) ?? '').trim() !== String(http.status()); i++) {
    if (i === 50) fail(`${what}: the page shows code ${await shown.textContent()}, the answer was ${http.status()}`);
    await page.waitForTimeout(100);
  }
  // ... and the body it got, as Swagger UI formats it (JSON indented).
  const shownBody = block.locator('.live-responses-table .response-col_description pre').first();
  const same = (a: string) => {
    try {
      return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(text));
    } catch {
      return a.trim() === text.trim();
    }
  };
  for (let i = 0; !same((await shownBody.textContent()) ?? ''); i++) {
    if (i === 50) fail(`${what}: the page does not show the answer: ${(await shownBody.textContent())?.slice(0, 200)}`);
    await page.waitForTimeout(100);
  }
  console.log(`${what}${url.search}: ${http.status()}, ${checkAnswer(what, op.path, text)}`);
  return text;
}

async function main(): Promise<void> {
  app = buildApp(loadConfig({ ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0' }));
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  console.log(`app listening on ${base}`);
  const calls = callsOf((await (await fetch(`${base}/openapi.json`)).json()) as Parameters<typeof callsOf>[0]);

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
  console.log(`Swagger UI loaded: "Loan default service"; ${calls.length} calls to make`);

  const operations = [...new Set(calls.map((c) => c.op))];
  for (const op of operations) {
    const block = await open(page, op);
    const mine = calls.filter((c) => c.op === op);
    if (op.path === '/predict') {
      // And an option of a parameter: explain=true with the first example.
      mine.push({ ...(mine[0] as Call), pick: { explain: 'true' } });
    }
    for (const call of mine) {
      await pickExample(block, call);
      for (const [name, value] of Object.entries(call.pick ?? {}))
        await block.locator(`tr[data-param-name="${name}"] select`).selectOption(value);
      const text = await execute(page, block, call);
      if (call.pick?.explain === 'true' && !text.includes('"base_value"'))
        fail(`POST /predict?explain=true: no explanation in the answer: ${text.slice(0, 300)}`);
    }
    if (op.path === '/predict') {
      await block.scrollIntoViewIfNeeded();
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`screenshot: ${SCREENSHOT}`);
    }
    await block.locator('.opblock-summary').first().click(); // collapse: keep the page small
  }
  if (pageErrors.length > 0) fail(`errors in the page: ${pageErrors.join('; ')}`);
  console.log(`${calls.length} documented calls executed from Swagger UI, every one 2xx`);
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
