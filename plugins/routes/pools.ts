import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import {
  answerWithResults,
  DEFAULT_LGD,
  DTI_BANDS,
  FICO_BANDS,
  feed,
  LTV_BANDS,
  locate,
  PD_BANDS,
  type PoolAnswer,
  poolAnswer,
  RESULT_COLUMNS,
  ResultBuffer,
  StreamAbortedError,
  TapeError,
  type TapeFormat,
  TapeScorer,
} from '../../src/pool/index.js';
import { capProblems } from '../../src/problems.js';
import type { Model } from '../../src/runtime/index.js';
import { HttpError, summarise, validationFailed } from '../errors.js';
import { ErrorSchema, modelName, modelVersion } from '../schemas.js';
import { unknownModel, unknownVersion } from './models.js';

/**
 * POST /pools/score: a whole loan tape (CSV, Freddie Mac's origination layout, or JSON) scored by one
 * model and answered as a pool: UPB, average and UPB-weighted PD, expected loss, PD bands and
 * breakdowns by FICO, LTV, DTI, state and vintage; per-loan results on request. The body is read as
 * a stream and scored in chunks (src/pool), so the service never holds a tape, only one chunk.
 *
 * The content-type parsers below live in this plugin's scope only (it is not wrapped in
 * fastify-plugin): here JSON is streamed too, and bodies are bounded by POOL_MAX_BYTES instead of
 * BODY_LIMIT; /predict keeps Fastify's JSON parser.
 */

export interface PoolsOptions {
  maxBytes: number;
  maxRows: number;
}

/** Rows scored together: about 20 ms of XGBoost, so other requests wait at most that long. */
const CHUNK_ROWS = 4096;
/** Invalid rows listed in an answer (all are counted). */
const MAX_LISTED = 100;

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const BandFigures = Type.Object({
  band: Type.String({ examples: ['700-740'] }),
  loans: Type.Integer(),
  original_upb: Type.Number({ description: 'USD' }),
  upb_share: nullable(Type.Number({ description: "Share of the pool's original UPB" })),
  average_pd: nullable(Type.Number({ description: 'Mean PD of the loans (each counts once)' })),
  upb_weighted_pd: nullable(Type.Number({ description: 'Σ PD × UPB / Σ UPB' })),
  expected_loss: Type.Number({ description: 'Σ PD × LGD × original UPB, USD' }),
});
const Breakdown = (description: string) => Type.Array(BandFigures, { description });
const Located = Type.Object({ field: Type.String(), message: Type.String() });

const PoolAnswerSchema = Type.Object(
  {
    model: Type.String({ examples: ['xgboost'] }),
    version: Type.String({ examples: ['1.0.0'] }),
    format: Type.Union([Type.Literal('csv'), Type.Literal('freddie'), Type.Literal('json')]),
    lgd: Type.Number({ description: 'Loss given default used for expected loss' }),
    ead: Type.Literal('original_upb', { description: 'Exposure at default: the original UPB' }),
    rows: Type.Integer({ description: 'Data rows read, scored or not' }),
    loan_count: Type.Integer({ description: 'Loans scored' }),
    total_original_upb: Type.Number(),
    average_pd: nullable(Type.Number({ description: 'Mean PD, each loan counting once' })),
    upb_weighted_pd: nullable(Type.Number()),
    expected_loss: Type.Number({ description: 'Σ PD × LGD × original UPB, USD' }),
    expected_loss_rate: nullable(Type.Number({ description: 'expected_loss / total_original_upb' })),
    pd_bands: Breakdown(`By PD: ${PD_BANDS.bands.map((b) => b.label).join(', ')} (lower bound included)`),
    by_fico: Breakdown(`By credit score: ${FICO_BANDS.bands.map((b) => b.label).join(', ')}, missing`),
    by_ltv: Breakdown(`By LTV %: ${LTV_BANDS.bands.map((b) => b.label).join(', ')}, missing (upper bound included)`),
    by_dti: Breakdown(`By DTI %: ${DTI_BANDS.bands.map((b) => b.label).join(', ')}, missing (upper bound included)`),
    by_state: Breakdown('By property state, alphabetical'),
    by_vintage: Breakdown('By vintage (year of the first payment)'),
    rejected: Type.Object({
      count: Type.Integer({ description: 'Rows skipped (on_error=skip)' }),
      rows: Type.Array(
        Type.Object({
          row: Type.Integer({ description: 'Line number in the file (header = 1), or index in `loans` for JSON' }),
          loan_sequence_number: Type.Optional(Type.String()),
          problems: Type.Array(Located),
        }),
        { description: `The first ${MAX_LISTED}` },
      ),
    }),
    results: Type.Optional(
      Type.Array(
        Type.Object({
          row: Type.Integer(),
          loan_sequence_number: Type.Optional(Type.String()),
          probability_of_default: Type.Number(),
          log_odds: Type.Number(),
          default_predicted: Type.Boolean(),
          expected_loss: Type.Number(),
        }),
        { description: 'Per-loan results in input order (?loans=true)' },
      ),
    ),
  },
  { title: 'Pool' },
);
type PoolBody = Static<typeof PoolAnswerSchema>;

