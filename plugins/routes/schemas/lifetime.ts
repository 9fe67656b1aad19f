import { type Static, Type } from '@sinclair/typebox';
import {
  DEFAULT_RECOVERY_LAG,
  MAX_PSA_MULTIPLE,
  MAX_RECOVERY_LAG,
  MAX_SDA_MULTIPLE,
  MAX_TERM,
} from '../../../src/loss/index.js';
import { MAX_LIFETIME_SCENARIOS } from '../../../src/pool/lifetime.js';
import { SCENARIO_NAMES } from '../../../src/scenario/index.js';
import { MAX_QUERY_SCENARIO_CHARS } from '../../../src/serving/index.js';
import { modelName, modelVersion, StringEnum } from '../../schemas.js';
import { MAX_LISTED } from './pools.js';
import { stratificationSchema } from './strata.js';

/** The schemas of POST /pools/lifetime (plugins/routes/lifetime.ts): its query and its answer. */

const money = (description: string) => Type.Number({ description: `${description}, USD` });
const rate = (description: string) => Type.Number({ description: `${description} (a fraction)` });

const MonthSchema = Type.Object({
  month: Type.Integer({ description: 'Projection month, 1 = the first payment' }),
  scheduled_balance: money('Balance if nothing defaulted or prepaid, end of month'),
  begin_balance: money('Expected balance of the loans alive at the start of the month'),
  balance: money('Expected balance at the end of the month'),
  interest: money('Interest paid by the survivors'),
  scheduled_principal: money('Scheduled principal paid by the survivors'),
  prepayment: money('Prepaid balance'),
  defaulted_balance: money('Start-of-month balance of the loans defaulting this month'),
  loss: money('Loss realised this month, of the defaults recovery_lag months before'),
  recovery: money('Defaulted balance − loss, realised with the loss'),
  smm: rate('Single monthly mortality: prepaid / (begin balance − defaulted − scheduled principal)'),
  cpr: rate('Conditional prepayment rate, 1 − (1 − SMM)^12'),
  mdr: rate('Monthly default rate: defaulted balance / begin balance'),
  cdr: rate('Conditional default rate, 1 − (1 − MDR)^12'),
  cumulative_default_rate: rate("Σ defaulted balance to this month / the pool's initial balance"),
  cumulative_loss_rate: rate("Σ realised loss to this month / the pool's initial balance"),
});

const ScenarioLossSchema = Type.Object({
  scenario: Type.String({ examples: ['baseline'] }),
  unplaced: Type.Object(
    {
      count: Type.Integer(),
      rows: Type.Array(Type.Integer(), { description: `The first ${MAX_LISTED} (line numbers, or indices in loans)` }),
    },
    {
      description:
        'Loans whose house-price path the scenario could not place (historical: a first payment outside its market): ' +
        'projected on flat house prices',
    },
  ),
  loans: Type.Integer(),
  initial_balance: money("The pool's balance at the start (Σ original UPB)"),
  expected_loss_12m: money('Expected loss of the defaults in months 1–12 (realised recovery_lag months later)'),
  expected_loss_36m: money('Expected loss of the defaults in months 1–36'),
  expected_loss_lifetime: money('Expected loss of the defaults over the whole term'),
  expected_loss_12m_discounted: money('expected_loss_12m discounted at each note rate (CECL)'),
  expected_loss_36m_discounted: money('expected_loss_36m discounted at each note rate'),
  expected_loss_lifetime_discounted: money('expected_loss_lifetime discounted at each note rate'),
  lifetime_pd: rate('Balance-weighted probability of default over the term, prepayment competing'),
  pd_36m: rate('Balance-weighted cumulative default probability at month 36 (the model PD when nothing prepays)'),
  wal_years: Type.Number({ description: 'Balance-weighted average life, years' }),
  vectors: Type.Array(MonthSchema, { description: "The pool's figures month by month, to the longest term + lag" }),
});

const StratificationSchema = stratificationSchema(
  "The pool's stratification as agency MBS disclosures give it (original UPB weights; PD shares from the first scenario's PDs)",
);

export const LifetimeAnswerSchema = Type.Object(
  {
    model: Type.String({ examples: ['xgboost'] }),
    version: Type.String({ examples: ['1.0.0'] }),
    model_reads_scenario: Type.Boolean({
      description: "true: each scenario's PDs are the model's under that scenario; false: the same PDs under every one",
    }),
    format: StringEnum(['csv', 'freddie', 'json']),
    rows: Type.Integer({ description: 'Data rows read, projected or not' }),
    loan_count: Type.Integer({ description: 'Loans projected' }),
    options: Type.Object({
      default_assumption: StringEnum(['model', 'cdr', 'sda'], {
        description:
          "model: a hazard calibrated to each loan's PD, shaped by timing; cdr or sda: the default rate prescribed",
      }),
      timing: Type.Optional(Type.String({ description: 'Default timing curve (default_assumption model only)' })),
      hazard: Type.Optional(
        StringEnum(['timing_only', 'house_prices'], {
          description:
            "How the calibrated hazard follows the scenario's house prices (default_assumption model only): the one " +
            'asked, else house_prices when the model reads the scenario, timing_only when it does not',
        }),
      ),
      cdr: Type.Optional(Type.Array(Type.Number(), { description: 'CDR by projection month (the last holds)' })),
      sda: Type.Optional(Type.Number({ description: 'SDA multiple (1 = 100 % SDA): CDR = multiple × CDR_SDA(age)' })),
      prepayment: StringEnum(['none', 'psa', 'cpr', 'scenario']),
      psa: Type.Optional(Type.Number({ description: 'PSA multiple (1 = 100 % PSA)' })),
      cpr: Type.Optional(Type.Array(Type.Number(), { description: 'CPR by projection month (the last holds)' })),
      recovery_lag: Type.Integer(),
      as_of: Type.Optional(Type.Integer()),
    }),
    scenarios: Type.Array(ScenarioLossSchema, { description: 'One entry per scenario, in the order asked' }),
    stratification: StratificationSchema,
    rejected: Type.Object({
      count: Type.Integer({ description: 'Rows skipped (on_error=skip)' }),
      rows: Type.Array(
        Type.Object({
          row: Type.Integer(),
          loan_sequence_number: Type.Optional(Type.String()),
          problems: Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
        }),
        { description: `The first ${MAX_LISTED}` },
      ),
    }),
  },
  { title: 'PoolLifetime' },
);
export type LifetimeBody = Static<typeof LifetimeAnswerSchema>;

