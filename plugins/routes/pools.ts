import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  answerWithResults,
  DEFAULT_LGD,
  feed,
  type PoolAnswer,
  poolAnswer,
  RESULT_COLUMNS,
  ResultBuffer,
  StreamAbortedError,
  TapeError,
  type TapeFormat,
  TapeRun,
} from '../../src/pool/index.js';
import { warmTapeThreads } from '../../src/pool/warm-tape.js';
import type { Scenario } from '../../src/scenario/index.js';
import { queryScenario, requestScenario } from '../../src/serving/index.js';
import { HttpError, validationFailed } from '../errors.js';
import { ErrorSchema } from '../schemas.js';
import {
  addTapeParsers,
  parseLgd,
  poolHeaders,
  prefersCsv,
  SCENARIO_PART,
  scenarioAndTape,
  TAPE_AND_PART,
  tapeBody,
  tapePartFormat,
  tapeRefusal,
  tapeThreads,
} from './pool-http.js';
import { MAX_LISTED, PoolAnswerSchema, type PoolBody, PoolQuery, streamed } from './schemas/pools.js';

/**
 * POST /pools/score: a whole loan tape (CSV, Freddie Mac's origination layout, or JSON) scored by one
 * model and answered as a pool: UPB, average and UPB-weighted PD, expected loss, PD bands and
 * breakdowns by FICO, LTV, DTI, state and vintage; per-loan results on request. The body is read as
 * a stream and scored in chunks (src/pool), so the service never holds a tape, only one chunk.
 *
 * The content-type parsers (pool-http.ts) live in this plugin's scope only (it is not wrapped in
 * fastify-plugin): here JSON is streamed too, and bodies are bounded by POOL_MAX_BYTES instead of
 * BODY_LIMIT; /predict keeps Fastify's JSON parser.
 */

export interface PoolsOptions {
  maxBytes: number;
  maxRows: number;
}

/** Rows scored together: about 20 ms of XGBoost, so other requests wait at most that long. */
const CHUNK_ROWS = 4096;

export { prefersCsv };

