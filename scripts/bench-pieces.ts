/**
 * The pieces of a single-loan `POST /predict` one at a time, in a tight loop (steady on a shared
 * machine, unlike anything over HTTP; a tight loop keeps caches and branch predictors warm, so these
 * are lower bounds of each piece's cost inside the server). Complements scripts/bench-ablation.ts.
 *   npm run build && node dist/scripts/bench-pieces.js [--n 100000]
 * Each piece runs over the example loan (its body, parsed object, encoded row, answer) n times, in 3
 * rounds; the table gives the fastest round's ns a call.
 */
import { openSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import fastJson from 'fast-json-stringify';
import pino from 'pino';
import secureJson from 'secure-json-parse';
import { predictBody, predictSerializer, SingleResult } from '../plugins/routes/schemas/predict.js';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { LOAN_EXAMPLE } from '../src/loan/schema.js';
import { recordProblem } from '../src/loan/validate.js';
import { LogStream } from '../src/log-stream.js';
import { RequestLines } from '../src/request-log.js';
import type { LoanRecord } from '../src/runtime/index.js';
import { requestIdGenerator } from '../src/security/request-id.js';
import { boundedValidatorCompiler } from '../src/security/validator.js';

const args = process.argv.slice(2);
const at = args.indexOf('--n');
const N = at >= 0 ? Number(args[at + 1]) : 100_000;

const config = loadConfig({ ...process.env, LOG_LEVEL: 'info' });
const devNull = () => LogStream.toFd(openSync('/dev/null', 'w'));
const appStream = devNull();
const app = buildApp(config, { logStream: appStream });
await app.ready();
const model = app.models.get('xgboost');
if (!model) throw new Error('no xgboost model');

const body = JSON.stringify(LOAN_EXAMPLE);
const loan = JSON.parse(body) as LoanRecord;
const validate = boundedValidatorCompiler()({ schema: predictBody(config.maxBatch) });
const row = model.encode(loan);
const score = model.score(loan);
const answer = {
  model: model.name,
  version: model.version,
  probability_of_default: score.probability,
  above_cutoff: score.probability >= model.decisionThreshold,
  cutoff: model.decisionThreshold,
  cutoff_source: 'model',
  log_odds: score.margin,
  loan_sequence_number: String(loan.loan_sequence_number),
};
const serialize = predictSerializer();
const union = fastJson(SingleResult);
const logger = pino({ level: 'info' }, devNull());
// Request lines as the server keeps them (src/request-log.ts), on a logger of their own.
const linesStream = devNull();
const linesLogger = pino({ level: 'info' }, linesStream);
const requestLines = RequestLines.attach(linesLogger, linesStream);
const nextId = requestIdGenerator();
const req = { headers: {} } as IncomingMessage;
const metrics = app.predictionMetrics;
const probability = [score.probability];
const headers: Record<string, string> = {};
const headerSet = [
  ['content-security-policy', "default-src 'none';frame-ancestors 'none'"],
  ['cross-origin-resource-policy', 'same-origin'],
  ['referrer-policy', 'no-referrer'],
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
  ['x-content-type-options', 'nosniff'],
] as const;

let sink = 0;
const pieces: [string, () => void][] = [
  [
    'JSON body parse (secure-json-parse, as the service)',
    () => {
      sink += secureJson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' }) ? 1 : 0;
    },
  ],
  [
    'JSON.parse alone',
    () => {
      sink += JSON.parse(body) ? 1 : 0;
    },
  ],
  [
    'Ajv validation of the body (the /predict schema)',
    () => {
      sink += validate(loan) ? 1 : 0;
    },
  ],
  [
    'loan record rules (src/loan/validate.ts)',
    () => {
      sink += recordProblem(loan) === undefined ? 1 : 0;
    },
  ],
  [
    'encoding the loan (a new row)',
    () => {
      sink += model.encode(loan).length;
    },
  ],
  [
    'XGBoost evaluation of the encoded row',
    () => {
      sink += model.evaluator.margin(row as Float32Array, 0);
    },
  ],
  [
    'scoring (encoding + evaluation, the serving path)',
    () => {
      sink += model.score(loan).margin;
    },
  ],
  [
    'serialising the answer (predictSerializer)',
    () => {
      sink += serialize(answer).length;
    },
  ],
  [
    'serialising the answer (compiled SingleResult alone)',
    () => {
      sink += union(answer).length;
    },
  ],
  [
    'request log line: pino child per request + info line',
    () => {
      logger
        .child({ reqId: 'req-1' }, {})
        .info(
          { method: 'POST', url: '/predict?model=xgboost', statusCode: 200, responseTime: 1.234 },
          'request completed',
        );
    },
  ],
  [
    'request log line as the server writes it: child logger, kept, formatted 32 at a time (src/request-log.ts)',
    () => {
      requestLines.add(linesLogger.child({ reqId: 'req-1' }, {}), 'POST', '/predict?model=xgboost', 200, 1.234);
    },
  ],
  [
    '  of which the child logger (Fastify makes one per request)',
    () => {
      sink += logger.child({ reqId: 'req-1' }, {}) ? 1 : 0;
    },
  ],
  [
    'model metrics (latency, count, PD histogram)',
    () => {
      metrics.observe(model, 0.00001, probability);
    },
  ],
  [
    'request id generator',
    () => {
      sink += nextId(req).length;
    },
  ],
  [
    'five security headers set on a headers object',
    () => {
      for (const [k, v] of headerSet) headers[k.toLowerCase()] = v;
    },
  ],
];

const best = new Map<string, number>();
for (let round = 0; round < 3; round++) {
  for (const [name, f] of pieces) {
    for (let i = 0; i < 2000; i++) f();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) f();
    const ns = Number(process.hrtime.bigint() - t0) / N;
    best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, ns));
  }
}
console.log(
  `\nPieces of a single-loan POST /predict in a tight loop, ${N} calls × 3 rounds, fastest round (${new Date().toISOString().slice(0, 10)}, Node ${process.version})\n`,
);
console.log('| piece | µs a call |');
console.log('|---|---:|');
for (const [name] of pieces) console.log(`| ${name} | ${((best.get(name) as number) / 1000).toFixed(2)} |`);
await app.close();
if (sink === 42) console.log('');
