/**
 * Statistics for backtests and drift (issue 23): pure functions and streaming accumulators, no HTTP.
 * docs/VALIDATION.md explains each statistic, its interpretation and its thresholds.
 */

export * from './backtest.js';
export * from './baseline.js';
export * from './calibration.js';
export * from './discrimination.js';
export * from './drift.js';
export * from './problems.js';
export * from './sample.js';
export * from './special.js';