const pools: FastifyPluginAsyncTypebox<PoolsOptions> = async (app, { maxBytes, maxRows }) => {
  const metrics = app.poolMetrics;
  // CSV and Freddie Mac tapes on POOL_THREADS worker threads, shared by every tape (and POST /pools/lifetime).
  const size = app.config.poolThreads;
  const threads = tapeThreads(app);
  // No cold start (issue 20, item 4): the threads start and make their tape code hot before the server listens.
  if (size > 1 && app.config.modelWarmupMs > 0) {
    app.addHook('onReady', async () => {
      let model: ReturnType<typeof app.serving.tapeModel>;
      try {
        model = app.serving.tapeModel(app.config.defaultModel, undefined);
      } catch (err) {
        app.log.warn(`tape threads not warmed: ${(err as Error).message}`);
        return;
      }
      const artifact = await threads().artifact(model);
      if ('why' in artifact) {
        app.log.warn(`tape threads not warmed: ${artifact.why}`);
        return;
      }
      const report = await warmTapeThreads({
        pool: threads(),
        artifact: artifact.bytes,
        model,
        scenario: requestScenario(undefined, undefined),
        chunkRows: CHUNK_ROWS,
        budgetMs: app.config.modelWarmupMs,
      });
      app.log.info({ tape_warmup: { model: model.name, version: model.version, ...report } }, 'tape threads warmed');
    });
  }

  addTapeParsers(app, maxBytes);
  const invalid = (field: string, message: string) => validationFailed([{ field, message }]);

  app.post(
    '/pools/score',
    {
      config: { auth: 'predict' },
      schema: {
        tags: ['predict'],
        summary: 'Score a loan tape (CSV, Freddie Mac or JSON) and answer the pool figures',
        description:
          "Send the tape as `text/csv` (a header row naming loan-record fields, or Freddie Mac's pipe-delimited " +
          'origination layout without header) or `application/json` (`{"loans": [...]}`, the loan records of /predict). ' +
          'One model (`?model=`, default DEFAULT_MODEL; not "all"), its default version or `?version=`. A model that reads ' +
          'house-price scenario features scores every loan under one scenario (`?scenario=`, or `"scenario"` before `"loans"` in a ' +
          'JSON tape, or a `multipart/form-data` body: a `scenario` part, then the `tape` part, for a path longer than a query ' +
          'holds beside a CSV tape; default baseline), named in the answer (`scenario`, or the X-Pool-Scenario header). The answer: loan count, UPB, count- and ' +
          'UPB-weighted PD, expected loss Σ PD × LGD × original UPB, PD bands, breakdowns by FICO, LTV, DTI, state ' +
          `and vintage. \`?loans=true\` adds per-loan results, \`?reasons=true\` each loan's reason codes too; \`Accept: text/csv\` answers them as CSV ` +
          `(${RESULT_COLUMNS.join(', ')}) with the pool figures in X-Pool-* headers (an identifier starting with =, +, -, @, ` +
          "a tab or a carriage return gets a leading ' there, against spreadsheet formula injection). Rows are line numbers " +
          '(CSV header = line 1) or, for JSON, indices in `loans`. Invalid rows refuse the tape (400, the first ' +
          `${MAX_LISTED} named) unless \`?on_error=skip\`. CSV and Freddie Mac tapes are scored on POOL_THREADS worker threads, ` +
          'with the same answer as one thread.',
        querystring: PoolQuery,
        response: {
          200: PoolAnswerSchema,
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
      // One loan model, one version (the requested one, else the default): the serving policy's rule.
      const model = app.serving.tapeModel(query.model ?? app.config.defaultModel, query.version);
      const lgd = query.lgd === undefined ? DEFAULT_LGD : parseLgd(query.lgd);
      // Checked before the tape is read; a JSON tape may name its own (bodyScenario), not a different one.
      const fromQuery = queryScenario(query.scenario);
      const scenario = requestScenario(undefined, fromQuery);
      const { body, json, multipart, asked } = tapeBody(request, query.format);
      const reasons = query.reasons === 'true';
      if (reasons && !model.explainable) {
        throw invalid('query.reasons', `model ${model.name} cannot explain its scores: ${model.explainUnavailable}`);
      }
      const csvAnswer = prefersCsv(request.headers.accept);
      const results =
        csvAnswer || reasons || query.loans === 'true' ? new ResultBuffer(model.decisionThreshold, reasons) : undefined;
      const artifact = json || size === 1 ? undefined : await threads().artifact(model);
      if (artifact !== undefined && 'why' in artifact) {
        request.log.info({ model: model.name }, `tape scored on one thread: ${artifact.why}`);
      }
      const tapeRun = (options: {
        scenario: Scenario;
        bodyScenario: (spec: unknown) => Scenario;
        format: TapeFormat | 'auto';
        candidates: TapeFormat[];
      }) =>
        new TapeRun({
          model,
          lgd,
          onError: query.on_error === 'skip' ? 'skip' : 'fail',
          maxRows,
          maxBytes,
          maxListed: MAX_LISTED,
          chunkRows: CHUNK_ROWS,
          reasons,
          ...options,
          ...(results === undefined ? {} : { results }),
          ...(artifact !== undefined && 'bytes' in artifact && options.format !== 'json'
            ? { threads: { pool: threads(), artifact: artifact.bytes } }
            : {}),
        });
      // The query's scenario, or a JSON tape's own (before its loans), or a multipart body's scenario part.
      let tape: TapeRun | undefined;
      let input: { push(chunk: Buffer): Promise<void> | undefined; end(): void };
      if (multipart) {
        input = scenarioAndTape(request.headers['content-type'], maxBytes, (spec, type) => {
          const part = spec === undefined ? scenario : requestScenario(spec, fromQuery, SCENARIO_PART);
          tape = tapeRun({
            scenario: part,
            bodyScenario: (own) =>
              spec === undefined ? requestScenario(own, fromQuery) : requestScenario(own, spec, TAPE_AND_PART),
            ...tapePartFormat(type, asked),
          });
          return tape;
        });
      } else {
        const whole = tapeRun({
          scenario,
          bodyScenario: (spec) => requestScenario(spec, fromQuery),
          format: json ? 'json' : (asked ?? 'auto'),
          candidates: json ? ['json'] : ['csv', 'freddie'],
        });
        tape = whole;
        input = { push: (chunk) => whole.push(chunk), end: () => {} };
      }

      const started = process.hrtime.bigint();
      metrics.tapeStarted();
      let answer: PoolAnswer;
      try {
        await feed(body, (chunk) => input.push(chunk));
        input.end();
        answer = poolAnswer(model, lgd, await (tape as TapeRun).end());
      } catch (err) {
        // Answered before the upload ended: close the connection rather than read the rest of it.
        if (!body.readableEnded) reply.header('connection', 'close');
        if (err instanceof StreamAbortedError) {
          request.log.info(
            { bytes: tape?.bytes ?? 0, rows: tape?.rows ?? 0 },
            'the client went away during the upload',
          );
          throw new HttpError(400, 'REQUEST_ABORTED', 'the upload was interrupted');
        }
        if (!(err instanceof TapeError)) throw err;
        metrics.rowsRejected(model.name, tape?.rejectedCount ?? 0);
        throw tapeRefusal(err, tape?.format ?? (json ? 'json' : 'csv'), { maxBytes, maxRows });
      } finally {
        metrics.tapeEnded();
      }

      metrics.tapeScored(model.name, answer.format, answer.loan_count, answer.rejected.count);
      request.log.info(
        {
          tape: { model: model.name, format: answer.format, rows: answer.rows, rejected: answer.rejected.count },
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'tape scored',
      );

      if (csvAnswer && results !== undefined) {
        reply.headers(poolHeaders(answer));
        return reply.type('text/csv; charset=utf-8').send(streamed(Readable.from(results.csv())));
      }
      if (results !== undefined) {
        return reply
          .type('application/json; charset=utf-8')
          .send(streamed(Readable.from(answerWithResults(answer, results))));
      }
      return answer as unknown as PoolBody;
    },
  );
};

export default pools;
