import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  type BacktestAnswer,
  BacktestTape,
  backtestAnswer,
  backtestSettings,
  feed,
  figureOf,
  StreamAbortedError,
  TapeError,
  type TapeFormat,
} from '../../src/pool/index.js';
import type { Model } from '../../src/runtime/index.js';
import { ServingError } from '../../src/serving/errors.js';
import { ValidationInputError } from '../../src/validation/index.js';
import { HttpError, validationFailed } from '../errors.js';
import { ErrorSchema, modelName, modelVersion } from '../schemas.js';
import { addTapeParsers, tapeRefusal } from './pool-http.js';
import { MAX_LISTED } from './schemas/pools.js';

/**
 * POST /pools/backtest (issue 23; docs/API.md, docs/VALIDATION.md): a loan tape with outcomes (a
 * `default_36m` column of 0/1) scored by one model (and a challenger) under a scenario (`historical` by
 * default), answered with the backtest report: discrimination, calibration with traffic lights, groups,
 * champion/challenger, and drift against the artifact's stability baseline. One thread; the tape is read
 * as a stream (src/pool/backtest.ts). The last run's figures become gauges per model version (/metrics).
 */

export interface BacktestRouteOptions {
  maxBytes: number;
  maxRows: number;
}

const text = (description: string, maxLength = 200) => Type.Optional(Type.String({ maxLength, description }));

const BacktestQuery = Type.Object(
  {
    model: Type.Optional(modelName('The loan model to backtest (see GET /models); default DEFAULT_MODEL.')),
    version: Type.Optional(modelVersion("A loaded version of that model; default: the model's default version.")),
    challenger: text(
      'A second model scored on the same loans, `name` or `name@version`: champion/challenger, with the DeLong test of the AUC difference',
    ),
    scenario: text(
      'The scenario the loans are scored under (scenario-conditional models): default historical, the realised market',
    ),
    by: text('Groups: a comma list of vintage, state, fico_band, channel'),
    bands: text('PD band edges, a comma list from 0 to 1 (default 0,0.005,0.01,0.02,0.05,0.1,0.2,0.5,1)', 1000),
    policy: text('The test behind the traffic lights: binomial (default), jeffreys or vasicek'),
    green: text('Green when the test p-value ≥ green (default 0.05)'),
    red: text('Red when the test p-value < red (default 0.01)'),
    overall: text('Overall light: pool (default, the whole pool) or worst (the worst of the pool and every band)'),
    rho: text('Asset correlation of the Vasicek test, strictly between 0 and 1 (default 0.15)'),
    on_error: text('fail (default): an invalid row refuses the tape; skip: leave it out (counted as refused)'),
    format: text('csv or json; by default from the content type'),
  },
  { additionalProperties: false },
);

const BacktestAnswerSchema = Type.Object(
  {
    model: Type.String(),
    version: Type.String(),
    scenario: Type.String(),
    light: Type.String({ description: 'Worst of the calibration light and the score PSI band' }),
    psi: Type.Union([Type.Number(), Type.Null()], { description: 'Score PSI against the stability baseline' }),
  },
  { additionalProperties: true, title: 'Backtest' },
);