const text = (description: string, maxLength = 64) => Type.Optional(Type.String({ maxLength, description }));

export const LifetimeQuery = Type.Object(
  {
    model: Type.Optional(modelName('The loan model whose PDs drive the projection; default DEFAULT_MODEL')),
    version: Type.Optional(modelVersion("A loaded version of that model; default: the model's default version")),
    scenario: text(
      `Comma-separated scenarios, side by side (${SCENARIO_NAMES.join(', ')}); default baseline. Or URL-encoded JSON: ` +
        'one custom path `{"name"?, "national": [quarterly log changes], "states"?: {...}, "rates"?: [quarterly ' +
        `changes in points]}\` (the rules of /predict's body \`scenario\`), or a list of up to ${MAX_LIFETIME_SCENARIOS} ` +
        'names and custom paths, side by side in that order (each custom path its own `name`). A JSON tape may name ' +
        'them instead, `{"scenario": ..., "loans": [...]}` before its loans; not both differently (400 SCENARIO_CONFLICT). ' +
        "Each scenario's PD " +
        "is the model's PD under it when the model reads scenario features",
      MAX_QUERY_SCENARIO_CHARS,
    ),
    psa: text(`PSA multiple from 0 to ${MAX_PSA_MULTIPLE} (1 = 100 % PSA, 0 = no prepayment); the default is 1`, 32),
    cpr: text(
      `Annual CPR as a fraction in [0, 1], or a comma list of up to ${MAX_TERM} by projection month (the last holds); ` +
        '0 = no prepayment. Not with psa',
      16_384,
    ),
    prepayment: text(
      "scenario: the simulated history's prepayment process (turnover by loan age and equity, refinancing by the " +
        "rate incentive, damped by the mark-to-market CLTV on the scenario's house prices and a FICO below 660; " +
        "market rate: the historical table for historical, the first-payment month's rate held flat for the " +
        'presets); none: no prepayment. Not with psa or cpr',
      16,
    ),
    hazard: text(
      "house_prices: the timing curve × the mark-to-market CLTV multiplier on the scenario's house prices, so the " +
        'default rate follows the path (the default when the model reads the scenario); timing_only: the curve ' +
        'alone (the default otherwise). Either way the 36-month cumulative default is the PD. Not with cdr or sda',
      16,
    ),
    timing: text(
      "Default timing curve of the hazard calibrated to each loan's PD: seasoning (default), sda or flat. Not with cdr or sda",
      16,
    ),
    cdr: text(
      `A prescribed default rate instead of the model's PD: annual CDR in [0, 1], or a comma list of up to ${MAX_TERM} ` +
        'by projection month (the last holds). Not with sda or timing',
      16_384,
    ),
    sda: text(
      `A prescribed default rate instead of the model's PD: SDA multiple from 0 to ${MAX_SDA_MULTIPLE} (1 = 100 % SDA; ` +
        '2 = 200 % SDA = 2 × the SDA CDR by loan age). Not with cdr or timing',
      32,
    ),
    recovery_lag: text(
      `Months from default to the realised loss, 0 to ${MAX_RECOVERY_LAG}; default ${DEFAULT_RECOVERY_LAG}`,
      8,
    ),
    as_of: text('YYYYMM the stratification counts loan age to (none: no WA loan age)', 8),
    loans: Type.Optional(
      Type.Unsafe<string>({
        type: 'string',
        enum: ['csv'],
        description:
          'csv: answer the per-loan figures as CSV instead (one row per loan per scenario: row, loan_sequence_number, ' +
          'scenario, probability_of_default, balance, expected_loss_12m/_36m/_lifetime and discounted, pd_36m, ' +
          'lifetime_pd, wal_years), streamed. A tape refused after the first MiB of the answer aborts the transfer',
      }),
    ),
    on_error: Type.Optional(
      Type.Unsafe<string>({
        type: 'string',
        enum: ['fail', 'skip'],
        description: 'fail (default): one invalid row refuses the tape; skip: project the valid rows',
      }),
    ),
    format: Type.Optional(
      Type.Unsafe<string>({
        type: 'string',
        enum: ['csv', 'freddie', 'json'],
        description: 'Tape format; by default told from the content type and first line, as POST /pools/score',
      }),
    ),
  },
  { additionalProperties: false },
);
