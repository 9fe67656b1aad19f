import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { feed, StreamAbortedError, TapeError, type TapeFormat } from '../../src/pool/index.js';
import {
  type LifetimeChoice,
  type LifetimeResult,
  LifetimeTape,
  lifetimeAnswer,
  lifetimeChoice,
  scenarioVectorsCsv,
  tapeScenarioList,
} from '../../src/pool/lifetime.js';
import { LoanCsv } from '../../src/pool/lifetime-loans.js';
import type { Scenario } from '../../src/scenario/index.js';
import { ServingError } from '../../src/serving/index.js';
import { HttpError, validationFailed } from '../errors.js';
import { ErrorSchema } from '../schemas.js';
import { HeldCsv } from './held-csv.js';
import {
  addTapeParsers,
  prefersCsv,
  scenarioAndTape,
  tapeBody,
  tapePartFormat,
  tapeRefusal,
  tapeThreads,
} from './pool-http.js';
import { LifetimeAnswerSchema, type LifetimeBody, LifetimeQuery } from './schemas/lifetime.js';
import { MAX_LISTED } from './schemas/pools.js';

/**
 * POST /pools/lifetime (issue 22; docs/LOSS.md, docs/API.md): a loan tape in the formats of POST /pools/score,
 * projected month by month to maturity under one or more scenarios (src/pool/lifetime.ts over src/loss):
 * 12-month, 36-month and lifetime expected loss, lifetime PD, WAL and the pool's monthly vectors per
 * scenario, and the pool's stratification. CSV and Freddie Mac tapes are read, scored and projected on
 * POOL_THREADS worker threads (runs of GROUP_RECORDS records, folded in input order: the answer of one thread,
 * byte for byte); JSON tapes on the event loop, in chunks (docs/PERFORMANCE.md gives the figures).
 */

export interface LifetimeRouteOptions {
  maxBytes: number;
  maxRows: number;
}

/**
 * Characters of per-loan CSV (?loans=csv) held before the answer starts streaming: a tape refused before
 * then answers its 400; after, the transfer is aborted (docs/API.md).
 */
export const LOANS_HOLD_CHARS = 1024 * 1024;

/** Rows scored and projected together (each loan costs about its term in engine steps per scenario). */
const CHUNK_ROWS = 1024;

