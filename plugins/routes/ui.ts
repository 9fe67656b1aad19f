import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { projectDir } from '../../src/config.js';
import { LOAN_FIELDS, type LoanField } from '../../src/loan/record.js';
import { expectation, requiredMessage } from '../../src/loan/validate.js';
import { DEFAULT_LGD } from '../../src/pool/index.js';

/**
 * The browser page: GET / (public/index.html), its assets under /ui/ (public/, plain ES modules and
 * CSS, no build step, nothing from elsewhere), the loan form's description at /ui/form.json (built
 * here from LOAN_FIELDS, so the form cannot drift from the API), the sample tape at
 * /ui/sample-tape.csv, the sample backtest tape (the same loans with outcomes) at /ui/backtest-tape.csv,
 * a custom house-price path for every state at /ui/bust-replay-scenario.json (the lifetime view's own path)
 * and the model card of MODEL_DIR (its MODEL_CARD.md, when it has one) at
 * /ui/model-card.md. Every route is public and hidden from the OpenAPI document.
 */

export const PUBLIC_DIR = projectDir('public');
export const SAMPLE_TAPE = join(projectDir('samples'), 'sample-tape.csv');
export const BACKTEST_TAPE = join(projectDir('samples'), 'backtest-tape.csv');
export const SAMPLE_SCENARIO = join(projectDir('samples'), 'bust-replay-scenario.json');

/** Labels a person reads; the API name is shown next to each. */
const LABELS: Readonly<Record<string, string>> = {
  loan_sequence_number: 'Loan ID',
  credit_score: 'Credit score',
  first_payment_date: 'First payment date',
  first_time_homebuyer_flag: 'First-time homebuyer',
  mi_percent: 'Mortgage insurance',
  number_of_units: 'Number of units',
  occupancy_status: 'Occupancy',
  cltv: 'Combined LTV',
  dti: 'Debt-to-income (DTI)',
  original_upb: 'Original balance (UPB)',
  ltv: 'Loan-to-value (LTV)',
  original_interest_rate: 'Interest rate',
  channel: 'Channel',
  amortization_type: 'Amortization',
  property_state: 'Property state',
  property_type: 'Property type',
  loan_purpose: 'Loan purpose',
  original_loan_term: 'Loan term',
  number_of_borrowers: 'Number of borrowers',
};

const label = (name: string) => LABELS[name] ?? name.charAt(0).toUpperCase() + name.slice(1).replaceAll('_', ' ');

/**
 * One form field: what the browser needs to draw the input and to check it with the API's own words.
 * `expects` completes "must be …, got …" and `required_message` is the answer to a missing field,
 * exactly as plugins/errors.ts words them.
 */
function formField(f: LoanField) {
  const common = {
    name: f.name,
    label: label(f.name),
    kind: f.kind,
    description: f.description,
    required: f.required,
    example: f.example,
    expects: expectation(f),
    required_message: requiredMessage(f),
  };
  if (f.kind === 'text') return { ...common, max_length: f.maxLength };
  if (f.kind === 'numeric') {
    return { ...common, integer: f.integer, min: f.min, max: f.max, unit: f.unit, sentinel: f.sentinel ?? null };
  }
  return {
    ...common,
    codes: Object.entries(f.codes).map(([code, meaning]) => ({ code, meaning })),
    sentinel: f.sentinel ?? null,
  };
}

const ui: FastifyPluginAsync = async (app) => {
  // Every route of this plugin (its own and @fastify/static's): public, and not part of the API docs.
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config as object), auth: 'public' } as typeof route.config;
    route.schema = { ...route.schema, hide: true };
  });

  if (!existsSync(join(PUBLIC_DIR, 'index.html'))) {
    app.log.warn({ dir: PUBLIC_DIR }, 'public/index.html not found: the browser page at / is not served');
    return;
  }

  const modelCard = join(app.config.modelDir, 'MODEL_CARD.md');
  const card = existsSync(modelCard) ? readFileSync(modelCard) : undefined;
  const form = {
    fields: LOAN_FIELDS.map(formField),
    model_card: card ? 'ui/model-card.md' : null,
    pool: {
      default_lgd: DEFAULT_LGD,
      max_bytes: app.config.poolMaxBytes,
      max_rows: app.config.poolMaxRows,
      sample_tape: existsSync(SAMPLE_TAPE) ? 'ui/sample-tape.csv' : null,
    },
    backtest: { sample_tape: existsSync(BACKTEST_TAPE) ? 'ui/backtest-tape.csv' : null },
    lifetime: { sample_scenario: existsSync(SAMPLE_SCENARIO) ? 'ui/bust-replay-scenario.json' : null },
  };

  await app.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/ui/',
    decorateReply: false, // @fastify/swagger-ui registers its own instance
    index: false,
    wildcard: true,
    cacheControl: true,
    maxAge: 0, // revalidate (ETag): a new release is seen at once
  });

  // Read once: the page and the tape ship with the release (the assets under /ui/ revalidate by ETag).
  const indexHtml = readFileSync(join(PUBLIC_DIR, 'index.html'));
  app.get('/', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(indexHtml),
  );
  app.get('/ui/form.json', async (_request, reply) => reply.header('cache-control', 'no-cache').send(form));
  for (const [file, url, what, type] of [
    [SAMPLE_TAPE, form.pool.sample_tape, 'sample tape', 'text/csv'],
    [BACKTEST_TAPE, form.backtest.sample_tape, 'sample backtest tape', 'text/csv'],
    [SAMPLE_SCENARIO, form.lifetime.sample_scenario, 'sample house-price path', 'application/json'],
  ] as const) {
    if (!url) {
      app.log.warn({ file }, `the ${what} is missing: the page offers no sample`);
      continue;
    }
    const tape = readFileSync(file);
    const name = url.slice('ui/'.length);
    app.get(`/${url}`, async (_request, reply) =>
      reply
        .type(`${type}; charset=utf-8`)
        .header('cache-control', 'no-cache')
        .header('content-disposition', `inline; filename="${name}"`)
        .send(tape),
    );
  }
  // What the models are, their data (synthetic for the shipped ones) and their limits: linked from the
  // page next to every PD. Read once, like the page: it describes the models loaded at start.
  if (card) {
    app.get('/ui/model-card.md', async (_request, reply) =>
      reply.type('text/plain; charset=utf-8').header('cache-control', 'no-cache').send(card),
    );
  }
};

export default ui;
