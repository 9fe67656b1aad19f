import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  type BacktestAnswer,
  BacktestTape,
  type BacktestTapeOptions,
  backtestAnswer,
  backtestBandCounts,
  backtestSettings,
  feed,
  figureOf,
  PerformanceOutcomes,
  StreamAbortedError,
  TapeError,
  type TapeFormat,
  tapeOptionsOf,
} from '../../src/pool/index.js';
import { MultipartReader, multipartBoundary, type PartSink } from '../../src/pool/multipart.js';
import type { Model } from '../../src/runtime/index.js';
import { ServingError } from '../../src/serving/errors.js';
import { ValidationInputError } from '../../src/validation/index.js';
import { HttpError, validationFailed } from '../errors.js';
import { ErrorSchema, modelName, modelVersion, NullableNumber } from '../schemas.js';
import { addTapeParsers, partRefusal, tapeThreads as sharedTapeThreads, tapeRefusal } from './pool-http.js';
import { MAX_LISTED } from './schemas/pools.js';

/**
 * POST /pools/backtest (issue 23; docs/API.md, docs/VALIDATION.md): a loan tape with outcomes (a
 * `default_36m` column of 0/1) scored by one model (and a challenger) under a scenario (`historical` by
 * default), answered with the backtest report: discrimination, calibration with traffic lights, groups,
 * champion/challenger, and drift against the artifact's stability baseline. The tape is read as a stream
 * (src/pool/backtest.ts); a CSV tape on the POOL_THREADS worker threads of /pools/score (runs folded in input
 * order: the answer of one thread), JSON tapes and multipart bodies (performance files) on this thread. The last run's figures become gauges per model version (/metrics).
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
    alpha: text('Level of the intervals (DeLong, Jeffreys, calibration) and the PSI critical values (default 0.05)'),
    psi_bands: text(
      'PSI bands moderate,significant (default 0.1,0.25): stable below the first, significant from the second',
    ),
    epsilon: text('Share given to a drift bin empty on one side (default 0.0001)'),
    drift_by: text('The score PSI per group too: first_payment_month (month of origination) or vintage'),
    on_error: text('fail (default): an invalid row refuses the tape; skip: leave it out (counted as refused)'),
    format: text(
      'csv or json (freddie too in a multipart body with performance files); by default from the content type (of the tape part)',
    ),
  },
  { additionalProperties: false },
);

const BacktestAnswerSchema = Type.Object(
  {
    model: Type.String(),
    version: Type.String(),
    scenario: Type.String(),
    light: Type.String({ description: 'Worst of the calibration light and the score PSI band' }),
    psi: NullableNumber({ description: 'Score PSI against the stability baseline' }),
  },
  { additionalProperties: true, title: 'Backtest' },
);

const backtest: FastifyPluginAsyncTypebox<BacktestRouteOptions> = async (app, { maxBytes, maxRows }) => {
  // JSON, CSV and multipart bodies (the tape and Freddie Mac performance files): every byte counts
  // against POOL_MAX_BYTES.
  addTapeParsers(app, maxBytes);
  const size = app.config.poolThreads;
  const tapeThreads = sharedTapeThreads(app);
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
          'counts of rows labelled, unlabelled and refused. Outcomes from Freddie Mac monthly performance files instead: a ' +
          'multipart/form-data body with `performance` parts (first) and a `tape` part (the origination file); the training ' +
          'label rule and censoring, with counts of censored and removed loans (docs/API.md).',
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
      const contentType = request.headers['content-type'];
      const multipart = /^\s*multipart\/form-data/i.test(contentType ?? '');
      const json = contentType?.toLowerCase().startsWith('application/json') === true;
      const asked = query.format;
      if (asked !== undefined && asked !== 'csv' && asked !== 'json' && !(multipart && asked === 'freddie')) {
        throw invalid(
          'query.format',
          `must be csv or json (a Freddie Mac origination file has no outcome column: send it with its performance files in a multipart body), got ${JSON.stringify(asked.slice(0, 40))}`,
        );
      }
      if (!multipart && asked !== undefined && (asked === 'json') !== json) {
        throw invalid(
          'query.format',
          `${JSON.stringify(asked)} does not match the content type: send ${asked === 'json' ? 'application/json' : 'text/csv'}`,
        );
      }
      /** The tape, its format from `?format=`, else the content type (of the body, or of the tape part). */
      const newTape = (
        type: string | undefined,
        performance?: PerformanceOutcomes,
        threads?: BacktestTapeOptions['threads'],
      ) => {
        const isJson = type?.startsWith('application/json') === true;
        const isCsv = type?.startsWith('text/csv') === true;
        return new BacktestTape({
          ...tapeOptionsOf(settings, model, challenger),
          onError,
          maxRows,
          maxBytes,
          maxListed: MAX_LISTED,
          format: (asked as TapeFormat | undefined) ?? (isJson ? 'json' : 'auto'),
          candidates: isJson ? ['json'] : isCsv || !multipart ? ['csv', 'freddie'] : ['csv', 'freddie', 'json'],
          ...(performance === undefined ? {} : { performance }),
          ...(threads === undefined ? {} : { threads }),
        });
      };
      let tape: BacktestTape | undefined;
      let sink: (chunk: Buffer) => void;
      let finish: () => void = () => {};
      if (multipart) {
        const boundary = multipartBoundary(contentType);
        if (boundary === undefined) {
          throw invalid('headers.content-type', 'multipart/form-data needs a boundary parameter (1 to 70 characters)');
        }
        const performance = new PerformanceOutcomes({ maxLoans: maxRows });
        let files = 0;
        let received = 0;
        const reader = new MultipartReader(boundary, (part): PartSink => {
          if (part.name === 'performance') {
            if (tape !== undefined) {
              throw partRefusal(
                'body.performance',
                'must come before the tape part: the outcomes are read first, then each loan of the tape takes its own',
              );
            }
            performance.startFile(`body.performance[${files++}]`);
            return { push: (c) => performance.push(c), end: () => performance.endFile() };
          }
          if (part.name === 'tape') {
            if (tape !== undefined) throw partRefusal('body.tape', 'is given twice: send one tape');
            tape = newTape(part.contentType, files > 0 ? performance : undefined);
            const t = tape;
            return { push: (c) => t.push(c), end: () => {} };
          }
          throw partRefusal(
            `body.${part.name.slice(0, 40)}`,
            'is not a part of a backtest: send `performance` (Freddie Mac monthly performance files, any number, first) and `tape` (the loans)',
          );
        });
        sink = (chunk) => {
          received += chunk.length;
          if (received > maxBytes) {
            throw new TapeError('too_many_bytes', `the body is larger than ${maxBytes} bytes`);
          }
          reader.push(chunk);
        };
        finish = () => {
          reader.end();
          if (tape === undefined) {
            throw partRefusal(
              'body.tape',
              'is required: a part named tape with the loans (after any performance parts)',
            );
          }
        };
      } else {
        // A CSV tape on the POOL_THREADS worker threads of POST /pools/score (the model's and the challenger's artifacts).
        let threads: BacktestTapeOptions['threads'];
        if (!json && size > 1) {
          const pool = tapeThreads();
          const artifact = await pool.artifact(model);
          const second = challenger === undefined ? undefined : await pool.artifact(challenger);
          const why =
            'why' in artifact ? artifact.why : second !== undefined && 'why' in second ? second.why : undefined;
          if (why !== undefined) request.log.info({ model: model.name }, `tape backtested on one thread: ${why}`);
          else if ('bytes' in artifact) {
            threads = {
              pool,
              artifact: artifact.bytes,
              ...(second !== undefined && 'bytes' in second ? { challenger: second.bytes } : {}),
            };
          }
        }
        tape = newTape(json ? 'application/json' : 'text/csv', undefined, threads);
        const t = tape;
        sink = (chunk) => t.push(chunk);
      }
      const metrics = app.poolMetrics;
      metrics.tapeStarted();
      let answer: BacktestAnswer;
      try {
        await feed(body, sink);
        finish();
        answer = backtestAnswer(await (tape as BacktestTape).end(), model, settings.scenarioName, challenger);
      } catch (err) {
        if (!body.readableEnded) reply.header('connection', 'close');
        if (err instanceof StreamAbortedError)
          throw new HttpError(400, 'REQUEST_ABORTED', 'the upload was interrupted');
        if (err instanceof ValidationInputError) throw validationFailed(err.problems);
        if (!(err instanceof TapeError)) throw err;
        metrics.rowsRejected(model.name, tape?.rejectedCount ?? 0);
        throw tapeRefusal(err, tape?.format ?? ((json ? 'json' : 'csv') as TapeFormat), { maxBytes, maxRows });
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
        ...backtestBandCounts(answer),
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