/** Fastify sends a stream as it is (no serialization); the type provider only knows the schema's type. */
const streamed = (stream: Readable) => stream as unknown as PoolBody;

const enumeration = (values: readonly string[], description: string) =>
  Type.Unsafe<string>({ type: 'string', enum: values, description });

// No examples on these optional parameters: Swagger UI's "Try it out" would send them. The tape
// itself is parsed outside schema validation; its OpenAPI request body is in plugins/examples.ts.
const Query = Type.Object(
  {
    model: Type.Optional(
      modelName(
        'The loan model that scores the whole tape (see GET /models); default DEFAULT_MODEL. One model per tape: ' +
          '"all" is refused, send the tape once per model.',
      ),
    ),
    version: Type.Optional(
      modelVersion(
        "A loaded version of that model (see GET /models/{name}/versions); default: the model's default version. " +
          'Every loan of the tape is scored by that one version: no A/B split, no shadow.',
      ),
    ),
    lgd: Type.Optional(
      Type.String({
        maxLength: 32,
        description: `Loss given default, a number in (0, 1], for expected loss = Σ PD × LGD × original UPB; default ${DEFAULT_LGD}`,
      }),
    ),
    on_error: Type.Optional(
      enumeration(
        ['fail', 'skip'],
        `fail (default): one invalid row refuses the whole tape (400, the first ${MAX_LISTED} named); skip: score the valid rows and list the rejected ones`,
      ),
    ),
    format: Type.Optional(
      enumeration(
        ['csv', 'freddie', 'json'],
        'Tape format; by default JSON for application/json, and for text/csv a CSV with a header unless the first line has 26+ pipe-separated fields (Freddie Mac)',
      ),
    ),
    loans: Type.Optional(
      enumeration(
        ['true', 'false'],
        'true: add the per-loan results (row, PD, log-odds, expected loss) to the JSON answer; with Accept: text/csv they come as CSV anyway',
      ),
    ),
  },
  { additionalProperties: false },
);

/** Whether the client asked for CSV: text/csv listed (not with q=0) before any JSON type. */
export function prefersCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (params.some((p) => /^q=0(\.0*)?$/.test(p))) continue;
    if (type === 'text/csv') return true;
    if (type === 'application/json' || type === 'application/*' || type === '*/*') return false;
  }
  return false;
}