const lifetime: FastifyPluginAsyncTypebox<LifetimeRouteOptions> = async (app, { maxBytes, maxRows }) => {
  addTapeParsers(app, maxBytes);
  // CSV and Freddie Mac tapes on the POOL_THREADS worker threads of POST /pools/score.
  const size = app.config.poolThreads;
  const threads = tapeThreads(app);

  app.post(
    '/pools/lifetime',
    {
      config: { auth: 'predict' },
      schema: {
        tags: ['predict'],
        summary: 'Lifetime loss of a loan tape: expected loss at 12 and 36 months and over the life, vectors by month',
        description:
          'The tape as POST /pools/score takes it (`text/csv` with a header, Freddie Mac origination layout, or ' +
          '`application/json` `{"loans": [...]}`). Each loan is scored by one model (`?model=`, `?version=`) under each ' +
          "scenario of `?scenario=` (comma-separated, or JSON custom paths, side by side, or a JSON tape's own `scenario`, or a multipart/form-data body's `scenario` part before its `tape` part; a scenario-conditional model answers a PD per " +
          'scenario) and projected month by month to maturity (docs/LOSS.md): a default hazard whose cumulative ' +
          'default at month 36 is the PD when nothing prepays, shaped by `timing` and (`hazard=house_prices`, the ' +
          "default for a model that reads the scenario) by the scenario's house prices through the mark-to-market " +
          "CLTV; prepayment by `psa`, `cpr` or `prepayment=scenario` (the simulated history's turnover, equity and " +
          'rate-incentive process); ' +
          "severity from the scenario's house prices at default and MI; losses realised `recovery_lag` months later " +
          'and discounted at the note rate (CECL). The answer per scenario: expected_loss_12m, expected_loss_36m, ' +
          'expected_loss_lifetime (and discounted), lifetime_pd, pd_36m, wal_years and `vectors` by month; the ' +
          "pool's stratification; the rejected rows. `Accept: text/csv` answers the vectors as CSV (a `scenario` " +
          "column first when there are several); `?loans=csv` answers each loan's figures as CSV, one row per loan per " +
          'scenario, streamed. Invalid rows refuse the tape (400) unless `?on_error=skip`, as ' +
          'POST /pools/score; a scenario-conditional model also refuses loans a scenario cannot place.',
        querystring: LifetimeQuery,
        response: {
          200: LifetimeAnswerSchema,
          400: ErrorSchema,
          404: ErrorSchema,
          413: ErrorSchema,
          415: ErrorSchema,
          500: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const model = app.serving.tapeModel(query.model ?? app.config.defaultModel, query.version);
      const { choice, problems } = lifetimeChoice(query);
      if (choice === undefined) {
        throw validationFailed(problems.map((p) => ({ field: `query.${p.field}`, message: p.message })));
      }
      const { body, json, multipart, asked } = tapeBody(request, query.format);
      // The scenarios of the query, or of a multipart body's scenario part, or of a JSON tape's own
      // "scenario" (read before its loans): tape.scenarios.
      let tape: LifetimeTape | undefined;
      const headers = () => ({
        'x-pool-model': `${model.name}@${model.version}`,
        'x-pool-scenarios': (tape?.scenarios ?? choice.scenarios).map((s) => s.name).join(','),
      });
      // ?loans=csv: one row per loan per scenario, held while small, then streamed (held-csv.ts).
      const held =
        query.loans === 'csv'
          ? new HeldCsv(LOANS_HOLD_CHARS, (out) => {
              reply
                .headers(headers())
                .type('text/csv; charset=utf-8')
                .send(out as unknown as LifetimeBody);
            })
          : undefined;
      // On the workers the per-loan CSV rows come back with each run's figures, written here in tape order.
      const artifact = json || size === 1 ? undefined : await threads().artifact(model);
      if (artifact !== undefined && 'why' in artifact) {
        request.log.info({ model: model.name }, `tape projected on one thread: ${artifact.why}`);
      }
      const fromQuery =
        query.scenario === undefined ? undefined : { text: query.scenario, scenarios: choice.scenarios };
      const lifetimeTape = (options: {
        scenarios: readonly Scenario[];
        bodyScenarios: (spec: unknown) => readonly Scenario[];
        format: TapeFormat | 'auto';
        candidates: TapeFormat[];
      }) =>
        new LifetimeTape({
          model,
          ...(choice satisfies LifetimeChoice),
          onError: query.on_error === 'skip' ? 'skip' : 'fail',
          maxRows,
          maxBytes,
          maxListed: MAX_LISTED,
          chunkRows: CHUNK_ROWS,
          ...options,
          ...(artifact !== undefined && 'bytes' in artifact && options.format !== 'json'
            ? { threads: { pool: threads(), artifact: artifact.bytes } }
            : {}),
          ...(held === undefined
            ? {}
            : {
                loans: new LoanCsv(
                  options.scenarios.map((s) => s.name),
                  held.write,
                ),
              }),
        });
      let input: { push(chunk: Buffer): Promise<void> | undefined; end(): void };
      if (multipart) {
        input = scenarioAndTape(request.headers['content-type'], maxBytes, (spec, type) => {
          const scenarios = spec === undefined ? choice.scenarios : tapeScenarios(spec, fromQuery, 'the scenario part');
          const part = spec === undefined ? undefined : { text: JSON.stringify(spec), scenarios };
          tape = lifetimeTape({
            scenarios,
            bodyScenarios: (own) =>
              part === undefined
                ? tapeScenarios(own, fromQuery)
                : tapeScenarios(own, part, 'the tape', 'the scenario part'),
            ...tapePartFormat(type, asked),
          });
          return tape;
        });
      } else {
        const whole = lifetimeTape({
          scenarios: choice.scenarios,
          bodyScenarios: (own) => tapeScenarios(own, fromQuery),
          format: json ? 'json' : (asked ?? 'auto'),
          candidates: json ? ['json'] : ['csv', 'freddie'],
        });
        tape = whole;
        input = { push: (chunk) => whole.push(chunk), end: () => {} };
      }
      const started = process.hrtime.bigint();
      let result: LifetimeResult;
      try {
        await feed(body, (chunk) => {
          const pushed = input.push(chunk);
          if (held === undefined) return pushed;
          return pushed === undefined ? held.wait() : pushed.then(() => held.wait());
        });
        input.end();
        result = await (tape as LifetimeTape).end();
      } catch (err) {
        if (held?.started) {
          request.log.warn({ err }, 'per-loan CSV aborted after its answer started');
          held.abort(err as Error);
          return reply;
        }
        if (!body.readableEnded) reply.header('connection', 'close');
        if (err instanceof StreamAbortedError)
          throw new HttpError(400, 'REQUEST_ABORTED', 'the upload was interrupted');
        if (!(err instanceof TapeError)) throw err;
        throw tapeRefusal(err, tape?.format ?? (json ? 'json' : 'csv'), { maxBytes, maxRows });
      }
      request.log.info(
        {
          lifetime: {
            model: model.name,
            format: result.format,
            rows: result.rows,
            rejected: result.rejectedCount,
            scenarios: result.scenarios.length,
          },
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'tape projected',
      );
      if (held !== undefined) {
        if (held.started) {
          held.end();
          return reply;
        }
        return reply
          .headers(headers())
          .type('text/csv; charset=utf-8')
          .send(held.text() as unknown as LifetimeBody);
      }
      if (prefersCsv(request.headers.accept)) {
        reply.headers({
          ...headers(),
          'x-pool-format': result.format,
          'x-pool-rows': String(result.rows),
          'x-pool-loan-count': String(result.loanCount),
          'x-pool-rows-rejected': String(result.rejectedCount),
        });
        return reply
          .type('text/csv; charset=utf-8')
          .send(scenarioVectorsCsv(result.scenarios) as unknown as LifetimeBody);
      }
      return lifetimeAnswer(model, choice, result) as unknown as LifetimeBody;
    },
  );
};

/**
 * A tape's own scenarios (a JSON tape's `{"scenario": ..., "loans": [...]}`, or a multipart body's scenario
 * part: a name, a custom path or a list, as the query's JSON): not besides different ones in `other`
 * (400 SCENARIO_CONFLICT, as POST /pools/score), and refused naming the place (`scenario[1].national`)
 * unless valid.
 */
function tapeScenarios(
  spec: unknown,
  other: { readonly text: string; readonly scenarios: readonly Scenario[] } | undefined,
  here = 'the tape',
  there = 'the query',
): readonly Scenario[] {
  const own = tapeScenarioList(spec, other, there, here);
  if ('conflict' in own) throw new ServingError('invalid', 'SCENARIO_CONFLICT', own.conflict);
  if (own.problems.length > 0) throw validationFailed(own.problems);
  return own.scenarios;
}

export default lifetime;
