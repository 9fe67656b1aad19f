/**
 * Pool (loan-tape) scoring, without HTTP: read a tape (CSV, Freddie Mac's origination layout or
 * JSON) as a stream, validate every row against the loan record, score in chunks with one model and
 * aggregate the pool figures as the rows go by. Used by POST /pools/score and by src/cli/score.ts.
 *
 *   const tape = new TapeScorer({ model, lgd: 0.35, onError: 'fail', maxRows: 2e6, format: 'auto' });
 *   await feed(createReadStream('tape.csv'), (chunk) => tape.push(chunk));
 *   const answer = poolAnswer(model, 0.35, tape.end());
 */
export type { BandFigures } from './aggregate.js';
export { type Band, DTI_BANDS, FICO_BANDS, LTV_BANDS, PD_BANDS } from './bands.js';
export { parseNumber } from './cells.js';
export { FREDDIE_POSITIONS } from './delimited.js';
export { locate, TapeError, type TapeFormat } from './errors.js';
export { GROUP_RECORDS } from './groups.js';
export { MAX_SCENARIO_BYTES } from './json.js';
export {
  answerWithResults,
  csvCell,
  type PoolAnswer,
  poolAnswer,
  REASON_COLUMNS,
  RESULT_COLUMNS,
  RESULT_HEADER,
  ResultBuffer,
  resultHeader,
  resultLines,
} from './output.js';
export { poolReport } from './report.js';
export type { OnError, ScoredBatch } from './scorer.js';
export { feed, StreamAbortedError } from './stream.js';
export { type TapeOptions, type TapeResult, TapeScorer } from './tape.js';
export { TapeRun, type TapeRunOptions, TapeThreads, type TapeThreadsOptions } from './threads.js';

/**
 * Default loss given default: 35 % of the balance. Realised loss severities on defaulted GSE
 * single-family loans have mostly run between about 30 % and 45 % (higher for the 2006–2008 crisis
 * vintages, lower with mortgage insurance and in rising markets); 35 % is a middle-of-the-road
 * figure for a prime conforming pool. Pass `lgd` for a stressed or pool-specific view.
 */
export const DEFAULT_LGD = 0.35;
export {
  type BacktestAnswer,
  type BacktestResult,
  BacktestTape,
  type BacktestTapeOptions,
  BY_DIMENSIONS,
  backtestAnswer,
  backtestBandCounts,
  figureOf,
  OUTCOME_COLUMN,
} from './backtest.js';
export { type BacktestKnobs, type BacktestSettings, backtestSettings, tapeOptionsOf } from './backtest-query.js';
export {
  monthIndex,
  type OutcomeCategory,
  type PerformanceCounts,
  PerformanceOutcomes,
  WINDOW_MONTHS,
} from './performance.js';