const pools: FastifyPluginAsyncTypebox<PoolsOptions> = async (app, { maxBytes, maxRows }) => {
  const metrics = app.poolMetrics;

  const tooManyBytes = () =>
    new HttpError(
      413,
      'FST_ERR_CTP_BODY_TOO_LARGE',
      `the tape is larger than the limit of ${maxBytes} bytes (POOL_MAX_BYTES)`,
    );

  // Hand the body over as a stream; refuse at once what the headers already tell is too big or unreadable.
  const streamBody = (
    request: { headers: IncomingMessage['headers'] },
    payload: IncomingMessage,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      done(
        new HttpError(
          415,
          'FST_ERR_CTP_INVALID_MEDIA_TYPE',
          `content encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported; send the tape uncompressed`,
        ),
      );
      return;
    }
    if (Number(request.headers['content-length']) > maxBytes) {
      done(tooManyBytes());
      return;
    }
    done(null, payload);
  };
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', streamBody);
  app.addContentTypeParser('text/csv', streamBody);
  app.addContentTypeParser('*', (request, _payload, done) => {
    const type = String(request.headers['content-type'] ?? 'none').slice(0, 100);
    done(
      new HttpError(
        415,
        'FST_ERR_CTP_INVALID_MEDIA_TYPE',
        `content type ${JSON.stringify(type)} is not supported here; send text/csv (a CSV or Freddie Mac tape) or application/json ({"loans": [...]})`,
      ),
    );
  });

  const invalid = (field: string, message: string) => {
    return validationFailed([{ field, message }]);
  };

  const refusal = (err: TapeError, format: TapeFormat): HttpError => {
    switch (err.kind) {
      case 'invalid_rows': {
        const details = err.rejected.flatMap((r) =>
          r.problems.map((p) => ({ field: locate(format, r.row, p.field), message: p.message })),
        );
        const { items, omitted } = capProblems(details);
        const n = err.rejectedCount;
        return validationFailed(
          items,
          omitted,
          `${n} invalid row${n === 1 ? '' : 's'} (${err.message}; the first ${err.rejected.length} in details); ` +
            `nothing was scored: fix them, or send ?on_error=skip to score the valid rows. ${summarise(items, omitted)}`,
        );
      }
      case 'layout':
        return validationFailed(err.details, err.omitted);
      case 'too_many_rows':
        return new HttpError(413, 'TAPE_TOO_LARGE', `a tape holds at most ${maxRows} rows (POOL_MAX_ROWS)`);
      case 'too_many_bytes':
        return tooManyBytes();
      case 'unreadable':
        return new HttpError(400, 'INVALID_TAPE', err.message);
    }
  };

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
          'One model (`?model=`, default DEFAULT_MODEL; not "all"), its default version or `?version=`. The answer: loan count, UPB, count- and ' +
          'UPB-weighted PD, expected loss Σ PD × LGD × original UPB, PD bands, breakdowns by FICO, LTV, DTI, state ' +
          `and vintage. \`?loans=true\` adds per-loan results; \`Accept: text/csv\` answers them as CSV ` +
          `(${RESULT_COLUMNS.join(', ')}) with the pool figures in X-Pool-* headers (an identifier starting with =, +, -, @, ` +
          "a tab or a carriage return gets a leading ' there, against spreadsheet formula injection). Rows are line numbers " +
          '(CSV header = line 1) or, for JSON, indices in `loans`. Invalid rows refuse the tape (400, the first ' +
          `${MAX_LISTED} named) unless \`?on_error=skip\`.`,
        querystring: Query,
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
      const name = query.model ?? app.config.defaultModel;
      if (name === 'all') {
        throw invalid(
          'query.model',
          'must name one model: a tape is scored by one model at a time ("all" is for /predict); score it once per model',
        );
      }
      // The whole tape is scored by one version: the requested one, else the default (A/B splits are for /predict).
      const set = app.models.current;
      const loanModels = set.loanModels().map((m) => m.name);
      if (!set.get(name) || !loanModels.includes(name)) throw unknownModel(name, loanModels);
      const model: Model | undefined = set.get(name, query.version);
      if (model === undefined) throw unknownVersion(name, query.version as string, set);
      let lgd = DEFAULT_LGD;
      if (query.lgd !== undefined) {
        lgd = /^\s*[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(query.lgd) ? Number(query.lgd) : Number.NaN;
        if (!(lgd > 0 && lgd <= 1)) {
          throw invalid(
            'query.lgd',
            `must be a number in (0, 1], the loss given default as a share of the original balance, got ${JSON.stringify(query.lgd)}`,
          );
        }
      }
      const body = request.body;
      if (!(body instanceof Readable)) {
        throw new HttpError(400, 'INVALID_TAPE', 'the body is empty: send a loan tape (text/csv or application/json)');
      }
      const json = request.headers['content-type']?.toLowerCase().startsWith('application/json') === true;
      const asked = query.format as TapeFormat | undefined;
      if (asked !== undefined && (asked === 'json') !== json) {
        throw invalid(
          'query.format',
          `${JSON.stringify(asked)} does not match the content type: send ${asked === 'json' ? 'application/json' : 'text/csv'}`,
        );
      }
      const csvAnswer = prefersCsv(request.headers.accept);
      const results = csvAnswer || query.loans === 'true' ? new ResultBuffer(model.decisionThreshold) : undefined;
      const tape = new TapeScorer({
        model,
        lgd,
        onError: query.on_error === 'skip' ? 'skip' : 'fail',
        maxRows,
        maxBytes,
        maxListed: MAX_LISTED,
        chunkRows: CHUNK_ROWS,
        format: json ? 'json' : (asked ?? 'auto'),
        candidates: json ? ['json'] : ['csv', 'freddie'],
        ...(results === undefined ? {} : { onScored: (batch) => results.add(batch) }),
      });

      const started = process.hrtime.bigint();
      metrics.tapeStarted();
      let answer: PoolAnswer;
      try {
        await feed(body, (chunk) => tape.push(chunk));
        answer = poolAnswer(model, lgd, tape.end());
      } catch (err) {
        // Answered before the upload ended: close the connection rather than read the rest of it.
        if (!body.readableEnded) reply.header('connection', 'close');
        if (err instanceof StreamAbortedError) {
          request.log.info({ bytes: tape.bytes, rows: tape.rows }, 'the client went away during the upload');
          throw new HttpError(400, 'REQUEST_ABORTED', 'the upload was interrupted');
        }
        if (!(err instanceof TapeError)) throw err;
        metrics.rowsRejected(model.name, tape.rejectedCount);
        throw refusal(err, tape.format ?? (json ? 'json' : 'csv'));
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
        reply.headers({
          'x-pool-model': `${answer.model}@${answer.version}`,
          'x-pool-format': answer.format,
          'x-pool-lgd': String(answer.lgd),
          'x-pool-rows': String(answer.rows),
          'x-pool-loan-count': String(answer.loan_count),
          'x-pool-rows-rejected': String(answer.rejected.count),
          'x-pool-total-original-upb': String(answer.total_original_upb),
          'x-pool-average-pd': String(answer.average_pd),
          'x-pool-upb-weighted-pd': String(answer.upb_weighted_pd),
          'x-pool-expected-loss': String(answer.expected_loss),
        });
        return reply.type('text/csv; charset=utf-8').send(streamed(Readable.from(results.csv())));
      }
      if (results !== undefined) {
        return reply
          .type('application/json; charset=utf-8')
          .send(streamed(Readable.from(answerWithResults(answer, results))));
      }
      return answer as PoolBody;
    },
  );
};

export default pools;