const backtest: FastifyPluginAsyncTypebox<BacktestRouteOptions> = async (app, { maxBytes, maxRows }) => {
  addTapeParsers(app, maxBytes);
  const invalid = (field: string, message: string) => validationFailed([{ field, message }]);

  app.post(
    '/pools/backtest',
    {
      config: { auth: 'predict' },
      schema: {
        tags: ['predict'],
        summary: 'Backtest a model on a loan tape with observed outcomes (AUC, KS, calibration lights, PSI)',
        description:
          'The tape formats of /pools/score (CSV with a header, or JSON {"loans": [...]}) with one more column or ' +
          'property, `default_36m`: 1 default within 36 months, 0 none, empty/null not known yet (unlabelled: scored ' +
          'for drift, left out of the backtest). The answer: `auc` (DeLong interval), `gini`, `ks`, `brier`, ' +
          '`calibration` (PD bands and deciles with binomial, Jeffreys and Vasicek tests and traffic lights, ' +
          'Hosmer–Lemeshow, calibration in the large, slope), `by` groups, `challenger`, `psi` and `drift` against ' +
          "the artifact's stability baseline, `light` (the worst of the calibration light and the PSI band) and the " +
          'counts of rows labelled, unlabelled and refused.',
        querystring: BacktestQuery,
        response: { 200: BacktestAnswerSchema, 400: ErrorSchema, 404: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema },
      },
    },
    async (request, reply) => {
      const query = request.query;
      let settings: ReturnType<typeof backtestSettings>;
      try {
        settings = backtestSettings(query);
      } catch (err) {
        if (err instanceof ValidationInputError) throw validationFailed(err.problems);
        throw err;
      }
      const onError = query.on_error ?? 'fail';
      if (onError !== 'fail' && onError !== 'skip') {
        throw invalid('query.on_error', `must be fail or skip, got ${JSON.stringify(onError.slice(0, 40))}`);
      }
      const model = app.serving.tapeModel(query.model ?? app.config.defaultModel, query.version);
      let challenger: Model | undefined;
      if (query.challenger !== undefined) {
        const [name = '', version, ...rest] = query.challenger.split('@');
        try {
          if (rest.length > 0 || name === '')
            throw new ServingError('invalid', 'VALIDATION_FAILED', 'is not name or name@version');
          challenger = app.serving.tapeModel(name, version);
        } catch (err) {
          if (!(err instanceof ServingError)) throw err;
          throw invalid('query.challenger', `${JSON.stringify(query.challenger.slice(0, 80))}: ${err.message}`);
        }
      }
      const body = request.body;
      if (!(body instanceof Readable)) {
        throw new HttpError(
          400,
          'INVALID_TAPE',
          'the body is empty: send a loan tape with outcomes (text/csv or application/json)',
        );
      }
      const json = request.headers['content-type']?.toLowerCase().startsWith('application/json') === true;
      const asked = query.format;
      if (asked !== undefined && asked !== 'csv' && asked !== 'json') {
        throw invalid(
          'query.format',
          `must be csv or json (a Freddie Mac origination file has no outcome column), got ${JSON.stringify(asked.slice(0, 40))}`,
        );
      }
      if (asked !== undefined && (asked === 'json') !== json) {
        throw invalid(
          'query.format',
          `${JSON.stringify(asked)} does not match the content type: send ${asked === 'json' ? 'application/json' : 'text/csv'}`,
        );
      }
      const tape = new BacktestTape({
        model,
        ...(challenger === undefined ? {} : { challenger }),
        scenario: settings.scenario,
        by: settings.by,
        backtest: { bands: settings.bands, policy: settings.policy, rho: settings.rho },
        onError,
        maxRows,
        maxBytes,
        maxListed: MAX_LISTED,
        format: json ? 'json' : 'auto',
        candidates: json ? ['json'] : ['csv', 'freddie'],
      });
      const metrics = app.poolMetrics;
      metrics.tapeStarted();
      let answer: BacktestAnswer;
      try {
        await feed(body, (chunk) => tape.push(chunk));
        answer = backtestAnswer(tape.end(), model, settings.scenarioName, challenger);
      } catch (err) {
        if (!body.readableEnded) reply.header('connection', 'close');
        if (err instanceof StreamAbortedError)
          throw new HttpError(400, 'REQUEST_ABORTED', 'the upload was interrupted');
        if (err instanceof ValidationInputError) throw validationFailed(err.problems);
        if (!(err instanceof TapeError)) throw err;
        metrics.rowsRejected(model.name, tape.rejectedCount);
        throw tapeRefusal(err, tape.format ?? ((json ? 'json' : 'csv') as TapeFormat), { maxBytes, maxRows });
      } finally {
        metrics.tapeEnded();
      }
      app.backtestMetrics.lastRun(model, {
        auc: figureOf(answer.auc),
        ks: figureOf(answer.ks),
        brier: answer.brier,
        light: answer.calibration.light,
        psi: answer.psi ?? Number.NaN,
        loans: answer.loans,
      });
      request.log.info(
        { backtest: { model: model.name, version: model.version, loans: answer.loans, light: answer.light } },
        'tape backtested',
      );
      return answer;
    },
  );
};

export default backtest;
