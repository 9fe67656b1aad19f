import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { describeScenarios, HORIZON, SCENARIO_FILE } from '../../src/scenario/index.js';
import { DEFAULT_SCENARIO } from '../../src/serving/index.js';
import { StringEnum } from '../schemas.js';

const Scenario = Type.Object({
  name: Type.String({ examples: ['severely_adverse'] }),
  kind: StringEnum(['preset', 'historical']),
  description: Type.String(),
  national: Type.Optional(
    Type.Array(Type.Number(), {
      description: 'Quarterly natural-log changes of the national index, from the first-payment quarter.',
    }),
  ),
  sensitivity: Type.Optional(
    Type.String({ description: 'The phase of the historical market whose state multipliers the preset uses.' }),
  ),
  state_multipliers: Type.Optional(
    Type.Record(Type.String(), Type.Number(), {
      description: "Each state's path is the national one times its multiplier (a loan without a state: 1).",
    }),
  ),
  rates: Type.Optional(
    Type.Array(Type.Number(), {
      description:
        "Presets with a market-rate path: quarterly changes of the market mortgage rate, in percentage points, from the loan's " +
        'first-payment month (the Federal Reserve 2025 supervisory Mortgage rate; `rates_source`), held flat after the last; ' +
        'read by the lifetime engine’s prepayment=scenario only, never by a model. A preset without one holds the rate flat.',
    }),
  ),
  first_payment_from: Type.Optional(
    Type.String({ description: 'historical: the first first-payment month it places.' }),
  ),
  first_payment_to: Type.Optional(
    Type.String({ description: 'historical: the last one (its 36 months end in the market).' }),
  ),
});

const Answer = Type.Object({
  default: Type.String({ description: 'The scenario of a request that names none.', examples: [DEFAULT_SCENARIO] }),
  horizon_quarters: Type.Integer({ description: 'The quarters of a path the models read (the 36-month label).' }),
  synthetic: Type.String({ description: 'What the house-price index is.' }),
  rates_source: Type.String({ description: 'Where the presets’ market-rate paths come from.' }),
  scenarios: Type.Array(Scenario),
  custom: Type.Object(
    {
      shape: Type.String(),
      min_quarters: Type.Integer(),
      max_quarters: Type.Integer(),
      max_abs_quarterly_log_change: Type.Number(),
      max_rate_quarters: Type.Integer(),
      max_abs_quarterly_rate_change: Type.Number(),
      max_states: Type.Integer(),
    },
    { description: 'The rules of a custom path sent as `scenario` in a body.' },
  ),
});

/** GET /scenarios: the house-price scenarios a request may name, and the rules of a custom path. */
const scenarios: FastifyPluginAsyncTypebox = async (app) => {
  const limits = SCENARIO_FILE.limits;
  const answer = {
    default: DEFAULT_SCENARIO,
    horizon_quarters: HORIZON,
    synthetic:
      "A SYNTHETIC house-price index (src/contract/scenarios.json), the one the models' training history was simulated from: not a published index.",
    rates_source: SCENARIO_FILE.rates_source,
    scenarios: describeScenarios(),
    custom: {
      shape:
        '{"name"?: string of 1-64 characters, "national": [quarterly natural-log changes], "states"?: {"CA": [...], ...}, ' +
        '"rates"?: [quarterly changes of the market rate in percentage points, from the first-payment month]}; the first ' +
        `${HORIZON} quarters of house prices are read; states without a path follow the national one; the rates are read ` +
        'by the lifetime engine’s prepayment=scenario only',
      min_quarters: limits.min_quarters,
      max_quarters: limits.max_quarters,
      max_abs_quarterly_log_change: limits.max_abs_quarterly_log_change,
      max_rate_quarters: limits.max_rate_quarters,
      max_abs_quarterly_rate_change: limits.max_abs_quarterly_rate_change,
      max_states: limits.max_states,
    },
  };
  app.get(
    '/scenarios',
    {
      config: { auth: 'predict' },
      schema: {
        tags: ['scenarios'],
        summary: 'The house-price scenarios loans are scored under, and the rules of a custom path',
        description:
          'The scenario-conditional models read the house-price path over the 36 months after the first payment. ' +
          'Name a scenario with `scenario` in the body or query of /predict, /pools/score and the V2 routes, or send a custom path.',
        response: { 200: Answer },
      },
    },
    async () => answer,
  );
};

export default scenarios;
